import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter, HuberContinuity, KMeansGuidance, evaluate
from skdynaguide.metrics.model_selection import TransductiveSplit
from skdynaguide.metrics.scoring import SCORER_NAMES, bsds_score, get_scorer, hungarian_score


def _dataset():
    a, ta = make_quadrants(16, 16)
    b, tb = make_quadrants(12, 20)
    return [a, b], [ta, tb]


def test_transductive_split_scores_every_image_and_trains_on_none():
    splits = list(TransductiveSplit(n_repeats=2).split(["a", "b", "c"]))
    assert len(splits) == 2 == TransductiveSplit(n_repeats=2).get_n_splits()
    for train, test in splits:
        assert train.size == 0 and test.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="n_repeats must be >= 1"):
        list(TransductiveSplit(n_repeats=0).split([1]))


def test_bsds_score_with_several_annotations_per_image_and_sizes():
    pred = [np.array([[5, 5, 6, 6]]), np.zeros((2, 3), int)]
    truth = [[np.array([[0, 0, 1, 1]]), np.array([[0, 0, 0, 0]])], np.zeros((2, 3), int)]
    # image 1: fine annotation 1.0 (two segments), coarse 0.5; image 2: one segment, IoU 1
    assert bsds_score(truth, pred, which="fine") == pytest.approx(1.0)
    assert bsds_score(truth, pred, which="coarse") == pytest.approx((0.5 + 1.0) / 2)
    assert bsds_score(truth, pred, which="all") == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    with pytest.raises(ValueError, match="which must be one of"):
        bsds_score(truth, pred, which="best")
    with pytest.raises(ValueError, match="y has 1 entries for 2 images"):
        bsds_score(truth[:1], pred)


def test_hungarian_score_per_image_and_accumulated():
    truth = [np.array([[0, 0, 1, 1]]), np.array([[0, 0, 1, 1]])]
    pred = [np.array([[3, 3, 7, 7]]), np.array([[7, 7, 3, 3]])]
    assert hungarian_score(truth, pred) == 1.0  # ids matched per image
    # accumulated: one matching for both images, ids swapped between them -> IoU 1/3 each
    assert hungarian_score(truth, pred, accumulate=True) == pytest.approx(1 / 3)
    assert hungarian_score(truth, pred, metric="accuracy", accumulate=True) == 0.5


def test_named_scorers_call_predict_and_accept_annotation_lists():
    images, truths = _dataset()
    seg = DynaGuideSegmenter(**FAST)
    assert "bsds_mean_cc" in SCORER_NAMES and "hungarian_miou_accumulated" in SCORER_NAMES
    score = get_scorer("bsds_all")(seg, images, [[t, t] for t in truths])
    assert score == pytest.approx(seg.score(images, truths))
    assert 0.0 <= get_scorer("hungarian_miou")(seg, images, truths) <= 1.0
    with pytest.raises(ValueError, match="unknown scorer"):
        get_scorer("accuracy")


@pytest.mark.slow  # trains default-sized networks for every candidate and fold
def test_grid_search_over_alpha_picks_the_best_mean_score():
    images, truths = _dataset()
    search = GridSearchCV(
        DynaGuideSegmenter(**FAST),
        {"alpha": [0.5, 15.0, 200.0]},
        cv=TransductiveSplit(),
        scoring=get_scorer("bsds_mean"),
        refit=False,
        n_jobs=2,
    )
    search.fit(images, truths)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert search.best_params_["alpha"] == [0.5, 15.0, 200.0][int(np.argmax(scores))]
    # the searched scores are the segmenter's own: nothing lost in cloning or pickling
    for alpha, score in zip([0.5, 15.0, 200.0], scores):
        direct = get_scorer("bsds_mean")(DynaGuideSegmenter(**FAST, alpha=alpha), images, truths)
        assert score == pytest.approx(direct)


def test_search_over_nested_and_string_parameters_with_clone_and_pickle():
    images, truths = _dataset()
    base = DynaGuideSegmenter(**FAST)
    grid = {"continuity": ["huber", "l1"], "weighting": ["fsf", 5.0],
            "guidance": ["kmeans", None]}
    search = GridSearchCV(base, grid, cv=TransductiveSplit(), refit=False,
                          scoring={"mean": get_scorer("bsds_mean"),
                                   "miou": get_scorer("hungarian_miou")})
    search.fit(images, truths)
    assert len(search.cv_results_["params"]) == 8
    nested = GridSearchCV(
        DynaGuideSegmenter(**FAST, guidance=KMeansGuidance(), continuity=HuberContinuity()),
        {"guidance__n_clusters": [2, 4], "continuity__delta": [0.5, 1.0]},
        cv=TransductiveSplit(), refit=False, scoring=get_scorer("bsds_all"))
    nested.fit(images, truths)
    assert len(nested.cv_results_["params"]) == 4
    assert nested.best_params_["guidance__n_clusters"] in (2, 4)
    copy = pickle.loads(pickle.dumps(clone(base)))
    assert copy.get_params() == base.get_params()


def test_cross_val_score_with_the_transductive_split():
    images, truths = _dataset()
    scores = cross_val_score(DynaGuideSegmenter(**FAST), images, truths,
                             cv=TransductiveSplit(), scoring=get_scorer("bsds_all"))
    assert scores.shape == (1,) and 0 < scores[0] <= 1


def test_evaluate_returns_per_image_rows_and_the_summary():
    images, truths = _dataset()
    seg = DynaGuideSegmenter(**FAST)
    result = evaluate(seg, images, truths, protocol="bsds", relabel=True)
    assert [r["index"] for r in result.per_image] == [0, 1]
    assert {"all", "fine", "coarse", "mean", "seconds", "n_segments"} <= set(result.per_image[0])
    assert result.summary["n_images"] == 2
    assert result.summary["all"] == pytest.approx(
        get_scorer("bsds_all_cc")(seg, images, truths))
    hung = evaluate(seg, images, truths, protocol="hungarian-accumulated")
    assert set(hung.summary) >= {"miou", "accuracy"}
    assert not hasattr(seg, "labels_")
    with pytest.raises(ValueError, match="protocol must be one of"):
        evaluate(seg, images, truths, protocol="voc")
    with pytest.raises(ValueError, match="relabel applies"):
        evaluate(seg, images, truths, protocol="hungarian", relabel=True)
    with pytest.raises(ValueError, match="y has 1 entries for 2 images"):
        evaluate(seg, images, truths[:1])
