import numpy as np
import pytest

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter
from skdynaguide.family.presets import PRESETS
from skdynaguide.training.silhouette import silhouette_count

# DFC-style training with a continuity weight so large that the clusters merge into one
COLLAPSING = {**FAST, "guidance": None, "output": "redraw", "continuity": "l1", "weighting": 50.0, "max_iter": 60}


def _blobs(centres, n=60, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(c, spread, (n, len(c))) for c in centres])


def test_silhouette_count_finds_the_number_of_blobs():
    features = _blobs([(0, 0, 0), (6, 0, 0), (0, 6, 0), (0, 0, 6)])
    k, scores = silhouette_count(features, (2, 8), n_samples=150, random_state=0)
    assert k == 4 and sorted(scores) == list(range(2, 9))
    assert scores[4] == max(scores.values())
    assert silhouette_count(features, (2, 8), n_samples=150, random_state=0) == (k, scores)


def test_silhouette_count_with_too_few_distinct_vectors():
    assert silhouette_count(np.ones((50, 3)), (2, 6), random_state=0) == (1, {})
    two = np.repeat([[0.0, 0.0], [1.0, 1.0]], 20, axis=0)
    k, scores = silhouette_count(two, (2, 6), random_state=0)
    assert k == 2 and list(scores) == [2]
    assert silhouette_count(two, (3, 6), random_state=0) == (2, {})


def test_the_silhouette_floor_prevents_the_collapse_to_one_cluster():
    image, _ = make_quadrants()
    collapsed = DynaGuideSegmenter(**COLLAPSING).fit(image)
    assert collapsed.n_labels_ == 1 and collapsed.loss_history_["n_labels"][-1] == 1
    assert collapsed.silhouette_k_ is None

    seg = DynaGuideSegmenter(**COLLAPSING, silhouette=True, silhouette_range=(2, 6)).fit(image)
    assert isinstance(seg.silhouette_k_, int) and 2 <= seg.silhouette_k_ <= 6
    assert seg.n_labels_ >= 2
    # training stopped as q' reached the floor, long before max_iter
    assert seg.n_iter_ < COLLAPSING["max_iter"]
    assert seg.loss_history_["n_labels"][-1] <= seg.silhouette_k_


def test_the_silhouette_count_floors_q_in_the_dynamic_weight():
    image, _ = make_quadrants()
    params = {**FAST, "guidance": None, "weighting": "scf", "alpha": 50.0, "max_iter": 8,
              "silhouette": True, "silhouette_range": (4, 8), "min_labels": None}
    seg = DynaGuideSegmenter(**params).fit(image)
    h = seg.loss_history_
    np.testing.assert_allclose(h["continuity_weight"],
                               50.0 / np.maximum(h["n_labels"], seg.silhouette_k_))
    again = DynaGuideSegmenter(**params).fit(image)
    assert again.silhouette_k_ == seg.silhouette_k_
    np.testing.assert_array_equal(again.labels_, seg.labels_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_silhouette_counts_per_image_in_a_batch():
    images = [make_quadrants(16, 16)[0], make_quadrants(20, 16)[0]]
    seg = DynaGuideSegmenter(**{**FAST, "max_iter": 3, "silhouette": True,
                                "silhouette_range": (2, 5)}).fit(images)
    assert isinstance(seg.silhouette_k_, list) and len(seg.silhouette_k_) == 2
    assert all(2 <= k <= 5 for k in seg.silhouette_k_)


def test_dynaseg_presets_run_the_silhouette_phase():
    assert PRESETS["dynaseg-fsf"]["silhouette"] and PRESETS["dynaseg-scf"]["silhouette"]
    assert not PRESETS.get("dfc", {}).get("silhouette", False)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(silhouette="yes"), TypeError, "silhouette must be a bool"),
        (dict(silhouette_range=5), TypeError, "silhouette_range must be a pair"),
        (dict(silhouette_range=(1, 5)), ValueError, r"silhouette_range\[0\] must be >= 2"),
        (dict(silhouette_range=(5, 3)), ValueError, r"silhouette_range\[1\] must be >= 5"),
        (dict(silhouette_range=(2, 2.5)), TypeError, r"silhouette_range\[1\] must be an int"),
        (dict(silhouette_samples=2), ValueError, "silhouette_samples must be >= 3"),
        (dict(silhouette=True, n_clusters=8), ValueError, "reaches beyond n_clusters=8"),
        (dict(silhouette=True, silhouette_samples=10), ValueError,
         "silhouette_samples=10 must exceed"),
    ],
)
def test_invalid_silhouette_parameters(params, error, match):
    image, _ = make_quadrants(8, 8)
    with pytest.raises(error, match=match):
        DynaGuideSegmenter(**params).fit(image)


def test_a_range_beyond_n_clusters_is_fine_while_the_phase_is_off():
    image, _ = make_quadrants(8, 8)
    DynaGuideSegmenter(**{**FAST, "n_clusters": 4, "max_iter": 2}).fit(image)
