import tracemalloc

import numpy as np
import pytest
from sklearn.base import clone

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter, FCMGuidance
from skdynaguide.guidance import resolve_guidance
from skdynaguide.guidance.fcm import colour_propagate, fcm_memberships, spatial_fcm
from skdynaguide.metrics import hungarian_miou


def _noisy_quadrants(seed=0, noise=25.0):
    image, truth = make_quadrants(40, 48)
    rng = np.random.default_rng(seed)
    noisy = np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)
    return noisy, truth


@pytest.mark.parametrize("colour_space", ["lab", "rgb"])
@pytest.mark.parametrize("n_clusters", [4, 8])
def test_quadrants_come_back_as_four_segments(colour_space, n_clusters):
    image, truth = make_quadrants()
    labels = FCMGuidance(n_clusters=n_clusters, colour_space=colour_space, random_state=0)(image)
    assert labels.shape == truth.shape and labels.dtype == np.int64
    assert labels.max() + 1 == 4  # only four distinct colours exist
    assert hungarian_miou(truth, labels) == 1.0


def test_noisy_quadrants_are_recovered_and_the_spatial_term_helps():
    image, truth = _noisy_quadrants(noise=60.0)
    plain = FCMGuidance(n_clusters=4, spatial_weight=0.0, sigma=None, random_state=0)(image)
    spatial = FCMGuidance(n_clusters=4, sigma=None, random_state=0)(image)
    propagated = FCMGuidance(n_clusters=4, random_state=0)(image)
    assert hungarian_miou(truth, spatial) > hungarian_miou(truth, plain)
    assert hungarian_miou(truth, propagated) > 0.8


def test_fcm_memberships_sum_to_one_and_follow_the_formula():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 50, size=(100, 5))
    d[0, 2] = 0.0  # a pixel on a centre belongs to it
    for m in (1.1, 1.5, 2.0, 3.0):
        u = fcm_memberships(d.copy(), m)
        np.testing.assert_allclose(u.sum(axis=1), 1.0, rtol=1e-12)
        assert np.all(u >= 0) and u[0, 2] == pytest.approx(1.0, abs=1e-9)
        # Bezdek: u_ij = 1 / sum_k (d_ij / d_kj)^(1/(m-1))
        expected = 1.0 / ((d[1][:, None] / d[1][None, :]) ** (1 / (m - 1))).sum(axis=1)
        np.testing.assert_allclose(u[1], expected, rtol=1e-10)
    # a fuzzifier near 1 on tiny distances neither overflows nor gives NaN
    u = fcm_memberships(np.array([[1e-9, 1e-3, 5.0]]), m=1.01)
    assert np.all(np.isfinite(u)) and u[0, 0] == pytest.approx(1.0)
    assert fcm_memberships(np.array([[1.0, 4.0]]), m=2).tolist() == [[0.8, 0.2]]


def test_spatial_fcm_memberships_and_centres():
    image, _ = _noisy_quadrants()
    u, centres, n_iter = spatial_fcm(image.astype(np.float64), 4, random_state=0)
    assert u.shape == (40, 48, 4) and centres.shape == (4, 3)
    np.testing.assert_allclose(u.sum(axis=-1), 1.0, rtol=1e-5)
    assert 1 <= n_iter <= 100
    # each centre lands near one of the quadrant colours
    from helpers import QUADRANT_COLOURS

    gaps = np.abs(centres[:, None] - QUADRANT_COLOURS[None].astype(float)).max(-1).min(1)
    assert np.all(gaps < 10)


def test_same_random_state_same_labels_and_the_provider_seed_wins():
    image, _ = _noisy_quadrants(noise=40)
    a = FCMGuidance(random_state=3)(image)
    np.testing.assert_array_equal(a, FCMGuidance(random_state=3)(image))
    np.testing.assert_array_equal(a, FCMGuidance()(image, random_state=3))
    np.testing.assert_array_equal(a, FCMGuidance(random_state=3)(image, random_state=7))


def test_callers_image_is_not_modified_and_dtypes_agree():
    image, _ = _noisy_quadrants()
    before = image.copy()
    a = FCMGuidance(random_state=0)(image)
    b = FCMGuidance(random_state=0)(image.astype(np.float64) / 255)
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_clusters=0), ValueError, "n_clusters must be >= 1"),
        (dict(n_clusters=2.5), TypeError, "n_clusters must be an int"),
        (dict(m=1.0), ValueError, "m must be > 1"),
        (dict(m="2"), TypeError, "m must be a number"),
        (dict(spatial_weight=-1), ValueError, "spatial_weight must be >= 0"),
        (dict(sigma=0), ValueError, "sigma must be > 0"),
        (dict(sigma=float("inf")), ValueError, "sigma must be finite"),
        (dict(colour_space="hsv"), ValueError, "colour_space must be 'lab' or 'rgb'"),
        (dict(max_iter=0), ValueError, "max_iter must be >= 1"),
        (dict(tol=-1e-3), ValueError, "tol must be >= 0"),
    ],
)
def test_invalid_parameters_are_reported(params, error, match):
    image, _ = make_quadrants(8, 8)
    with pytest.raises(error, match=match):
        FCMGuidance(**params)(image)


@pytest.mark.parametrize("sigma", [3.0, 10.0, 30.0])
def test_colour_grid_matches_the_brute_force_gaussian_affinity(sigma):
    # the N x N affinity is feasible for 300 pixels: the grid must agree with it
    rng = np.random.default_rng(1)
    colours = rng.uniform(-4 * sigma, 4 * sigma, (300, 3)) + [50, 0, 0]
    values = rng.dirichlet(np.ones(4), size=300)
    sq = ((colours[:, None] - colours[None]) ** 2).sum(-1)
    affinity = np.exp(-sq / (2 * sigma**2))
    brute = affinity @ values / affinity.sum(axis=1, keepdims=True)
    grid = colour_propagate(values, colours, sigma)
    np.testing.assert_allclose(grid.sum(axis=1), 1.0, rtol=1e-9)
    assert np.abs(grid - brute).max() < 0.02
    assert np.abs(values - brute).max() > 0.3  # the propagation does change the values


def test_no_pixel_by_pixel_matrix_is_built():
    # 76,800 pixels: an N x N float32 affinity alone would take 23.6 GB
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (240, 320, 3)).astype(np.float32)
    tracemalloc.start()
    try:
        labels = FCMGuidance(max_iter=5, random_state=0)(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert labels.shape == (240, 320)
    assert peak < 150e6  # bytes: a few dozen arrays of N x (k + 1) values


def test_a_wide_colour_range_with_a_small_sigma_keeps_the_grid_bounded():
    rng = np.random.default_rng(0)
    colours = rng.uniform(0, 1000, (500, 3))
    values = rng.dirichlet(np.ones(3), size=500)
    tracemalloc.start()
    try:
        out = colour_propagate(values, colours, sigma=0.5)  # (4000 cells)^3 uncapped
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-9)
    assert peak < 100e6


def test_resolves_by_name_clones_and_guides_the_segmenter():
    assert isinstance(resolve_guidance("fcm"), FCMGuidance)
    provider = FCMGuidance(n_clusters=4, sigma=5.0)
    assert clone(provider).get_params() == provider.get_params()
    image, truth = make_quadrants()
    seg = DynaGuideSegmenter(guidance="fcm", **{**FAST, "max_iter": 30}).fit(image)
    assert seg.guidance_labels_.max() + 1 == 4
    assert hungarian_miou(truth, seg.labels_) > 0.85
