import numpy as np
import pytest

from skdynaguide.metrics import (
    best_overlap_miou,
    bsds_best_overlap,
    contingency_matrix,
    hungarian_miou,
    pixel_accuracy,
    relabel_connected,
    segment_best_overlap,
)

TRUE = np.array([[0, 0, 1, 1],
                 [0, 0, 1, 1],
                 [2, 2, 2, 2]])


def test_perfect_prediction_under_any_relabelling():
    pred = np.choose(TRUE, [7, 3, 5])
    assert hungarian_miou(TRUE, pred) == 1.0
    assert pixel_accuracy(TRUE, pred) == 1.0
    assert best_overlap_miou(TRUE, pred) == 1.0


def test_hungarian_by_hand():
    pred = np.array([[0, 0, 0, 1],
                     [0, 0, 0, 1],
                     [2, 2, 2, 2]])
    # IoU: class0/pred0 = 4/6, class1/pred1 = 2/4, class2/pred2 = 1
    assert hungarian_miou(TRUE, pred) == pytest.approx((4 / 6 + 0.5 + 1) / 3)
    assert pixel_accuracy(TRUE, pred) == pytest.approx(10 / 12)


def test_unmatched_true_classes_count_zero():
    pred = np.zeros_like(TRUE)  # one predicted segment for three classes
    # best single match: class 2 (IoU 4/12) ; classes 0 and 1 unmatched
    assert hungarian_miou(TRUE, pred) == pytest.approx((4 / 12) / 3)
    assert pixel_accuracy(TRUE, pred) == pytest.approx(4 / 12)


def test_ignore_index_excludes_pixels_and_class():
    truth = TRUE.copy()
    truth[2] = 255
    pred = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1]])
    assert hungarian_miou(truth, pred, ignore_index=255) == 1.0
    assert hungarian_miou(truth, pred) < 1.0


def test_dataset_accumulated_differs_from_per_image():
    a_true, a_pred = np.array([[0, 1]]), np.array([[0, 1]])
    b_true, b_pred = np.array([[0, 1]]), np.array([[1, 0]])  # ids swapped in image b
    assert hungarian_miou([a_true, b_true], [a_pred, b_pred]) == 1.0
    assert hungarian_miou([a_true, b_true], [a_pred, b_pred], accumulate=True) == pytest.approx(1 / 3)
    assert pixel_accuracy([a_true, b_true], [a_pred, b_pred], accumulate=True) == 0.5


def test_contingency_matrix():
    counts, true_ids, pred_ids = contingency_matrix(TRUE, TRUE * 10)
    assert counts.tolist() == [[4, 0, 0], [0, 4, 0], [0, 0, 4]] and pred_ids.tolist() == [0, 10, 20]


def test_best_overlap_by_hand_and_pooled_over_images():
    pred = np.array([[0, 0, 0, 1],
                     [0, 0, 0, 1],
                     [0, 0, 0, 1]])
    # class0 (4 px) best: pred0 (9 px) 4/9 ; class1 (4 px): pred1 (3 px) inter 2 -> 2/5
    # class2 (4 px): pred0 inter 3 -> 3/10
    ious = segment_best_overlap(TRUE, pred)
    np.testing.assert_allclose(ious, [4 / 9, 2 / 5, 3 / 10])
    pooled = best_overlap_miou([TRUE, np.zeros((2, 2))], [pred, np.zeros((2, 2))])
    assert pooled == pytest.approx((4 / 9 + 2 / 5 + 3 / 10 + 1) / 4)


def test_bsds_all_fine_coarse_mean():
    fine = TRUE
    coarse = np.zeros_like(TRUE)
    pred = np.choose(TRUE, [0, 1, 2])
    scores = bsds_best_overlap([fine, coarse], pred)
    assert scores["fine"] == 1.0
    assert scores["coarse"] == 4 / 12  # the one big segment against its best piece
    assert scores["all"] == pytest.approx((3 * 1.0 + 4 / 12) / 4)
    assert scores["mean"] == pytest.approx((scores["all"] + 1.0 + 4 / 12) / 3)
    # a dataset: list of per-image annotation lists, pooled over images
    two = bsds_best_overlap([[fine, coarse], [coarse]], [pred, coarse])
    assert two["coarse"] == pytest.approx((4 / 12 + 1.0) / 2)


def test_connected_component_relabelling():
    labels = np.array([[0, 1, 0],
                       [0, 1, 0]])
    assert relabel_connected(labels).tolist() == [[0, 1, 2], [0, 1, 2]]
    diagonal = np.array([[0, 1], [1, 0]])
    assert relabel_connected(diagonal).max() + 1 == 4
    assert relabel_connected(diagonal, connectivity=2).max() + 1 == 2
    truth = np.array([[0, 1, 2], [0, 1, 2]])
    assert bsds_best_overlap([truth], labels)["all"] < 1.0
    assert bsds_best_overlap([truth], labels, relabel=True)["all"] == 1.0


def test_scores_lie_in_unit_interval_and_are_symmetric_under_swaps():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.integers(0, 4, (2, 6, 7))
        for score in (hungarian_miou, pixel_accuracy, best_overlap_miou):
            assert 0.0 <= score(a, b) <= 1.0
        if len(np.unique(a)) == len(np.unique(b)):  # same class count: IoU matching is symmetric
            assert hungarian_miou(a, b) == pytest.approx(hungarian_miou(b, a))
        perm = np.array([3, 0, 2, 1])[b]
        assert hungarian_miou(a, b) == pytest.approx(hungarian_miou(a, perm))
        assert best_overlap_miou(a, b) == pytest.approx(best_overlap_miou(a, perm))


def test_metric_input_errors():
    with pytest.raises(ValueError, match="shape"):
        hungarian_miou(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2 ground-truth maps but 1"):
        hungarian_miou([np.zeros((2, 2))] * 2, [np.zeros((2, 2))])
    with pytest.raises(ValueError, match="every pixel is ignored"):
        hungarian_miou(np.full((2, 2), 255), np.zeros((2, 2)), ignore_index=255)


def test_segmentation_covering_weighs_regions_by_area():
    from skdynaguide.metrics import segmentation_covering
    from skdynaguide.metrics.covering import covering_counts

    truth = np.zeros((10, 10), dtype=int)
    truth[:, 8:] = 1  # a large region (80 px) and a small one (20 px)
    perfect = truth + 7
    assert segmentation_covering([truth], perfect) == 1.0
    # the small region missed entirely (merged into the large one): the large region's
    # IoU is 80/100 and the small one's 20/100, weighted by 80 and 20 pixels
    merged = np.zeros((10, 10), dtype=int)
    assert covering_counts(truth, merged) == (80 * 0.8 + 20 * 0.2, 100)
    assert segmentation_covering([truth], merged) == pytest.approx(0.68)
    # pooled over annotations and images by pixels, not averaged per image
    two = segmentation_covering([[truth], [truth, truth]], [perfect, merged])
    assert two == pytest.approx((100 + 2 * 68) / 300)
    # two interleaved classes covered by one region: each IoU is 1/2
    stripes = np.tile([0, 1], (10, 5))
    assert segmentation_covering([stripes], np.zeros((10, 10), int)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="annotations for 1 images but 2 predictions"):
        segmentation_covering([[truth]], [truth, truth])


def test_covering_scorer_and_protocol():
    from skdynaguide.metrics._protocols import dataset_scores
    from skdynaguide.metrics.scoring import SCORER_NAMES, covering_score

    truth = np.repeat([[0, 0, 1, 1]], 2, axis=0)
    assert covering_score([truth], [truth + 3]) == 1.0
    assert {"covering", "covering_cc"} <= set(SCORER_NAMES)
    scores = dataset_scores("bsds", [[truth]], [truth], relabel=False, ignore_index=None)
    assert scores["covering"] == 1.0 and scores["mean"] == 1.0
