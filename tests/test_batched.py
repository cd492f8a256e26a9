"""Batched training (skdynaguide.training.batched): B images in one pass equal B images one by one."""
import warnings

import numpy as np
import pytest
import torch
from skimage import data

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter
from skdynaguide.training.batched import StackedDynaGuideNet, batch_plan
from skdynaguide.training import segment_batch
from skdynaguide.losses import HuberContinuity, resolve_weighting
from skdynaguide.training.matching import resolve_matching
from skdynaguide.training.network import DynaGuideNet
from skdynaguide.training.scribbles import UNLABELLED

# A grouped convolution sums some of its gradients in another order than B separate ones
# (which kernel runs depends on the shapes and on the threads), so the stacked step differs
# from the per-image one by float rounding (~1e-8), like the same image trained on 1 or 2
# threads. The argmax targets amplify such differences over many steps, so label maps are
# compared over a few steps, and one step is compared directly to a tolerance.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def photos(size=24):
    """Small natural crops (textured, unlike the quadrants) and the quadrants."""
    crops = [data.astronaut()[::10, ::10], data.coffee()[::8, ::8], data.chelsea()[::6, ::6]]
    return [c[:size, :size].copy() for c in crops] + [make_quadrants(size, size)[0]]


def fit_both(images, batch_size=4, **params):
    # float32: the comparison is to float32 rounding (bfloat16 is checked on its own below)
    params = {**FAST, "max_iter": 8, "precision": "float32", **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = DynaGuideSegmenter(**params).fit(images)
        together = DynaGuideSegmenter(batch_size=batch_size, **params).fit(images)
    return alone, together


def assert_same(alone, together):
    assert alone.n_iter_ == together.n_iter_
    assert alone.silhouette_k_ == together.silhouette_k_
    for a, b in zip(alone.labels_, together.labels_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(alone.loss_history_, together.loss_history_):
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-3, atol=1e-4, err_msg=key)


def test_stacked_network_is_the_networks_side_by_side():
    nets = []
    for seed in range(3):
        torch.manual_seed(seed)
        nets.append(DynaGuideNet(n_features=8, n_clusters=5, n_blocks=3))
    stacked = StackedDynaGuideNet(nets)
    x = [torch.rand(1, 3, 9, 7) for _ in nets]
    out = stacked(torch.cat(x, dim=1))
    for b, (net, image) in enumerate(zip(nets, x)):
        torch.testing.assert_close(out[:, 5 * b:5 * b + 5], net(image), rtol=0, atol=1e-5)
    smaller = stacked.select([2, 0])
    out = smaller(torch.cat([x[2], x[0]], dim=1))
    torch.testing.assert_close(out[:, :5], nets[2](x[2]), rtol=0, atol=1e-5)


def test_one_stacked_step_is_each_networks_own_step():
    images = [torch.from_numpy(im.astype(np.float32) / 255).permute(2, 0, 1)[None]
              for im in photos()]
    nets = []
    for seed in range(len(images)):
        torch.manual_seed(seed)
        nets.append(DynaGuideNet(n_features=16, n_clusters=12))
    stacked = StackedDynaGuideNet(nets)
    loss = HuberContinuity()

    def objective(response):  # similarity + continuity, as the training loop sums them
        return torch.nn.functional.cross_entropy(response, response.argmax(1)) + loss(response)

    out = stacked(torch.cat(images, dim=1)).view(len(images), 12, 24, 24)
    sum(objective(out[b:b + 1]) for b in range(len(images))).backward()
    for b, (net, image) in enumerate(zip(nets, images)):
        objective(net(image)).backward()
        for mine, theirs in zip(stacked.parameters(), net.parameters()):
            size = mine.shape[0] // len(images)
            torch.testing.assert_close(mine.grad[b * size:(b + 1) * size], theirs.grad,
                                       rtol=1e-4, atol=1e-6)


def test_batch_plan_buckets_by_training_size():
    shapes = [(24, 24), (24, 32), (24, 24), (24, 24), (48, 64)]
    assert batch_plan(shapes, 2, None) == [[0, 2], [3], [1], [4]]
    # 48x64 shrinks to the 24x32 training size: one bucket with image 1
    assert batch_plan(shapes, 4, 24 * 32) == [[0, 2, 3], [1, 4]]
    assert batch_plan(shapes, 1, None) == [[0], [2], [3], [1], [4]]


def test_batched_equals_one_by_one_with_the_defaults():
    alone, together = fit_both(photos())
    assert_same(alone, together)
    assert len({label.max() for label in together.labels_}) > 1  # not a degenerate case


def test_batched_in_bfloat16_agrees_with_one_by_one_to_its_rounding():
    # bfloat16 keeps 8 bits of mantissa: the stacked and separate convolutions round
    # differently by ~1e-3 instead of ~1e-8, so the losses agree more loosely
    alone, together = fit_both(photos(), precision="bfloat16")
    assert alone.precision_ == together.precision_ == "bfloat16"
    assert alone.n_iter_ == together.n_iter_
    for a, b in zip(alone.labels_, together.labels_):
        assert (a == b).mean() > 0.95
    for a, b in zip(alone.loss_history_, together.loss_history_):
        np.testing.assert_allclose(a["loss"], b["loss"], rtol=3e-2)


def test_batched_equals_one_by_one_across_sizes_and_reduced_resolution():
    images = photos(24)[:2] + [make_quadrants(48, 48)[0], make_quadrants(20, 28)[0]]
    alone, together = fit_both(images, batch_size=3, max_pixels=24 * 24)
    assert_same(alone, together)
    assert together.labels_[2].shape == (48, 48)


@pytest.mark.parametrize("params", [
    dict(min_labels=5),
    dict(tol=0.05, n_iter_no_change=2),
    dict(guidance=None, continuity="l1", weighting=5.0, silhouette=True,
         silhouette_range=(2, 4), silhouette_samples=100, min_labels=3),
], ids=["min_labels", "tol", "silhouette"])
def test_per_image_stopping_rules_are_kept(params):
    alone, together = fit_both(photos(), **params)
    assert_same(alone, together)
    assert len(set(alone.n_iter_)) > 1  # the images stopped at different steps


def test_uniform_and_diverging_images_in_a_batch():
    images = photos()[:2] + [np.full((24, 24, 3), 0.5)]
    alone, together = fit_both(images, lr=1e6, max_iter=5)
    assert_same(alone, together)
    assert together.n_labels_[2] == 1


def test_scribbles_per_image_in_a_batch():
    images = photos()[:3]
    scribbles = [np.full((24, 24), UNLABELLED) for _ in images]
    scribbles[0][2:20, 3] = 1
    scribbles[0][2:20, 20] = 4
    scribbles[2] = None
    params = {**FAST, "max_iter": 8}
    alone = DynaGuideSegmenter(**params).fit(images, scribbles=scribbles)
    together = DynaGuideSegmenter(batch_size=3, **params).fit(images, scribbles=scribbles)
    assert_same(alone, together)


def test_segment_batch_requires_one_training_size():
    images = [np.zeros((8, 8, 3), np.float32) + 0.1, np.random.default_rng(0).random((8, 9, 3))]
    images[0][:4] = 0.9
    with pytest.raises(ValueError, match="share their training size"):
        segment_batch([im.astype(np.float32) for im in images], [None, None], seeds=[0, 1],
                      continuity=HuberContinuity(), weighting=resolve_weighting("fsf", 15),
                      matching=resolve_matching("index"), n_features=4, n_clusters=3,
                      max_iter=2)


@pytest.mark.parametrize("value, error", [(0, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_batch_size_is_validated(value, error):
    with pytest.raises(error, match="batch_size"):
        DynaGuideSegmenter(batch_size=value, **FAST).fit(make_quadrants(8, 8)[0])


def test_networks_that_cannot_be_stacked_train_one_by_one_with_a_warning():
    images = photos(16)[:2]
    params = {**FAST, "network": DynaGuideNet, "max_iter": 5}
    with pytest.warns(UserWarning, match="batch_size=2 is ignored"):
        together = DynaGuideSegmenter(batch_size=2, **params).fit_predict(images)
    alone = DynaGuideSegmenter(**params).fit_predict(images)
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)
