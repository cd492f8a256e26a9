"""snap_to_edges: boundaries move onto the image's edges, and no farther than the band."""
import numpy as np
import pytest
from scipy import ndimage as ndi

from skdynaguide.metrics import boundary_fscore, bsds_best_overlap
from skdynaguide.output.snapping import colour_gradient, redraw_boundaries, snap_to_edges


def step_image(height=20, width=30, edge=15, noise=0.0, seed=0):
    image = np.full((height, width, 3), 60.0)
    image[:, edge:] = (200, 150, 40)
    image += np.random.default_rng(seed).normal(0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def columns(height, width, edge):
    labels = np.zeros((height, width), dtype=np.int64)
    labels[:, edge:] = 1
    return labels


@pytest.mark.parametrize("offset", [-3, -1, 1, 3])
def test_a_displaced_boundary_returns_to_the_edge(offset):
    image = step_image(noise=6)
    snapped = snap_to_edges(image, columns(20, 30, 15 + offset), band=3)
    np.testing.assert_array_equal(snapped, columns(20, 30, 15))


def test_a_boundary_moves_no_farther_than_the_band():
    image = step_image()
    labels = columns(20, 30, 22)  # 7 px right of the edge, band 3
    snapped = snap_to_edges(image, labels, band=3)
    moved = snapped != labels
    assert moved.any()
    assert (np.flatnonzero(moved.any(axis=0)) >= 22 - 3).all()


def test_a_coarse_grid_mask_is_sharpened_on_a_noisy_image():
    rows, cols = np.mgrid[:96, :128]
    truth = ((rows - 48) ** 2 + (cols - 60) ** 2 < 30 ** 2).astype(np.int64)
    rng = np.random.default_rng(1)
    image = np.where(truth[..., None] == 1, (190, 70, 60), (80, 120, 90)).astype(float)
    image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    small = truth[4::8, 4::8]
    guide = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    snapped = snap_to_edges(image, guide, band=4)
    assert boundary_fscore(truth, snapped, tolerance=1) > boundary_fscore(truth, guide,
                                                                          tolerance=1) + 0.3
    assert bsds_best_overlap([truth], snapped)["all"] > bsds_best_overlap([truth], guide)["all"]


def test_label_values_and_thin_segments_are_kept():
    image = step_image()
    labels = np.full((20, 30), 7, dtype=np.int32)
    labels[:, 15:] = 42
    labels[9:11, 3:8] = -5  # a 2-px-thin segment: no pixel outside a 3-px band
    before = labels.copy()
    snapped = snap_to_edges(image, labels, band=3)
    np.testing.assert_array_equal(labels, before)  # the input is not modified
    assert snapped.dtype == np.int64
    assert set(np.unique(snapped)) == {-5, 7, 42}
    assert (snapped[labels == -5] == -5).all()


def test_band_zero_and_one_label_change_nothing():
    image = step_image(noise=10)
    labels = columns(20, 30, 18)
    np.testing.assert_array_equal(snap_to_edges(image, labels, band=0), labels)
    np.testing.assert_array_equal(snap_to_edges(image, np.zeros((20, 30), int), band=5), 0)


def test_classes_in_several_places_snap_in_each():
    image = np.full((16, 40, 3), 50, dtype=np.uint8)
    image[:, 10:20] = image[:, 30:] = 220
    truth = np.zeros((16, 40), dtype=np.int64)
    truth[:, 10:20] = truth[:, 30:] = 1
    labels = np.zeros_like(truth)
    labels[:, 12:22] = labels[:, 28:] = 1
    np.testing.assert_array_equal(snap_to_edges(image, labels, band=3, sigma=0), truth)


def test_the_gradient_peaks_on_the_edge_and_smoothing_spreads_it():
    image = step_image()
    sharp, smooth = colour_gradient(image, sigma=0), colour_gradient(image, sigma=2)
    assert set(sharp.argmax(axis=1)) <= {14, 15}
    assert (sharp[:, :12] == 0).all() and (smooth[:, 11:14] > 0).all()
    assert ndi.maximum_filter(smooth, 3).max() < sharp.max()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(band=-1), ValueError, "band"),
    (dict(band=2.5), TypeError, "band"),
    (dict(band=True), TypeError, "band"),
    (dict(band=2, sigma=-1.0), ValueError, "sigma"),
    (dict(band=2, sigma="wide"), TypeError, "sigma"),
    (dict(band=2, labels=np.zeros((4, 4), int)), ValueError, "shape"),
    (dict(band=2, labels=np.zeros((20, 30), bool)), TypeError, "integers"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    kwargs.setdefault("labels", columns(20, 30, 15))
    with pytest.raises(error, match=match):
        snap_to_edges(step_image(), **kwargs)


def test_redrawn_boundaries_are_the_guides_snapped_grouped_by_the_segments():
    image = np.full((12, 36, 3), 40, dtype=np.uint8)
    image[:, 10:] = 230  # edge between columns 9 and 10
    guide = np.repeat([[0] * 12 + [1] * 12 + [2] * 12], 12, axis=0)  # 2 px off the edge
    segments = np.repeat([[5] * 11 + [9] * 25], 12, axis=0)  # merged 1 and 2, 1 px off
    redrawn = redraw_boundaries(image, segments, guide, band=3, sigma=0)
    expected = np.repeat([[5] * 10 + [9] * 26], 12, axis=0)
    np.testing.assert_array_equal(redrawn, expected)
    # a boundary of the segments that the guide does not draw is dropped
    split = segments.copy()
    split[:, 32:] = 4  # a minority of the guide's last region
    assert set(np.unique(redraw_boundaries(image, split, guide, band=3))) == {5, 9}


def test_redraw_refuses_maps_of_another_shape():
    image = step_image()
    with pytest.raises(ValueError, match="guide has shape"):
        redraw_boundaries(image, columns(20, 30, 15), np.zeros((20, 29), int), band=2)
    with pytest.raises(ValueError, match="segments has shape"):
        redraw_boundaries(image, np.zeros((19, 30), int), columns(20, 30, 15), band=2)


def three_bands():
    """Black | white | light grey columns; a guide of three regions 2 px off the edges."""
    image = np.zeros((12, 36, 3), dtype=np.uint8)
    image[:, 12:] = 255
    image[:, 24:] = 215  # a weak edge between columns 23 and 24, a strong one at 11|12
    guide = np.repeat([[0] * 14 + [1] * 12 + [2] * 10], 12, axis=0)
    return image, guide


def test_keep_edges_keeps_strong_guide_boundaries_that_the_segments_merge():
    image, guide = three_bands()
    one_segment = np.full(guide.shape, 7)
    kept = redraw_boundaries(image, one_segment, guide, band=3, sigma=0, keep_edges=0.95)
    # the strong edge stays (snapped onto it), the weak one is merged away
    np.testing.assert_array_equal(kept, np.repeat([[0] * 12 + [1] * 24], 12, axis=0))
    # without keep_edges the segments merge everything, and their values are kept
    merged = redraw_boundaries(image, one_segment, guide, band=3, sigma=0)
    np.testing.assert_array_equal(merged, one_segment)


def test_keep_edges_never_merges_what_the_segments_separate():
    image, guide = three_bands()
    segments = np.repeat([[1] * 20 + [2] * 16], 12, axis=0)  # split the white region
    kept = redraw_boundaries(image, segments, guide, band=3, sigma=0, keep_edges=0.9)
    assert len(np.unique(kept)) == 3  # every guide region stays apart
    lenient = redraw_boundaries(image, segments, guide, band=3, sigma=0, keep_edges=1.0)
    np.testing.assert_array_equal(lenient, kept)  # no boundary reaches the maximum


def test_keep_edges_leaves_the_inputs_unchanged():
    image, guide = three_bands()
    segments = np.full(guide.shape, 7)
    copies = image.copy(), guide.copy(), segments.copy()
    redraw_boundaries(image, segments, guide, band=2, keep_edges=0.5)
    for before, after in zip(copies, (image, guide, segments)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("keep_edges, error", [
    (0.0, ValueError), (1.5, ValueError), (-0.1, ValueError), (True, TypeError),
    ("0.9", TypeError),
])
def test_bad_keep_edges_is_refused(keep_edges, error):
    image, guide = three_bands()
    with pytest.raises(error, match="keep_edges"):
        redraw_boundaries(image, guide, guide, band=2, keep_edges=keep_edges)


def test_a_boundary_without_any_colour_change_is_no_edge_to_keep():
    image = np.full((6, 8, 3), 90, dtype=np.uint8)  # flat: every quantile of the gradient is 0
    guide = np.repeat([[0] * 4 + [1] * 4], 6, axis=0)
    merged = redraw_boundaries(image, np.zeros((6, 8), int), guide, band=1, keep_edges=0.9)
    np.testing.assert_array_equal(merged, np.zeros((6, 8), int))
