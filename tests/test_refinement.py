"""What the method is for: refinement keeps its guide's regions and improves them.

Synthetic scenes whose right answer is known: noise, texture, and regions of one colour far
apart, which a colour-only network can only express as one colour class.
"""
import numpy as np
import pytest
import torch

from helpers import make_quadrants
from skdynaguide import DynaGuideSegmenter
from skdynaguide.training.batched import StackedDynaGuideNet
from skdynaguide.guidance import PrecomputedGuidance
from skdynaguide.metrics import boundary_fscore, boundary_map, bsds_best_overlap
from skdynaguide.output.segments import merge_small_segments, output_segments
from skdynaguide.output.snapping import snap_to_edges
from skdynaguide.training.network import DynaGuideNet
from skdynaguide.training import full_size_labels


def make_scene(height=96, width=128, seed=0):
    """A textured, noisy background, two discs of one colour far apart and a rectangle."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:height, :width]
    truth = np.zeros((height, width), dtype=np.int64)
    for label, (cy, cx) in ((1, (0.35, 0.2)), (2, (0.65, 0.8))):
        truth[(rows - cy * height) ** 2 + (cols - cx * width) ** 2 < (0.17 * height) ** 2] = label
    truth[int(0.1 * height):int(0.4 * height), int(0.45 * width):int(0.7 * width)] = 3
    colours = np.array([[90, 120, 70], [200, 60, 50], [200, 60, 50], [60, 70, 190]], float)
    image = colours[truth]
    image += 18 * np.sin(cols / 2.5)[..., None] * (truth == 0)[..., None]  # background texture
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), truth


def coarse(truth, step=8):
    """``truth`` seen on a grid of ``step`` pixels, repeated back up (a DiffSeg-like guide)."""
    small = truth[step // 2::step, step // 2::step]
    return np.repeat(np.repeat(small, step, axis=0), step, axis=1)[:truth.shape[0], :truth.shape[1]]


def test_noisy_four_quadrants_come_back_as_four_segments():
    image, truth = make_quadrants(64, 64)
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 8, image.shape), 0, 255)
    labels = DynaGuideSegmenter(random_state=0).fit_predict(noisy.astype(np.uint8))
    assert labels.max() + 1 == 4
    assert bsds_best_overlap([truth], labels)["all"] > 0.9


# The default regime is an image larger than the training budget (every photograph at the
# default max_pixels): trained shrunk, labelled at full size, boundaries sharpened. Trained
# at full size the network copies the guide's boundaries (which way it moves the few pixels
# it changes depends on the float summation order, i.e. the thread count): regions only.
@pytest.mark.parametrize("max_pixels, gain", [(3000, 0.05), (None, None)])
def test_refinement_sharpens_a_coarse_guide_without_losing_its_regions(max_pixels, gain):
    image, truth = make_scene()
    guide = coarse(truth)
    seg = DynaGuideSegmenter(guidance=PrecomputedGuidance(guide), max_pixels=max_pixels,
                             output="redraw",
                             random_state=0)
    labels = seg.fit_predict(image)
    region_guide = bsds_best_overlap([truth], guide)["all"]
    region_refined = bsds_best_overlap([truth], labels)["all"]
    boundary_guide = boundary_fscore(truth, guide, tolerance=1)
    boundary_refined = boundary_fscore(truth, labels, tolerance=1)
    assert region_refined >= region_guide - 0.01
    if gain is not None:
        assert boundary_refined >= boundary_guide + gain
    # the two discs share a colour but not a place: they stay two segments
    majority = [np.bincount(labels[truth == k]).argmax() for k in (1, 2)]
    assert majority[0] != majority[1]
    assert all((labels[truth == k] == m).mean() > 0.85 for k, m in zip((1, 2), majority))


def test_raw_clusters_are_kept_beside_the_segments():
    image, _ = make_scene(48, 64)
    seg = DynaGuideSegmenter(n_features=16, n_clusters=12, max_iter=10, min_size=0.05,
                             output="redraw",
                             random_state=0).fit(image)
    assert seg.clusters_.shape == seg.labels_.shape
    # every segment lies inside one cluster: segments split clusters or merge small pieces
    assert seg.n_labels_ == seg.labels_.max() + 1
    raw = DynaGuideSegmenter(n_features=16, n_clusters=12, max_iter=10, min_size=None,
                             output="redraw",
                             snap=None, random_state=0).fit(image)
    np.testing.assert_array_equal(raw.labels_, seg.clusters_)


def coarsely_guided_scene():
    """A synthetic scene, its coarse guide, and fast parameters of a segmenter guided by it."""
    image, truth = make_scene(48, 64)
    guide = coarse(truth)
    params = dict(guidance=PrecomputedGuidance(guide), output="redraw", boundaries=None,
                  n_features=16, n_clusters=12, max_iter=10, random_state=0)
    return image, guide, params


def test_output_boundaries_are_the_guides_snapped_unless_snap_is_off():
    image, guide, params = coarsely_guided_scene()
    seg = DynaGuideSegmenter(**params).fit(image)
    allowed = boundary_map(snap_to_edges(image, guide, seg.snap))
    assert not (boundary_map(seg.labels_) & ~allowed).any()
    raw = DynaGuideSegmenter(snap=None, **params).fit(image)
    np.testing.assert_array_equal(raw.clusters_, seg.clusters_)  # training is the same
    np.testing.assert_array_equal(raw.labels_,
                                  merge_small_segments(image, raw.clusters_, raw.min_size))


def test_keep_edges_changes_only_which_guide_regions_merge():
    image, guide, params = coarsely_guided_scene()
    kept = DynaGuideSegmenter(**params).fit(image)
    free = DynaGuideSegmenter(keep_edges=None, **params).fit(image)
    np.testing.assert_array_equal(kept.clusters_, free.clusters_)
    np.testing.assert_array_equal(
        kept.labels_, output_segments(image, kept.clusters_, guide, keep_edges=0.9))
    np.testing.assert_array_equal(
        free.labels_, output_segments(image, free.clusters_, guide, keep_edges=None))


def test_segments_respect_min_size():
    image, _ = make_scene(48, 64)
    labels = DynaGuideSegmenter(n_features=16, n_clusters=12, max_iter=10, min_size=60,
                                random_state=0).fit_predict(image)
    assert np.bincount(labels.ravel()).min() >= 60


def test_full_size_labels_in_strips_equal_one_pass():
    torch.manual_seed(0)
    net = DynaGuideNet(n_features=6, n_clusters=5, n_blocks=3, coordinates=True)
    image = np.random.default_rng(1).random((23, 17, 3), dtype=np.float32)
    net(torch.from_numpy(image.transpose(2, 0, 1))[None])  # some running statistics
    whole = full_size_labels(net, image)
    for budget in (1, 4 * 4 * 6 * 17 * 5):  # one row per strip; five rows per strip
        np.testing.assert_array_equal(full_size_labels(net, image, max_bytes=budget), whole)
    assert net.training  # the network's mode is restored


def test_stacked_network_with_coordinates_equals_its_members():
    torch.manual_seed(0)
    nets = [DynaGuideNet(n_features=6, n_clusters=4, coordinates=True) for _ in range(3)]
    stacked = StackedDynaGuideNet(nets)
    x = [torch.rand(1, 3, 9, 11) for _ in range(3)]
    out = stacked(torch.cat(x, dim=1))
    for b in range(3):
        torch.testing.assert_close(out[:, 4 * b:4 * b + 4], nets[b](x[b]), atol=1e-5, rtol=0)
    one = stacked.select([2])
    torch.testing.assert_close(one(x[2]), nets[2](x[2]), atol=1e-5, rtol=0)


def test_papers_network_is_reachable():
    seg = DynaGuideSegmenter.from_preset("dynaguide-paper")
    assert seg.coordinates is False and seg.min_size is None
    image, _ = make_scene(24, 32)
    labels = DynaGuideSegmenter(coordinates=False, final_resolution="training", min_size=None,
                                n_features=8, n_clusters=6, max_iter=3,
                                random_state=0).fit_predict(image)
    assert labels.shape == (24, 32)


@pytest.mark.parametrize("params, error, match", [
    (dict(min_size=-1), ValueError, "min_size"),
    (dict(min_size=1.5), ValueError, "min_size"),
    (dict(min_size="big"), TypeError, "min_size"),
    (dict(coordinates="yes"), ValueError, "coordinates"),
    (dict(final_resolution="half"), ValueError, "final_resolution"),
    (dict(snap=-1), ValueError, "snap"),
    (dict(snap=1.5), (TypeError, ValueError), "snap"),
    (dict(keep_edges=0.0), ValueError, "keep_edges"),
    (dict(keep_edges=1.5), ValueError, "keep_edges"),
    (dict(keep_edges="strong"), (TypeError, ValueError), "keep_edges"),
])
def test_bad_new_parameters_are_refused(params, error, match):
    with pytest.raises(error, match=match):
        DynaGuideSegmenter(**params).fit(np.zeros((8, 8, 3)))
