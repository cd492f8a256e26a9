import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
)

from helpers import FAST, make_quadrants
from skdynaguide import (DynaGuideSegmenter, FelzenszwalbGuidance, PrecomputedGuidance,
                         SegFormerGuidance, SLICGuidance)
from skdynaguide.metrics import hungarian_miou

HISTORY_KEYS = {"loss", "similarity", "continuity", "guidance", "scribble", "modularity",
                "continuity_weight", "guidance_weight", "n_labels"}


def test_four_quadrants_come_back_as_four_segments_with_the_defaults():
    image, truth = make_quadrants()
    seg = DynaGuideSegmenter(random_state=0)
    labels = seg.fit_predict(image)
    assert labels.shape == truth.shape
    assert labels.max() + 1 == 4
    # the default guide (Felzenszwalb, sigma 0.8) gives the blended pixels along one
    # quadrant edge to a neighbour; the position-aware network keeps its guide's regions
    guide_score = hungarian_miou(truth, seg.guidance_labels_)
    assert hungarian_miou(truth, labels) >= max(0.85, guide_score - 0.01)


@pytest.mark.parametrize("guidance", [SLICGuidance(n_segments=4), "felzenszwalb"])
def test_four_quadrants_with_other_guidance(guidance):
    image, truth = make_quadrants()
    seg = DynaGuideSegmenter(guidance=guidance, random_state=0, max_iter=60)
    labels = seg.fit_predict(image)
    assert labels.max() + 1 == 4
    assert hungarian_miou(truth, labels) >= 0.85  # as good as the guide (see test_guidance)


def test_four_quadrants_without_guidance_keep_their_interiors_apart():
    # Unguided (DynaSeg-like) training also gives the 1-2 pixel frames along the image
    # border (zero padding) and along the quadrant edges (mixed 3x3 patches) clusters of
    # their own; the interiors must still be one distinct segment each.
    image, truth = make_quadrants()
    labels = DynaGuideSegmenter(guidance=None, random_state=0, min_labels=None,
                                max_iter=60).fit_predict(image)
    interiors = [labels[r, c] for r, c in [(slice(3, 13), slice(3, 13)), (slice(3, 13), slice(19, 29)),
                                         (slice(19, 29), slice(3, 13)), (slice(19, 29), slice(19, 29))]]
    assert all(len(np.unique(block)) == 1 for block in interiors)
    assert len({int(block[0, 0]) for block in interiors}) == 4


def test_fitted_attributes_for_one_image():
    image, _ = make_quadrants()
    seg = DynaGuideSegmenter(**FAST).fit(image)
    assert seg.labels_.dtype == np.int64
    labels = seg.labels_
    assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1))  # consecutive
    assert seg.n_labels_ == labels.max() + 1
    assert isinstance(seg.n_iter_, int) and 1 <= seg.n_iter_ <= FAST["max_iter"]
    assert seg.guidance_labels_.shape == labels.shape
    assert set(seg.loss_history_) == HISTORY_KEYS
    assert all(len(v) == seg.n_iter_ for v in seg.loss_history_.values())
    assert seg.device_ == "cpu"


def test_batches_lists_of_any_sizes_and_grey_images():
    a, _ = make_quadrants(20, 24)
    b, _ = make_quadrants(16, 16)
    grey = a.mean(axis=2).astype(np.uint8)
    seg = DynaGuideSegmenter(**FAST)
    out = seg.fit_predict([a, b, grey])
    assert isinstance(out, list) and [o.shape for o in out] == [(20, 24), (16, 16), (20, 24)]
    assert len(seg.n_iter_) == 3 and len(seg.loss_history_) == 3
    stacked = seg.fit_predict(np.stack([a, a]))
    assert isinstance(stacked, list) and len(stacked) == 2


def test_same_random_state_gives_identical_labels():
    image, _ = make_quadrants()
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    a = DynaGuideSegmenter(**FAST).fit_predict(noisy)
    b = DynaGuideSegmenter(**FAST).fit_predict(noisy)
    np.testing.assert_array_equal(a, b)
    history_a = DynaGuideSegmenter(**FAST).fit(noisy).loss_history_["loss"]
    history_c = DynaGuideSegmenter(**{**FAST, "random_state": 1}).fit(noisy).loss_history_["loss"]
    assert not np.array_equal(history_a, history_c)


def test_predict_needs_no_fit_and_leaves_fitted_state_alone():
    image, _ = make_quadrants()
    other, _ = make_quadrants(16, 20)
    seg = DynaGuideSegmenter(**FAST)
    assert seg.predict(image).shape == image.shape[:2]
    assert not hasattr(seg, "labels_")
    seg.fit(image)
    before = seg.labels_.copy()
    assert seg.predict(other).shape == (16, 20)
    np.testing.assert_array_equal(seg.labels_, before)
    np.testing.assert_array_equal(seg.predict(image), before)  # same seed, same answer


@pytest.mark.slow  # trains with the default (full-size) settings
def test_score_is_best_overlap_against_one_or_several_annotations():
    image, truth = make_quadrants()
    seg = DynaGuideSegmenter(random_state=0)
    assert seg.score(image, truth) >= 0.85  # as good as its guide (test above)
    both = seg.score([image], [[truth, np.zeros_like(truth)]])
    assert 0.0 < both < seg.score(image, truth)
    with pytest.raises(ValueError, match="y has 2 entries for 1 images"):
        seg.score([image], [truth, truth])


def test_callers_arrays_are_not_modified():
    image, _ = make_quadrants()
    guide = (np.arange(32)[None, :] // 16).repeat(32, axis=0)
    image_before, guide_before = image.copy(), guide.copy()
    DynaGuideSegmenter(guidance=PrecomputedGuidance(guide), **FAST).fit(image)
    np.testing.assert_array_equal(image, image_before)
    np.testing.assert_array_equal(guide, guide_before)


def test_precomputed_guidance_shape_mismatch_is_reported():
    image, _ = make_quadrants()
    seg = DynaGuideSegmenter(guidance=PrecomputedGuidance(np.zeros((5, 5), int)), **FAST)
    with pytest.raises(ValueError, match=r"shape \(5, 5\) but image 0 has shape \(32, 32\)"):
        seg.fit(image)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(guidance="watershed"), ValueError, "unknown guidance"),
        (dict(guidance=SegFormerGuidance(resolution=8)), ValueError, "resolution must be >= 16"),
        (dict(continuity="l2"), ValueError, "unknown continuity"),
        (dict(weighting="fast"), ValueError, "unknown weighting"),
        (dict(matching="greedy"), ValueError, "unknown matching"),
        (dict(alpha=0), ValueError, "alpha must be > 0"),
        (dict(alpha="15"), TypeError, "alpha must be a number"),
        (dict(n_features=0), ValueError, "n_features must be >= 1"),
        (dict(n_clusters=1.5), TypeError, "n_clusters must be an int"),
        (dict(n_blocks=0), ValueError, "n_blocks must be >= 1"),
        (dict(max_iter=0), ValueError, "max_iter must be >= 1"),
        (dict(min_labels=0), ValueError, "min_labels must be >= 1"),
        (dict(lr=-1.0), ValueError, "lr must be > 0"),
        (dict(momentum=float("nan")), ValueError, "momentum must be finite"),
        (dict(guidance_weight=-1), ValueError, "guidance_weight must be >= 0"),
        (dict(tol=-0.1), ValueError, "tol must be >= 0"),
        (dict(max_pixels=3), ValueError, "max_pixels must be >= 4"),
        (dict(residual="yes"), TypeError, "residual must be a bool"),
        (dict(device="tpu"), ValueError, "device"),
        (dict(device=3), TypeError, "device must be a string"),
        (dict(n_jobs=0), ValueError, "n_jobs must not be 0"),
    ],
)
def test_invalid_parameters_raise_clear_errors_in_fit(params, error, match):
    image, _ = make_quadrants(8, 8)
    seg = DynaGuideSegmenter(**params)  # __init__ never validates
    with pytest.raises(error, match=match):
        seg.fit(image)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((8, 8, 4), np.uint8), ValueError, "RGBA"),
        (np.zeros((8, 8), np.int64), TypeError, "accepted dtypes"),
        (np.full((8, 8, 3), 2.0), ValueError, r"\[0, 1\]"),
        (np.full((8, 8), np.nan), ValueError, "NaN"),
        (np.zeros((1, 1, 3)), ValueError, "at least 2 pixels"),
        (np.zeros(10), ValueError, "dimension"),
    ],
)
def test_invalid_images_raise_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        DynaGuideSegmenter(**FAST).fit(X)


def test_convergence_warning_only_when_a_stopping_rule_is_set():
    image, _ = make_quadrants()
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 40, image.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        DynaGuideSegmenter(**{**FAST, "max_iter": 2, "min_labels": 1}).fit(noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        DynaGuideSegmenter(**{**FAST, "max_iter": 2, "min_labels": None}).fit(noisy)


def test_min_labels_and_tol_stop_early():
    image, _ = make_quadrants()
    seg = DynaGuideSegmenter(**{**FAST, "max_iter": 200, "min_labels": 4}).fit(image)
    assert seg.n_iter_ < 200 and seg.loss_history_["n_labels"][-1] <= 4
    seg = DynaGuideSegmenter(**{**FAST, "max_iter": 200, "min_labels": None, "tol": 1e-3,
                                "n_iter_no_change": 3}).fit(image)
    assert seg.n_iter_ < 200


def test_guidance_none_records_zero_guidance_loss():
    image, _ = make_quadrants()
    seg = DynaGuideSegmenter(guidance=None, **FAST).fit(image)
    assert seg.guidance_labels_ is None
    assert np.all(seg.loss_history_["guidance_weight"] == 0)


def test_max_pixels_trains_small_and_predicts_full_size():
    image, _ = make_quadrants(40, 60)
    seg = DynaGuideSegmenter(**{**FAST, "max_pixels": 150}).fit(image)
    assert seg.labels_.shape == (40, 60)
    assert seg.guidance_labels_.shape == (40, 60)


def test_unavailable_cuda_warns_and_falls_back_to_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    image, _ = make_quadrants(8, 8)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        seg = DynaGuideSegmenter(device="cuda", **FAST).fit(image)
    assert seg.device_ == "cpu"
    assert DynaGuideSegmenter(device="auto", **FAST).fit(image).device_ == "cpu"


def test_parallel_jobs_give_the_serial_result():
    images = [make_quadrants(16, 16)[0], make_quadrants(20, 16)[0]]
    serial = DynaGuideSegmenter(**FAST).fit_predict(images)
    parallel = DynaGuideSegmenter(n_jobs=2, **FAST).fit_predict(images)
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


def test_verbose_shows_progress_and_zero_is_silent(capsys):
    image, _ = make_quadrants(8, 8)
    DynaGuideSegmenter(**FAST).fit(image)
    assert capsys.readouterr().err == ""
    DynaGuideSegmenter(verbose=1, **FAST).fit(image)
    assert "it" in capsys.readouterr().err


def test_clone_pickle_and_nested_params():
    image, _ = make_quadrants(12, 12)
    seg = DynaGuideSegmenter(guidance=FelzenszwalbGuidance(scale=50), **FAST)
    seg.set_params(guidance__scale=80)
    assert seg.get_params()["guidance__scale"] == 80
    copy = clone(seg)
    assert copy.guidance is not seg.guidance and copy.guidance.scale == 80
    seg.fit(image)
    restored = pickle.loads(pickle.dumps(seg))
    np.testing.assert_array_equal(restored.labels_, seg.labels_)
    assert isinstance(restored.labels_, np.ndarray)
    assert all(isinstance(v, np.ndarray) for v in restored.loss_history_.values())


def test_presets():
    dfc = DynaGuideSegmenter.from_preset("dfc", max_iter=10)
    assert dfc.weighting == 5.0 and dfc.continuity == "l1" and dfc.guidance is None
    assert dfc.max_iter == 10
    paper = DynaGuideSegmenter.from_preset("dynaguide-paper")
    assert paper.max_pixels is None and paper.max_iter == 1000 and paper.matching == "index"
    with pytest.raises(ValueError, match="unknown preset"):
        DynaGuideSegmenter.from_preset("dynaguide")


@pytest.mark.parametrize(
    "check",
    [check_no_attributes_set_in_init, check_parameters_default_constructible,
     check_get_params_invariance, check_set_params, check_estimator_cloneable,
     check_estimator_repr, check_mixin_order, check_valid_tag_types,
     check_do_not_raise_errors_in_init_or_set_params],
    ids=lambda c: c.__name__,
)
def test_scikit_learn_api_checks(check):
    check(DynaGuideSegmenter.__name__, DynaGuideSegmenter())


def test_fit_returns_self_and_is_idempotent():
    image, _ = make_quadrants(12, 12)
    seg = DynaGuideSegmenter(**FAST)
    assert seg.fit(image) is seg
    first = seg.labels_.copy()
    params = seg.get_params()
    np.testing.assert_array_equal(seg.fit(image).labels_, first)
    assert seg.get_params() == params  # fit does not change parameters


def test_fit_on_no_images_only_validates_the_parameters():
    seg = DynaGuideSegmenter(**FAST).fit([])
    assert seg.labels_ == [] and seg.n_iter_ == [] and seg.device_ == "cpu"
    assert seg.predict([]) == []
    with pytest.raises(ValueError, match="alpha must be > 0"):
        DynaGuideSegmenter(alpha=0).fit([])
