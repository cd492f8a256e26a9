"""Boundary F-measure (BSDS-style) on hand-made maps whose answer is computed by hand."""
import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV
from skimage.segmentation import find_boundaries

from skdynaguide.metrics import (
    boundary_fscore,
    boundary_map,
    boundary_precision_recall_fscore,
    bsds_boundary,
)
from skdynaguide.metrics.model_selection import TransductiveSplit
from skdynaguide.metrics.scoring import SCORER_NAMES, boundary_score, get_scorer


def _cut(cut, shape=(10, 20)):
    """Label 0 left of column ``cut``, label 1 from it on: boundary in column ``cut - 1``."""
    labels = np.zeros(shape, dtype=np.int64)
    labels[:, cut:] = 1
    return labels


def _cut_and_split():
    """``_cut(5)`` with its right part split between rows 6 and 7 (label 2 below).

    Boundary: column 4 (10 pixels) and row 6 over columns 5..19 (15 pixels), 25 in all.
    Within 2 px of column 4: the whole column and (6, 5), (6, 6); the other 13 are 3 to 15
    pixels away.
    """
    labels = _cut(5)
    labels[7:, 5:] = 2
    return labels


def test_boundary_map_is_one_pixel_wide_and_independent_of_label_ids():
    expected = np.zeros((10, 20), dtype=bool)
    expected[:, 4] = True
    assert np.array_equal(boundary_map(_cut(5)), expected)
    assert np.array_equal(boundary_map(7 - 3 * _cut(5)), expected)
    assert boundary_map(_cut_and_split()).sum() == 25
    assert not boundary_map(np.zeros((3, 4), dtype=int)).any()


@pytest.mark.parametrize("seed", range(5))
def test_boundary_map_is_find_boundaries_subpixel_at_pixel_resolution(seed):
    labels = np.random.default_rng(seed).integers(0, 3, size=(7, 9))
    cracks = find_boundaries(labels, mode="subpixel")
    expected = np.zeros(labels.shape, dtype=bool)
    expected[:, :-1] |= cracks[::2, 1::2]  # the crack right of each pixel
    expected[:-1, :] |= cracks[1::2, ::2]  # the crack below it
    assert np.array_equal(boundary_map(labels), expected)
    # and it is the upper / left half of the two-pixel "thick" boundary
    assert not (boundary_map(labels) & ~find_boundaries(labels, mode="thick")).any()


def test_identical_maps_score_one_even_at_zero_tolerance_and_permuted_ids():
    truth = _cut_and_split()
    for pred in (truth, 5 - truth):
        assert boundary_precision_recall_fscore(truth, pred, tolerance=0) == (1.0, 1.0, 1.0)
        assert boundary_precision_recall_fscore(truth, pred) == (1.0, 1.0, 1.0)


def test_a_boundary_one_pixel_off_counts_within_the_tolerance_only():
    truth, pred = _cut(5), _cut(6)
    assert boundary_precision_recall_fscore(truth, pred, tolerance=2) == (1.0, 1.0, 1.0)
    assert boundary_precision_recall_fscore(truth, pred, tolerance=1) == (1.0, 1.0, 1.0)
    assert boundary_precision_recall_fscore(truth, pred, tolerance=0.5) == (0.0, 0.0, 0.0)
    assert boundary_fscore(truth, pred, tolerance=0) == 0.0


def test_a_boundary_five_pixels_off_is_missed_at_two_and_found_at_five():
    truth, pred = _cut(5), _cut(10)
    assert boundary_precision_recall_fscore(truth, pred) == (0.0, 0.0, 0.0)
    assert boundary_fscore(truth, pred, tolerance=4.9) == 0.0
    assert boundary_fscore(truth, pred, tolerance=5) == 1.0  # the tolerance is inclusive


def test_a_diagonal_offset_is_a_euclidean_distance():
    # a one-pixel segment at (2, 2): boundary pixels (1, 2) and (2, 1) above / left of it,
    # and (2, 2) itself (it differs from its right and lower neighbours)
    truth = np.zeros((6, 6), dtype=int)
    truth[2, 2] = 1
    pred = np.zeros((6, 6), dtype=int)
    pred[3, 3] = 1  # the same shape one pixel down and right: (2, 3), (3, 2), (3, 3)
    # predicted to true: 1, 1, sqrt(2); true to predicted: sqrt(2), sqrt(2), 1
    precision, recall, f = boundary_precision_recall_fscore(truth, pred, tolerance=1)
    assert (precision, recall) == (2 / 3, 1 / 3)
    assert f == pytest.approx(2 * (2 / 9) / (2 / 3 + 1 / 3))
    assert boundary_fscore(truth, pred, tolerance=np.sqrt(2)) == 1.0
    assert boundary_fscore(truth, pred, tolerance=1.41) == pytest.approx(4 / 9)


def test_a_one_segment_prediction_finds_nothing():
    flat = np.zeros((10, 20), dtype=int)
    # no predicted boundary: no pixel is wrong (precision 1) and nothing is found
    assert boundary_precision_recall_fscore(_cut(5), flat) == (1.0, 0.0, 0.0)
    assert boundary_precision_recall_fscore([_cut(5), _cut_and_split()], flat) == (1.0, 0.0, 0.0)


def test_maps_without_boundaries():
    flat = np.zeros((4, 6), dtype=int)
    assert boundary_precision_recall_fscore(flat, flat + 3) == (1.0, 1.0, 1.0)
    # boundaries where the annotation has none: all wrong, and nothing was there to find
    assert boundary_precision_recall_fscore(flat, _cut(3, (4, 6))) == (0.0, 1.0, 0.0)


def test_spurious_boundaries_lower_precision_only():
    truth, pred = _cut(5), _cut_and_split()
    precision, recall, f = boundary_precision_recall_fscore(truth, pred)
    assert precision == 12 / 25 and recall == 1.0
    assert f == pytest.approx(2 * (12 / 25) / (1 + 12 / 25))  # 24/37
    assert boundary_precision_recall_fscore(truth, pred, tolerance=0)[:2] == (10 / 25, 1.0)
    # the other way round the missing line lowers recall only
    assert boundary_precision_recall_fscore(pred, truth)[:2] == (1.0, 12 / 25)


def test_recall_is_averaged_over_annotations_and_precision_uses_their_union():
    both = [_cut(5), _cut_and_split()]
    precision, recall, f = boundary_precision_recall_fscore(both, _cut(5))
    assert precision == 1.0
    assert recall == pytest.approx((1.0 + 12 / 25) / 2)  # 0.74
    assert f == pytest.approx(2 * 0.74 / 1.74)
    # a list, an (n, H, W) stack and a tuple are the same annotations
    assert boundary_precision_recall_fscore(np.stack(both), _cut(5)) == (precision, recall, f)
    assert boundary_precision_recall_fscore(tuple(both), _cut(5)) == (precision, recall, f)
    # a predicted boundary in only one annotation is correct: the spurious line of
    # _cut_and_split() against both is fully precise
    assert boundary_precision_recall_fscore(both, _cut_and_split())[0] == 1.0
    # nested lists are one map
    assert boundary_fscore([[0, 0, 1, 1]], [[0, 0, 1, 1]], tolerance=0) == 1.0


def test_dataset_scores_are_means_over_images():
    truths = [_cut(5), [_cut(5), _cut_and_split()]]
    preds = [_cut(10), _cut(5)]  # F 0, then F 2 * 0.74 / 1.74
    scores = bsds_boundary(truths, preds)
    assert scores["precision"] == pytest.approx((0.0 + 1.0) / 2)
    assert scores["recall"] == pytest.approx((0.0 + 0.74) / 2)
    assert scores["f"] == pytest.approx((0.0 + 2 * 0.74 / 1.74) / 2)
    # one image with several annotations
    one = bsds_boundary([_cut(5), _cut_and_split()], _cut(5))
    assert one["f"] == pytest.approx(2 * 0.74 / 1.74)
    # images of different sizes
    small = bsds_boundary([_cut(2, (3, 4)), _cut(5)], [_cut(2, (3, 4)), _cut(5)], tolerance=0)
    assert small == {"precision": 1.0, "recall": 1.0, "f": 1.0}
    with pytest.raises(ValueError, match="annotations for 2 images but 3 predictions"):
        bsds_boundary(truths, preds + [_cut(5)])


def test_input_errors():
    truth = _cut(5)
    with pytest.raises(ValueError, match=r"annotation 0 has shape \(10, 20\), expected \(10, 21\)"):
        boundary_fscore(truth, np.zeros((10, 21), dtype=int))
    with pytest.raises(ValueError, match="annotation 1 has shape"):
        boundary_fscore([truth, truth[:, :-1]], truth)
    with pytest.raises(ValueError, match="y_pred must be a 2-D"):
        boundary_fscore(truth, truth.ravel())
    with pytest.raises(ValueError, match="annotation 0 must be a 2-D"):
        boundary_fscore(truth[None, None], truth)
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        boundary_fscore(truth, truth, tolerance=-1)
    with pytest.raises(ValueError, match="tolerance must be finite"):
        boundary_fscore(truth, truth, tolerance=np.nan)
    with pytest.raises(TypeError, match="tolerance must be a number"):
        boundary_fscore(truth, truth, tolerance="2")
    for empty in ([], np.zeros((0, 10, 20), dtype=int)):
        with pytest.raises(ValueError, match="annotations is empty"):
            boundary_precision_recall_fscore(empty, truth)
    with pytest.raises(ValueError, match="annotations is empty"):
        bsds_boundary([], truth)
    with pytest.raises(TypeError, match="must hold integers"):
        boundary_map(truth.astype(bool))
    with pytest.raises(ValueError, match="which must be one of"):
        boundary_score([truth], [truth], which="f1")


def test_the_callers_arrays_are_not_modified():
    truths = [_cut(5), _cut_and_split()]
    pred = _cut(6)
    before = [t.copy() for t in truths], pred.copy()
    for array in truths + [pred]:
        array.setflags(write=False)  # a write would raise
    boundary_precision_recall_fscore(truths, pred)
    bsds_boundary([truths], [pred])
    boundary_map(pred)
    assert all(np.array_equal(a, b) for a, b in zip(truths, before[0]))
    assert np.array_equal(pred, before[1])


class _CutSegmenter(BaseEstimator):
    """Predicts, for every image, label 0 left of column ``cut`` and 1 from it on."""

    def __init__(self, cut=1):
        self.cut = cut

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return [_cut(self.cut, np.shape(image)[:2]) for image in X]


def test_named_scorers_call_predict_and_match_the_metric():
    assert {"boundary_f", "boundary_precision", "boundary_recall"} <= set(SCORER_NAMES)
    images = [np.zeros((10, 20, 3)), np.zeros((8, 12, 3))]
    truths = [[_cut(5), _cut_and_split()], _cut(5, (8, 12))]
    seg = _CutSegmenter(cut=5)
    expected = bsds_boundary(truths, seg.predict(images))
    for which in ("f", "precision", "recall"):
        assert get_scorer(f"boundary_{which}")(seg, images, truths) == expected[which]
    assert get_scorer("boundary_f")(seg, images, truths) == pytest.approx(
        (2 * 0.74 / 1.74 + 1.0) / 2)
    assert boundary_score(truths, seg.predict(images), which="recall") == expected["recall"]


def test_grid_search_picks_the_cut_on_the_true_boundary():
    images = [np.zeros((10, 20, 3)), np.zeros((10, 20, 3))]
    truths = [_cut(5), [_cut(5), _cut_and_split()]]
    cuts = [1, 5, 6, 12]
    search = GridSearchCV(_CutSegmenter(), {"cut": cuts}, cv=TransductiveSplit(),
                          scoring={"f": get_scorer("boundary_f"),
                                   "f0": make_scorer(boundary_score, tolerance=0)},
                          refit=False)
    search.fit(images, truths)
    f = search.cv_results_["mean_test_f"]
    f0 = search.cv_results_["mean_test_f0"]
    # cut 1 (boundary column 0) is 4 px from column 4: nothing matches
    assert f[0] == 0.0
    # cut 12 (column 11) misses column 4 but crosses the line in row 6 of _cut_and_split():
    # image 1 scores 0; image 2 has precision 5/10 (rows 4..8 of column 11), recall
    # (0 + 5/25) / 2 = 0.1 (row 6, columns 9..13), F = 2 * 0.05 / 0.6 = 1/6
    assert f[3] == pytest.approx((0.0 + 1 / 6) / 2)
    # cut 5 is exact: image 2 has recall (1 + 12/25) / 2 = 0.74
    assert f[1] == pytest.approx((1.0 + 2 * 0.74 / 1.74) / 2)
    # cut 6 (column 5) is within 1 px of column 4 and reaches one more pixel of row 6,
    # (6, 7): recall (1 + 13/25) / 2 = 0.76 on image 2
    assert f[2] == pytest.approx((1.0 + 2 * 0.76 / 1.76) / 2)
    # at zero tolerance cut 5 still has all of image 1 and recall (1 + 10/25) / 2 = 0.7 on
    # image 2; cut 6 only meets (6, 5): precision 1/10, recall (0 + 1/25) / 2, F 1/30
    assert f0[1] == pytest.approx((1.0 + 2 * 0.7 / 1.7) / 2)
    assert f0[2] == pytest.approx((0.0 + 1 / 30) / 2)
    assert cuts[int(np.argmax(f0))] == 5
