"""The benchmark harness, end to end on a tiny synthetic dataset in BSD500 format."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import make_quadrants

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_bsds.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_bsds", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data_root(tmp_path):
    base = tmp_path / "bsds500" / "val"
    (base / "images").mkdir(parents=True)
    (base / "gt").mkdir()
    for k, (h, w) in enumerate([(24, 32), (32, 24)]):
        image, truth = make_quadrants(h, w)
        Image.fromarray(image).save(base / "images" / f"{k}.jpg", quality=95)
        coarse = (truth >= 2).astype(np.int64)
        np.savez(base / "gt" / f"{k}.npz", seg=np.stack([truth, coarse]))
    return tmp_path


def test_bench_prints_the_table_with_seeds_csv_and_figure(bench, data_root, tmp_path, capsys):
    csv, png = tmp_path / "rows.csv", tmp_path / "grid.png"
    bench.main(["--data-root", str(data_root), "--methods", "felzenszwalb,kmeans",
                "--variant", "tiny:n_features=8,n_clusters=6,max_iter=3",
                "--seeds", "0,1", "--csv", str(csv), "--figure", str(png)])
    out = capsys.readouterr().out
    assert "2 images, seeds [0, 1]" in out
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in lines] == ["| method", "| felzenszwalb",
                                                       "| kmeans", "| tiny"]
    assert " ± " in lines[-1]
    assert csv.read_text().count("\n") == 4  # header and three rows
    assert png.stat().st_size > 0


def test_bench_rejects_unknown_methods(bench, data_root):
    with pytest.raises(SystemExit):
        bench.main(["--data-root", str(data_root), "--methods", "nope"])


def test_bench_has_the_fcm_rows(bench, data_root, capsys):
    bench.main(["--data-root", str(data_root), "--methods", "fcm,dynaguide+fcm",
                "--max-iter", "3"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in lines] == ["| method", "| fcm", "| dynaguide+fcm"]


def test_bench_start_and_limit_pick_images_in_id_order(bench, data_root):
    assert [row[0] for row in bench.load_split(data_root, "val", 1, start=1)] == ["1"]
    assert [row[0] for row in bench.load_split(data_root, "val", start=1)] == ["1"]
    with pytest.raises(SystemExit):
        bench.main(["--data-root", str(data_root), "--methods", "kmeans", "--start", "-1"])


@pytest.mark.slow  # times every rung of the benchmark ladder
def test_speed_ladder_measures_each_kept_change(data_root, capsys):
    spec = importlib.util.spec_from_file_location("bench_speed", BENCH.with_name("bench_speed.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.ladder(dict(data_root=str(data_root), split="val", limit=1))
    out = capsys.readouterr().out
    assert [row["name"] for row in rows] == [
        "paper preset, NCHW layout", "+ channels-last", "+ train at 25k px, predict full size",
        "+ 100 steps (= the default)"]
    assert all(row["step"] > 0 and row["image"] > 0 for row in rows)
    assert out.count("\n| ") == 5  # the header and four rungs


@pytest.fixture(scope="module")
def bench_refine():
    path = BENCH.with_name("bench_refine.py")
    spec = importlib.util.spec_from_file_location("bench_refine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refine_bench_scores_guides_refinements_and_other_minimum_sizes(
        bench_refine, data_root, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    bench_refine.main(["--data-root", str(data_root), "--guides", "oracle8,felzenszwalb",
                       "--variant", "tiny:n_features=8,n_clusters=6,max_iter=3",
                       "--min-sizes", "0,20", "--snaps", "1", "--redraw", "old:keep_edges=None",
                       "--per-image", str(rows)])
    out = capsys.readouterr().out
    table, paired = out.split("Paired per image")
    methods = [line.split(" | ")[1] for line in table.splitlines() if line.startswith("| o")]
    assert methods == ["guide alone", "tiny", "tiny snap=1", "tiny / old", "guide alone snap=1",
                       "guide alone / old", "guide alone @ 0", "tiny @ 0", "guide alone @ 20",
                       "tiny @ 20"]
    pairs = [line.split(" | ")[1] for line in paired.splitlines() if line.startswith("| o")]
    assert pairs == ["tiny", "tiny snap=1", "tiny / old", "guide alone snap=1",
                     "guide alone / old", "tiny @ 0", "tiny @ 20"]
    assert rows.read_text().count("\n") == 1 + 2 * 2 * 10  # header, 2 guides x 2 images x 10
    assert bench_refine.parse_min_sizes("0, 0.5,20") == [0, 0.5, 20]
    with pytest.raises(ValueError, match="fraction"):
        bench_refine.parse_min_sizes("1.5")
    assert bench_refine.baseline_of("tiny @ 20") == "guide alone @ 20"
    assert bench_refine.parse_snaps("0, 3") == [0, 3]
    with pytest.raises(ValueError, match="params among"):
        bench_refine.parse_redraw("old:n_features=3")
    with pytest.raises(ValueError, match="whole number"):
        bench_refine.parse_snaps("1.5")

    # paired.py reads these rows: one guide's methods paired image by image
    spec = importlib.util.spec_from_file_location("paired", BENCH.with_name("paired.py"))
    paired_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(paired_module)
    paired_module.main([str(rows), "--guide", "oracle8", "--pairs", "tiny-guide alone"])
    header, _, line = capsys.readouterr().out.strip().splitlines()
    assert "Mean Δ" in header and "BF F Δ" in header
    assert line.startswith("| tiny − guide alone | 2 | ")
    with pytest.raises(SystemExit, match="no rows of guide"):
        paired_module.main([str(rows), "--guide", "oracle3", "--pairs", "tiny-guide alone"])


def test_grouping_bench_scores_pieces_and_the_annotators_grouping(data_root, capsys):
    spec = importlib.util.spec_from_file_location("bench_grouping",
                                                  BENCH.with_name("bench_grouping.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--data-root", str(data_root), "--guides", "felzenszwalb,oracle4"])
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()
            if line.startswith("| f") or line.startswith("| o")]
    assert [(r[0][2:], r[1]) for r in rows] == [
        (g, name) for g in ("felzenszwalb", "oracle4")
        for name in ("pieces", "pieces, min_size", "annotator's grouping")]
    for first in (0, 3):  # grouping pieces the annotator's way never lowers the score here
        pieces, grouped = float(rows[first][5]), float(rows[first + 2][5])
        assert 0 < pieces <= grouped <= 1
    # an annotation's own segments, as pieces, are grouped back into it exactly
    truth = np.repeat([[0, 0, 1, 1, 2, 2]], 3, axis=0)
    pieces = np.repeat([[0, 1, 2, 3, 4, 5]], 3, axis=0)
    np.testing.assert_array_equal(module.annotator_grouping(pieces, truth), truth)
    with pytest.raises(SystemExit):
        module.main(["--data-root", str(data_root), "--snap", "-1"])


def test_bench_hierarchy_prints_cuts_with_and_without_the_network(data_root, capsys):
    path = BENCH.parent / "bench_hierarchy.py"
    spec = importlib.util.spec_from_file_location("bench_hierarchy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--data-root", str(data_root), "--thresholds", "0.2",
                 "--network-weights", "0,0.25"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| map | network | cut | Mean | Covering")
    rows = [line.split(" | ")[:3] for line in lines[1:]]
    assert rows == [["| felzenszwalb(300)", "", ""],
                    ["| gradient_weight=0.25", "network_weight=0", "threshold=0.2"],
                    ["| gradient_weight=0.25", "network_weight=0.25", "threshold=0.2"]]
