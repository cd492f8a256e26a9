import numpy as np
import torch

from helpers import make_quadrants
from skdynaguide._image import check_image
from skdynaguide.losses import FixedWeight, HuberContinuity, L1Continuity, FSFWeight
from skdynaguide.training.matching import HungarianMatching
from skdynaguide.training import segment_image, training_shape


def test_training_shape():
    assert training_shape(100, 200, None) == (100, 200)
    assert training_shape(100, 200, 50000) == (100, 200)
    h, w = training_shape(300, 400, 30000)
    assert h * w <= 30000 * 1.02 and abs(h / w - 0.75) < 0.01
    assert training_shape(1, 5000, 100) == (1, 100)


def _run(**kwargs):
    image, _ = make_quadrants(16, 16)
    params = dict(seed=0, n_features=8, n_clusters=6, continuity=L1Continuity(),
                  weighting=FixedWeight(1.0), max_iter=5)
    params.update(kwargs)
    return segment_image(check_image(image), **params)


def test_history_has_one_entry_per_iteration_and_consistent_total():
    result = _run(max_iter=7)
    h = result.history
    assert result.n_iter == 7 and result.stop_reason == "max_iter" and not result.converged
    assert all(len(v) == 7 for v in h.values())
    np.testing.assert_allclose(
        h["loss"],
        h["similarity"] + h["continuity_weight"] * h["continuity"]
        + h["guidance_weight"] * h["guidance"],
        rtol=1e-5,
    )


def test_guidance_term_is_weighted_by_lambda_over_q():
    guide = (np.arange(16)[None, :] // 8).repeat(16, axis=0)
    result = _run(guide=guide, matching=HungarianMatching(), guidance_weight=3.0,
                  continuity=HuberContinuity(), weighting=FSFWeight(15))
    h = result.history
    np.testing.assert_allclose(h["guidance_weight"], 3.0 / h["n_labels"])
    np.testing.assert_allclose(h["continuity_weight"], h["n_labels"] / 15)
    assert np.all(h["guidance"] > 0)


def test_min_labels_stops_and_is_reported():
    result = _run(max_iter=50, min_labels=6)  # 6 channels: stops at once
    assert result.n_iter == 1 and result.stop_reason == "min_labels" and result.converged


def test_a_diverging_loss_stops_training_and_keeps_the_last_sane_clusters():
    image, _ = make_quadrants(16, 16)
    result = segment_image(check_image(image), seed=0, n_features=8, n_clusters=6,
                           continuity=L1Continuity(), weighting=FixedWeight(1.0),
                           max_iter=50, lr=1e30)
    assert result.stop_reason == "nonfinite" and result.n_iter == 2
    assert np.isnan(result.history["loss"][-1])
    assert result.labels.shape == (16, 16) and result.labels.max() >= 1


def test_training_does_not_touch_the_global_torch_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _run()
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
