"""merge_small_segments: connected segments of a minimum size from a label map of clusters."""
import numpy as np
import pytest

from helpers import make_quadrants
from skdynaguide.metrics import relabel_connected
from skdynaguide.output.segments import merge_small_segments


def _checkerboard(block=5):
    """Two classes in four blocks: each class covers two diagonally opposite blocks."""
    labels = np.zeros((2 * block, 2 * block), dtype=np.int64)
    labels[:block, block:] = labels[block:, :block] = 1
    image = (labels * 255).astype(np.uint8)
    blocks = np.zeros_like(labels)
    blocks[:block, block:], blocks[block:, :block], blocks[block:, block:] = 1, 2, 3
    return image, labels, blocks


def _speckled_quadrants(seed, n_noise=40):
    """Four colour quadrants; the label map has isolated pixels carrying another class."""
    image, truth = make_quadrants(32, 32)
    labels = truth.copy()
    rng = np.random.default_rng(seed)
    # noise stays two pixels away from the quadrant borders and the image edge, so that a
    # wrong label never touches the quadrant of that label
    rows, cols = np.meshgrid(np.r_[2:14, 18:30], np.r_[2:14, 18:30], indexing="ij")
    pick = rng.choice(rows.size, n_noise, replace=False)
    r, c = rows.ravel()[pick], cols.ravel()[pick]
    labels[r, c] = (truth[r, c] + rng.integers(1, 4, n_noise)) % 4
    return image, labels, truth


def _same_partition(a, b):
    """True when two label maps split the pixels the same way, whatever the ids."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return pairs.shape[1] == len(np.unique(a)) == len(np.unique(b))


@pytest.mark.parametrize("min_size", [0, 1, 25])
def test_checkerboard_of_two_classes_gives_four_connected_segments(min_size):
    image, labels, blocks = _checkerboard()
    segments = merge_small_segments(image, labels, min_size)
    np.testing.assert_array_equal(segments, blocks)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("connectivity", [1, 2])
def test_speckle_is_merged_back_into_the_four_quadrants(seed, connectivity):
    image, labels, truth = _speckled_quadrants(seed)
    assert len(np.unique(relabel_connected(labels, connectivity=connectivity))) > 20
    segments = merge_small_segments(image, labels, 20, connectivity=connectivity)
    np.testing.assert_array_equal(segments, truth)  # quadrant k is numbered k in raster order


def test_float_grey_and_uint8_images_give_the_same_segments():
    image, labels, truth = _speckled_quadrants(0)
    from_uint8 = merge_small_segments(image, labels, 20)
    np.testing.assert_array_equal(merge_small_segments(image / 255.0, labels, 20), from_uint8)
    # grey levels that keep the four quadrants apart
    grey = np.select([truth == k for k in range(4)], [0.1, 0.4, 0.7, 1.0])
    np.testing.assert_array_equal(merge_small_segments(grey, labels, 20), truth)
    np.testing.assert_array_equal(merge_small_segments(grey[..., None], labels, 20), truth)


@pytest.mark.parametrize("blob_grey, joins", [(0.8, "right"), (0.2, "left")])
def test_small_region_joins_the_neighbour_of_closest_colour_not_the_biggest(blob_grey, joins):
    # big black region (200 px) | small blob (20 px) | smaller white region (80 px)
    image = np.zeros((10, 30))
    image[:, 20:22] = blob_grey
    image[:, 22:] = 1.0
    labels = np.zeros((10, 30), dtype=int)
    labels[:, 20:22], labels[:, 22:] = 1, 2
    segments = merge_small_segments(image, labels, 30)
    expected = np.zeros((10, 30), dtype=int)
    expected[:, 20 if joins == "right" else 22:] = 1
    np.testing.assert_array_equal(segments, expected)


def test_merged_region_size_is_updated_before_the_next_merge():
    # two neighbouring strips of similar colour, each below min_size, together above it:
    # the smaller joins the other, and the union is then large enough to stay apart
    image = np.zeros((10, 30))
    image[:, 25:27], image[:, 27:] = 0.9, 1.0
    labels = np.zeros((10, 30), dtype=int)
    labels[:, 25:27], labels[:, 27:] = 1, 2
    segments = merge_small_segments(image, labels, 25)
    expected = np.zeros((10, 30), dtype=int)
    expected[:, 25:] = 1
    np.testing.assert_array_equal(segments, expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("connectivity", [1, 2])
def test_segments_are_consecutive_connected_large_enough_unions_of_components(seed,
                                                                              connectivity):
    rng = np.random.default_rng(seed)
    image = rng.random((24, 31, 3))
    labels = rng.integers(0, 5, (24, 31)) * 7 - 3  # arbitrary, non-consecutive ids
    min_size = 15
    segments = merge_small_segments(image, labels, min_size, connectivity=connectivity)

    assert segments.dtype == np.int64 and segments.shape == labels.shape
    ids, sizes = np.unique(segments, return_counts=True)
    np.testing.assert_array_equal(ids, np.arange(len(ids)))
    assert len(ids) > 1 and sizes.min() >= min_size
    # every segment is connected, and every component of the labels lies in one segment
    assert _same_partition(relabel_connected(segments, connectivity=connectivity), segments)
    components = relabel_connected(labels, connectivity=connectivity)
    assert len(np.unique(np.stack([components.ravel(), segments.ravel()]), axis=1)[0]) == \
        components.max() + 1
    # the ids follow the raster order of each segment's first pixel
    _, first = np.unique(segments.ravel(), return_index=True)
    assert np.all(np.diff(first) > 0)


def test_min_size_of_zero_or_one_only_splits_into_connected_components():
    rng = np.random.default_rng(0)
    image = rng.random((12, 12))
    labels = rng.integers(0, 3, (12, 12))
    for connectivity in (1, 2):
        expected = relabel_connected(labels, connectivity=connectivity)
        for min_size in (0, 1):
            segments = merge_small_segments(image, labels, min_size, connectivity=connectivity)
            assert _same_partition(segments, expected)


def test_connectivity_one_and_two_differ_on_a_diagonal():
    labels = np.eye(5, dtype=int)  # a diagonal line of class 1 in a field of class 0
    image = labels.astype(float)
    four = merge_small_segments(image, labels, 1, connectivity=1)
    eight = merge_small_segments(image, labels, 1, connectivity=2)
    # 4-neighbourhood: five separate diagonal pixels, and the line cuts the field in two
    assert four.max() + 1 == 7
    # 8-neighbourhood: the line is one segment and the field is one around it
    assert eight.max() + 1 == 2
    np.testing.assert_array_equal(eight == eight[0, 0], labels == 1)
    # the same 5-pixel line is kept as a segment with min_size=5 only if it is connected
    assert merge_small_segments(image, labels, 5, connectivity=2).max() + 1 == 2
    assert len(np.unique(merge_small_segments(image, labels, 5, connectivity=1))) == 2
    merged_four = merge_small_segments(image, labels, 5, connectivity=1)
    assert not np.array_equal(merged_four == merged_four[0, 0], labels == 1)


def test_one_segment_and_min_size_above_the_image_area():
    image, labels, _ = _speckled_quadrants(0)
    np.testing.assert_array_equal(
        merge_small_segments(image, np.full((32, 32), 4), 20), np.zeros((32, 32)))
    np.testing.assert_array_equal(merge_small_segments(image, labels, 10_000),
                                  np.zeros((32, 32)))


def test_min_size_as_a_fraction_of_the_image_area():
    image, labels, truth = _speckled_quadrants(1)
    # 0.02 of 1024 pixels rounds up to 21
    np.testing.assert_array_equal(merge_small_segments(image, labels, 0.02),
                                  merge_small_segments(image, labels, 21))
    # half the image: the quadrants (256 px each) merge until every segment has 512 px
    halves = merge_small_segments(image, labels, 0.5)
    assert np.bincount(halves.ravel()).min() >= 512


def test_inputs_are_not_modified():
    image, labels, _ = _speckled_quadrants(2)
    labels = labels.astype(np.int32)
    image_copy, labels_copy = image.copy(), labels.copy()
    merge_small_segments(image, labels, 20)
    np.testing.assert_array_equal(image, image_copy)
    np.testing.assert_array_equal(labels, labels_copy)
    assert labels.dtype == np.int32


@pytest.mark.parametrize("labels, error, match", [
    (np.zeros((8, 8, 1), dtype=int), ValueError, r"2-D \(H, W\) label map"),
    (np.zeros((8, 9), dtype=int), ValueError, r"shape \(8, 9\), expected \(8, 8\)"),
    (np.full((8, 8), 0.5), ValueError, "whole numbers"),
    (np.full((8, 8), "a"), TypeError, "must hold integers"),
    (np.zeros((8, 8), dtype=bool), TypeError, "must hold integers"),
])
def test_bad_labels_are_rejected(labels, error, match):
    with pytest.raises(error, match=match):
        merge_small_segments(np.zeros((8, 8)), labels, 5)


@pytest.mark.parametrize("min_size, error, match", [
    (-1, ValueError, ">= 0 pixels"),
    (0.0, ValueError, r"must lie in \(0, 1\)"),
    (1.0, ValueError, r"pass a number of pixels as an int"),
    (20.0, ValueError, r"must lie in \(0, 1\)"),
    ("20", TypeError, r"int \(pixels\) or a float in \(0, 1\)"),
    (True, TypeError, "min_size must be an int"),
    (None, TypeError, "min_size must be an int"),
])
def test_bad_min_size_is_rejected(min_size, error, match):
    with pytest.raises(error, match=match):
        merge_small_segments(np.zeros((8, 8)), np.zeros((8, 8), dtype=int), min_size)


@pytest.mark.parametrize("connectivity", [0, 3, True, "1"])
def test_bad_connectivity_is_rejected(connectivity):
    with pytest.raises(ValueError, match="connectivity must be 1 .* or 2"):
        merge_small_segments(np.zeros((8, 8)), np.zeros((8, 8), dtype=int), 5,
                             connectivity=connectivity)


@pytest.mark.parametrize("image, match", [
    (np.zeros((8, 8, 4)), "4 channels"),
    (np.full((8, 8), 2.0), r"must lie in \[0, 1\]"),
    (np.full((8, 8), np.nan), "NaN"),
])
def test_bad_images_are_rejected(image, match):
    with pytest.raises(ValueError, match=match):
        merge_small_segments(image, np.zeros((8, 8), dtype=int), 5)
