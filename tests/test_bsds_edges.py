"""The BSDS boundary benchmark on synthetic maps whose scores are known."""
import numpy as np
import pytest

from skdynaguide.metrics.bsds_edges import (boundary_pr_counts, bsds_ods_ois_ap, bsds_thresholds,
                                    match_boundaries, seg_to_boundaries)


def two_regions(shape=(60, 90), column=45):
    seg = np.zeros(shape, dtype=np.int32)
    seg[:, column:] = 1
    return seg


def test_seg_to_boundaries_is_one_pixel_on_the_left_of_a_vertical_step():
    b = seg_to_boundaries(two_regions())
    assert b.sum() == 60
    assert b[:, 44].all() and not b[:, 45].any()


def test_perfect_map_scores_one():
    seg = two_regions()
    prob = seg_to_boundaries(seg).astype(np.float64)
    s = bsds_ods_ois_ap([boundary_pr_counts(prob, [seg, seg], thresholds=9)[0]])
    assert s["ods"] == pytest.approx(1.0)
    assert s["ois"] == pytest.approx(1.0)


def test_a_segmentation_scores_one_against_itself_on_a_staircase_boundary():
    # seg2bmap marks two pixels at every step of a diagonal boundary; BSDS500's ground
    # truth (its groundTruth files' Boundaries) is that map thinned, so a thin prediction
    # of the same boundary matches all of it (un-thinned, recall would be about 0.5).
    rows, cols = np.mgrid[0:60, 0:90]
    seg = (cols > rows + 10).astype(np.int32)
    assert seg_to_boundaries(seg).sum() > 1.8 * 50  # the staircase corners
    counts, _ = boundary_pr_counts(seg, [seg])
    cnt_p, sum_p, cnt_r, sum_r = counts[0]
    assert cnt_p == sum_p and cnt_r == sum_r


def test_map_shifted_past_the_tolerance_scores_about_zero():
    seg = two_regions()
    tolerance = 0.0075 * np.hypot(*seg.shape)
    prob = np.roll(seg_to_boundaries(seg), int(tolerance) + 2, axis=1).astype(float)
    s = bsds_ods_ois_ap([boundary_pr_counts(prob, [seg], thresholds=9)[0]])
    assert s["ods"] < 0.05


def test_matching_is_one_to_one():
    gt = np.zeros((9, 9), bool)
    gt[4, 4] = True
    pred = np.zeros((9, 9), bool)
    pred[4, 3] = pred[4, 5] = True  # both within reach of the single ground-truth pixel
    mp, mg = match_boundaries(pred, gt, 2.0)
    assert mp.sum() == 1 and mg.sum() == 1


@pytest.mark.parametrize("seed", range(5))
def test_matching_has_maximum_cardinality(seed):
    # A greedy nearest-first matching falls short on these dense random maps; the count
    # must equal networkx's Hopcroft-Karp (networkx comes with scikit-image).
    from networkx import Graph
    from networkx.algorithms.bipartite import hopcroft_karp_matching

    rng = np.random.default_rng(seed)
    pred, gt = rng.random((2, 30, 30)) < 0.3
    mp, mg = match_boundaries(pred, gt, 2.5)
    assert mp.sum() == mg.sum()
    assert not (mp & ~pred).any() and not (mg & ~gt).any()
    pi, gi = np.argwhere(pred), np.argwhere(gt)
    close = np.argwhere(((pi[:, None] - gi[None]) ** 2).sum(-1) <= 2.5 ** 2)
    graph = Graph()
    graph.add_edges_from((("p", a), ("g", b)) for a, b in close.tolist())
    top = [("p", a) for a in np.unique(close[:, 0]).tolist()]
    assert mp.sum() == len(hopcroft_karp_matching(graph, top_nodes=top)) // 2


def test_ods_interpolates_between_thresholds_as_the_bsds_code():
    # (precision, recall) = (0.5, 1) at the first threshold and (1, 0.5) at the second:
    # both give F 2/3, the midpoint of the segment between them F 0.75.
    counts = np.array([[1, 2, 2, 2], [1, 1, 1, 2]])
    s = bsds_ods_ois_ap([counts], thresholds=[0.2, 0.4])
    assert s["ods"] == pytest.approx(0.75)
    assert s["ods_threshold"] == pytest.approx(0.3)
    assert s["ods_precision"] == pytest.approx(0.75) and s["ods_recall"] == pytest.approx(0.75)
    assert s["ois"] == pytest.approx(2 / 3)


def test_half_the_boundary_gives_recall_one_half():
    seg = two_regions()
    prob = seg_to_boundaries(seg).astype(float)
    prob[30:] = 0
    counts, _ = boundary_pr_counts(prob, [seg], thresholds=5, thin=False)
    s = bsds_ods_ois_ap([counts])
    assert s["ods_recall"] == pytest.approx(0.5)
    assert s["ods_precision"] == pytest.approx(1.0)


def test_segmentations_and_binary_maps_are_scored_at_one_threshold():
    seg = two_regions()
    counts, thresholds = boundary_pr_counts(seg, [seg])
    assert counts.shape == (1, 4) and counts[0, 0] == counts[0, 1] == counts[0, 2]
    counts_b, _ = boundary_pr_counts(seg_to_boundaries(seg), [seg])
    np.testing.assert_array_equal(counts, counts_b)


def test_inputs_are_not_modified():
    seg = two_regions()
    prob = np.random.default_rng(0).random(seg.shape)
    prob_copy, seg_copy = prob.copy(), seg.copy()
    boundary_pr_counts(prob, [seg], thresholds=3)
    np.testing.assert_array_equal(prob, prob_copy)
    np.testing.assert_array_equal(seg, seg_copy)


@pytest.mark.parametrize("prob, annotations, match", [
    (np.zeros((4, 4, 3)), [np.zeros((4, 4), int)], "2-D"),
    (np.full((4, 4), 2.0), [np.zeros((4, 4), int)], r"\[0, 1\]"),
    (np.full((4, 4), np.nan), [np.zeros((4, 4), int)], "NaN"),
    (np.zeros((4, 4)), [np.zeros((5, 4), int)], "annotation 0 has shape"),
    (np.zeros((4, 4)), [], "empty"),
])
def test_bad_input_raises_a_clear_value_error(prob, annotations, match):
    with pytest.raises(ValueError, match=match):
        boundary_pr_counts(prob, annotations, thresholds=3)


def test_bad_counts_and_thresholds_raise():
    with pytest.raises(ValueError, match="thresholds"):
        bsds_thresholds(0)
    with pytest.raises(ValueError, match="shape"):
        bsds_ods_ois_ap([np.zeros((3, 3))])
    with pytest.raises(ValueError, match="max_dist"):
        match_boundaries(np.zeros((3, 3), bool), np.zeros((3, 3), bool), -1)


def test_check_script_reads_the_bsds_bench_layout_and_compares(tmp_path, capsys):
    # The layout of BSR/bench/data: groundTruth/*.mat (cells of Segmentation/Boundaries
    # structs), png/*.png soft maps, test_2/ the MATLAB benchmark's output.
    import importlib.util
    from pathlib import Path

    from PIL import Image
    from scipy.io import savemat
    from skimage.morphology import thin

    rows, cols = np.mgrid[0:40, 0:60]
    seg = (cols > rows + 5).astype(np.uint16) + 1
    cells = np.empty((1, 2), dtype=object)
    for k in range(2):
        cells[0, k] = {"Segmentation": seg, "Boundaries": thin(seg_to_boundaries(seg))}
    for sub in ("groundTruth", "png", "test_2"):
        (tmp_path / sub).mkdir()
    savemat(tmp_path / "groundTruth" / "1.mat", {"groundTruth": cells})
    prob = (seg_to_boundaries(seg) * 255).astype(np.uint8)
    Image.fromarray(prob).save(tmp_path / "png" / "1.png")
    np.savetxt(tmp_path / "test_2" / "eval_bdry_thr.txt",
               [[t, 1.0, 1.0, 1.0] for t in bsds_thresholds(5)])
    np.savetxt(tmp_path / "test_2" / "eval_bdry.txt", [[1 / 6, 1, 1, 1, 1, 1, 1, 0.99]])

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "check_bsds_benchmark.py"
    spec = importlib.util.spec_from_file_location("check_bsds_benchmark", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--bench-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "equal thinned seg2bmap: 2/2" in out
    assert "ODS     1.0000     1.0000" in out
