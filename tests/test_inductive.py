"""The inductive mode: one network over a collection, prediction by a forward pass, warm
training with partial_fit; and its building blocks (SharedTraining, merge_small_pieces)."""
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from helpers import QUADRANT_COLOURS, make_quadrants
from skdynaguide import InductiveSegmenter
from skdynaguide.training.collection import SharedTraining
from skdynaguide.training.config import TrainingConfig, TrainingImage
from skdynaguide.losses import FSFWeight, HuberContinuity
from skdynaguide.training.network import DynaGuideNet
from skdynaguide.output.segments import merge_small_pieces

SMALL = dict(n_features=16, n_clusters=8, crop_size=16, batch_size=4, guidance_weight=100,
             random_state=0)


def _noisy(image, seed, sigma=6):
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(image.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def _scene(colours, split, seed, size=(24, 32)):
    """Left part ``colours[0]``, the rest ``colours[1]``, split at column ``split``."""
    image = np.empty((*size, 3), dtype=np.uint8)
    image[:, :split], image[:, split:] = colours[0], colours[1]
    return _noisy(image, seed)


RED, GREEN, BLUE, YELLOW = QUADRANT_COLOURS


@pytest.fixture(scope="module")
def model():
    """Trained once on red/blue, blue/green and red/green scenes of different sizes."""
    scenes = [_scene((RED, BLUE), 10, 0), _scene((BLUE, GREEN), 20, 1, size=(28, 36)),
              _scene((RED, GREEN), 14, 2, size=(20, 30))]
    # whole images: on such tiny ones, 16-px crops often hold one colour, and whether the
    # three colours end in three classes then depends on the seed and the thread count
    return InductiveSegmenter(max_iter=120, **{**SMALL, "crop_size": None}).fit(scenes), scenes


def test_a_new_image_is_segmented_by_the_trained_network_with_shared_classes(model):
    model, scenes = model
    new = _scene((GREEN, RED), 9, 7, size=(26, 40))
    labels = model.predict_classes(new)
    assert labels.shape == (26, 40)
    # the two colours are two classes, and each keeps the class it had in training
    red_class = model.classes_[0][12, 2]
    blue_class = model.classes_[0][12, -2]
    green_class = model.classes_[1][12, -2]
    assert len({red_class, blue_class, green_class}) == 3
    assert model.classes_[2][10, 2] == red_class and model.classes_[1][12, 2] == blue_class
    assert (labels[:, :8] == green_class).mean() > 0.95
    assert (labels[:, 10:] == red_class).mean() > 0.95


def test_predict_trains_nothing_and_repeats_fit_labels(model):
    model, scenes = model
    before = {k: v.clone() for k, v in model.network_.state_dict().items()}
    again = model.predict(scenes)
    for ours, theirs in zip(again, model.labels_):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(model.predict_classes(scenes), model.classes_):
        np.testing.assert_array_equal(ours, theirs)
    after = model.network_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.n_iter_ == 120 and len(model.loss_history_["loss"]) == 120
    assert next(model.network_.parameters()).device.type == "cpu"
    assert not model.network_.training


def test_a_pickled_model_predicts_identically(model):
    model, scenes = model
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(scenes[1]), model.predict(scenes[1]))


def test_fit_is_reproducible_and_leaves_the_inputs_alone():
    scenes = [_scene((RED, BLUE), 10, 0), _scene((YELLOW, GREEN), 16, 1)]
    copies = [s.copy() for s in scenes]
    first = InductiveSegmenter(max_iter=10, **SMALL).fit_predict(scenes)
    second = InductiveSegmenter(max_iter=10, **SMALL).fit_predict(scenes)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    for scene, copy in zip(scenes, copies):
        np.testing.assert_array_equal(scene, copy)


def test_partial_fit_goes_on_from_the_current_network():
    frames = [_scene((RED, BLUE), 10 + t, t) for t in range(3)]
    model = InductiveSegmenter(max_iter=40, partial_iter=5, **SMALL).fit(frames[0])
    weights = {k: v.clone() for k, v in model.network_.state_dict().items()}
    momentum = model._optimizer_state["state"][0]["momentum_buffer"].clone()
    model.partial_fit(frames[1])
    assert model.n_iter_ == 45 and len(model.loss_history_["loss"]) == 45
    assert not all(torch.equal(weights[k], v) for k, v in model.network_.state_dict().items())
    assert not torch.equal(momentum, model._optimizer_state["state"][0]["momentum_buffer"])
    # the classes of the new frame are those predict_classes gives it
    np.testing.assert_array_equal(model.classes_, model.predict_classes(frames[1]))
    # the boundary moved with the frame, the classes stayed
    red = model.classes_[12, 2]
    assert (model.classes_[:, :11] == red).mean() > 0.9
    assert (model.classes_[:, 12:] != red).mean() > 0.9

    # partial_fit on an unfitted model starts a fresh network for partial_iter steps
    fresh = InductiveSegmenter(max_iter=40, partial_iter=5, **SMALL).partial_fit(frames[0])
    assert fresh.n_iter_ == 5
    # fit starts over
    assert model.fit(frames[2]).n_iter_ == 40


def test_partial_fit_refuses_a_network_of_another_shape():
    model = InductiveSegmenter(max_iter=3, **SMALL).fit(_scene((RED, BLUE), 10, 0))
    model.set_params(n_clusters=6)
    with pytest.raises(ValueError, match="changed since it was trained; call fit"):
        model.partial_fit(_scene((RED, BLUE), 11, 1))


def test_classes_keep_their_ids_and_small_pieces_are_merged():
    image, truth = make_quadrants(32, 32)
    model = InductiveSegmenter(max_iter=30, min_size=None, **SMALL).fit(_noisy(image, 0))
    raw = model.predict_classes(image)
    labels = model.set_params(min_size=20).predict_classes(image)
    assert set(np.unique(labels)) <= set(np.unique(raw))
    # every class piece in the merged map is at least 20 pixels
    from skdynaguide.metrics import relabel_connected
    pieces = relabel_connected(labels)
    assert np.bincount(pieces.ravel()).min() >= 20


def test_position_aware_network_trains_on_crops():
    scenes = [_scene((RED, BLUE), 10, 0), _scene((BLUE, GREEN), 20, 1, size=(28, 36))]
    model = InductiveSegmenter(max_iter=5, coordinates=True, **SMALL).fit(scenes)
    assert model.network_.coordinates
    assert model.predict(scenes[1]).shape == (28, 36)


def test_whole_images_of_different_sizes_train_together():
    scenes = [_scene((RED, BLUE), 10, 0), _scene((BLUE, GREEN), 20, 1, size=(28, 36))]
    model = InductiveSegmenter(max_iter=5, **{**SMALL, "crop_size": None}).fit(scenes)
    assert [labels.shape for labels in model.labels_] == [(24, 32), (28, 36)]


def test_unguided_training_and_single_image_inputs():
    image = _scene((RED, BLUE), 10, 0)
    model = InductiveSegmenter(guidance=None, max_iter=20, **SMALL).fit(image)
    assert isinstance(model.labels_, np.ndarray) and model.guidance_labels_ is None
    assert isinstance(model.n_labels_, int)
    assert model.predict(np.stack([image, image])).__class__ is list


def test_a_single_label_guide_is_not_used_with_a_warning():
    from skdynaguide.guidance import PrecomputedGuidance

    image = _scene((RED, BLUE), 10, 0)
    guide = PrecomputedGuidance([np.zeros((24, 32), int)])
    with pytest.warns(UserWarning, match="single label; they were trained without"):
        InductiveSegmenter(guidance=guide, max_iter=2, **SMALL).fit([image])


class NaNInTraining(torch.nn.Module):
    """The small CNN, whose response turns NaN in training from forward pass ``after + 1``."""

    def __init__(self, n_features, n_clusters, after=3):
        super().__init__()
        self.inner = DynaGuideNet(n_features, n_clusters)
        self.response = self.inner.response
        self.after, self.calls = after, 0

    def forward(self, x):
        self.calls += self.training
        out = self.inner(x)
        return out + float("nan") if self.training and self.calls > self.after else out


def test_a_loss_that_turns_nan_stops_training_and_keeps_the_last_weights():
    image = _scene((RED, BLUE), 10, 0)
    model = InductiveSegmenter(network=NaNInTraining, max_iter=10, **SMALL)
    with pytest.warns(RuntimeWarning, match="NaN or infinite at step 4; training stopped"):
        model.fit(image)
    assert model.n_iter_ == 3 and len(model.loss_history_["loss"]) == 3
    assert model.labels_.shape == image.shape[:2]


def test_diverged_weights_give_a_clear_error_and_no_model():
    model = InductiveSegmenter(max_iter=50, lr=1e30, **SMALL)
    with pytest.raises(RuntimeError, match="not finite .* smaller lr"):
        model.fit(_scene((RED, BLUE), 10, 0))
    assert not hasattr(model, "network_")


@pytest.mark.parametrize("params, error, match", [
    (dict(crop_size=0), ValueError, "crop_size"),
    (dict(partial_iter=0), ValueError, "partial_iter"),
    (dict(coordinates="auto"), (ValueError, TypeError), "coordinates"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(matching="nearest"), ValueError, "matching|nearest"),
])
def test_bad_parameters_are_refused_before_any_work(params, error, match):
    with pytest.raises(error, match=match):
        InductiveSegmenter(**params).fit(_scene((RED, BLUE), 10, 0))


def test_predict_needs_a_fitted_model_and_valid_images(model):
    with pytest.raises(NotFittedError):
        InductiveSegmenter().predict(np.zeros((8, 8, 3)))
    fitted, _ = model
    with pytest.raises(ValueError, match="RGBA|channels"):
        fitted.predict(np.zeros((8, 8, 4)))


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(model):
    fitted, _ = model
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "network_")


def test_shared_training_averages_the_crops_and_respects_the_budget():
    config = TrainingConfig(continuity=HuberContinuity(), weighting=FSFWeight(),
                            n_features=8, n_clusters=4)
    tiny = np.random.default_rng(0).random((5, 40, 3), dtype=np.float32)
    big = np.random.default_rng(1).random((30, 30, 3), dtype=np.float32)
    training = SharedTraining(config, seed=0)
    items = [TrainingImage(image=tiny, seed=0), TrainingImage(image=big, seed=0)]
    assert training.run(items, 4, batch_size=3, crop_size=16, rng=np.random.RandomState(0))
    assert training.n_iter == 4
    assert all(len(v) == 4 for v in training.history.values())


def test_merge_small_pieces_keeps_label_values():
    image = np.zeros((4, 6), dtype=np.uint8)
    image[:, 3:] = 200
    labels = np.full((4, 6), 40)
    labels[:, 3:] = 17
    labels[1, 1] = 99  # a speck
    labels[0, 0] = 17  # a speck of a class present elsewhere
    out = merge_small_pieces(image, labels, min_size=2)
    expected = np.full((4, 6), 40)
    expected[:, 3:] = 17
    np.testing.assert_array_equal(out, expected)
    assert labels[1, 1] == 99  # the input is untouched


def test_predict_at_the_training_resolution_agrees_with_the_full_size_pass(model):
    fitted, _ = model
    big = _scene((RED, BLUE), 30, 3, size=(60, 80))  # 4800 pixels, trained at 1200
    shrunk = clone(fitted).set_params(max_pixels=1200, final_resolution="training")
    shrunk.network_ = fitted.network_
    full = fitted.predict_classes(big)
    quick = shrunk.predict_classes(big)
    assert quick.shape == full.shape == (60, 80)
    assert (quick == full).mean() > 0.95
    with pytest.raises(ValueError, match="final_resolution must be one of"):
        shrunk.set_params(final_resolution="half").predict(big)


def test_partial_fit_uses_the_current_learning_rate_not_the_saved_one():
    model = InductiveSegmenter(max_iter=20, partial_iter=5, **SMALL).fit(_scene((RED, BLUE),
                                                                               10, 0))
    before = {k: v.clone() for k, v in model.network_.named_parameters()}
    model.set_params(lr=1e-12).partial_fit(_scene((RED, BLUE), 12, 1))
    assert model._optimizer_state["param_groups"][0]["lr"] == 1e-12
    for name, value in model.network_.named_parameters():
        torch.testing.assert_close(value, before[name], rtol=0, atol=1e-6)


def test_predict_makes_segments_through_the_per_image_output_pipeline(model):
    """The classes of a new image, drawn as DynaGuideSegmenter draws its clusters: the
    image's guide snapped, connected segments of min_size, strong edges kept."""
    from skdynaguide.guidance import FelzenszwalbGuidance
    from skdynaguide.output import output_segments

    fitted, _ = model
    new = _scene((GREEN, RED), 9, 7, size=(26, 40))
    segments = fitted.predict(new)
    raw = clone(fitted).set_params(min_size=None)
    raw.network_ = fitted.network_
    expected = output_segments(new, raw.predict_classes(new), FelzenszwalbGuidance()(new),
                               min_size=fitted.min_size, snap=fitted.snap,
                               keep_edges=fitted.keep_edges)
    np.testing.assert_array_equal(segments, expected)
    assert segments.max() + 1 == len(np.unique(segments)) == 2  # connected, 0..k-1
    assert fitted.n_labels_ == [int(s.max()) + 1 for s in fitted.labels_]


def test_a_saved_model_loads_back_and_bad_files_are_named(model, tmp_path, monkeypatch):
    import skdynaguide._estimator as estimator

    fitted, scenes = model
    path = fitted.save(tmp_path / "model.skdg")
    loaded = InductiveSegmenter.load(path)
    np.testing.assert_array_equal(loaded.predict(scenes[1]), fitted.predict(scenes[1]))
    np.testing.assert_array_equal(loaded.predict_classes(scenes[1]), fitted.classes_[1])

    truncated = tmp_path / "truncated.skdg"
    truncated.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"truncated\.skdg: the saved model is truncated"):
        InductiveSegmenter.load(truncated)
    garbage = tmp_path / "garbage.skdg"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"garbage\.skdg: not a saved InductiveSegmenter"):
        InductiveSegmenter.load(garbage)
    with pytest.raises(FileNotFoundError, match="missing"):
        InductiveSegmenter.load(tmp_path / "missing.skdg")

    monkeypatch.setattr(estimator, "__version__", "0.0.1")
    old = fitted.save(tmp_path / "old.skdg")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"old\.skdg was saved by skdynaguide 0\.0\.1 .* this "
                                         r"is skdynaguide \d"):
        InductiveSegmenter.load(old)
    with pytest.raises(NotFittedError):
        InductiveSegmenter().save(tmp_path / "unfitted.skdg")
