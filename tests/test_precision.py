"""Training in bfloat16 (``precision="bfloat16"``): really lower precision, same answers."""
import numpy as np
import pytest
import torch

from helpers import make_quadrants
from skdynaguide import DynaGuideSegmenter, InductiveSegmenter
from skdynaguide._device import check_precision
from skdynaguide.training.config import TrainingConfig, TrainingImage
from skdynaguide.losses import FSFWeight, HuberContinuity
from skdynaguide.metrics import bsds_best_overlap
from skdynaguide.training.network import DynaGuideNet
from skdynaguide.training import train


class RecordingNet(DynaGuideNet):
    """The small CNN, noting the dtype of every convolution's output."""

    dtypes = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for module in self.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.register_forward_hook(
                    lambda module, inputs, output: RecordingNet.dtypes.append(output.dtype))


@pytest.mark.parametrize("precision, dtype", [("float32", torch.float32),
                                              ("bfloat16", torch.bfloat16)])
def test_the_training_passes_run_at_the_requested_precision(precision, dtype):
    RecordingNet.dtypes = []
    config = TrainingConfig(continuity=HuberContinuity(), weighting=FSFWeight(),
                            network=lambda p, q: RecordingNet(p, q), n_features=8,
                            n_clusters=6, max_iter=3, precision=precision)
    image = np.random.default_rng(0).random((12, 16, 3), dtype=np.float32)
    (result,) = train([TrainingImage(image=image, seed=0)], config)
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in RecordingNet(8, 6).modules())
    steps, final = RecordingNet.dtypes[:3 * n_convs], RecordingNet.dtypes[3 * n_convs:]
    assert set(steps) == {dtype}
    # the labels come from a float32 pass over the trained network
    assert len(final) == n_convs and set(final) == {torch.float32}
    # the losses are computed in float32 whatever the forward's precision
    assert all(np.isfinite(v).all() and v.dtype == np.float64 for v in result.history.values())
    assert result.labels.shape == (12, 16) and result.n_iter == 3


def test_bfloat16_training_finds_the_same_segments():
    image, truth = make_quadrants(64, 64)
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 8, image.shape), 0, 255)
    labels = DynaGuideSegmenter(precision="bfloat16", random_state=0).fit_predict(
        noisy.astype(np.uint8))
    assert labels.max() + 1 == 4
    assert bsds_best_overlap([truth], labels)["all"] > 0.9


def test_the_inductive_model_trains_in_bfloat16_and_predicts_in_float32():
    image, _ = make_quadrants(24, 32)
    model = InductiveSegmenter(precision="bfloat16", n_features=8, n_clusters=6, max_iter=3,
                               crop_size=None, device="cpu", random_state=0).fit([image])
    assert next(model.network_.parameters()).dtype == torch.float32
    assert model.predict(image).shape == (24, 32)


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bfloat16_only_on_a_cpu_that_computes_it_natively(monkeypatch, native):
    import skdynaguide._device as device

    monkeypatch.setattr(device, "native_cpu_bfloat16", lambda: native)
    assert check_precision("auto", "cpu") == ("bfloat16" if native else "float32")
    assert check_precision("auto", "cuda") == "float32"
    image, _ = make_quadrants(16, 16)
    seg = DynaGuideSegmenter(n_features=8, n_clusters=6, max_iter=2,  # the default: auto
                             random_state=0).fit(image)
    assert seg.precision_ == ("bfloat16" if native else "float32")
    assert DynaGuideSegmenter(precision="float32", n_features=8, n_clusters=6, max_iter=2,
                              random_state=0).fit(image).precision_ == "float32"


def test_the_papers_presets_train_in_float32():
    for name in ("dynaguide-paper", "dynaseg-fsf", "dfc"):
        assert DynaGuideSegmenter.from_preset(name).precision == "float32"


def test_precision_is_checked_against_the_device(monkeypatch):
    assert check_precision("float32", "mps") == "float32"
    assert check_precision("bfloat16", "cpu") == "bfloat16"
    with pytest.raises(ValueError, match="CPU or a CUDA device"):
        check_precision("bfloat16", "mps")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    with pytest.raises(ValueError, match="Ampere or newer"):
        check_precision("bfloat16", "cuda")
    with pytest.raises(ValueError, match="precision must be one of"):
        check_precision("half", "cpu")


@pytest.mark.parametrize("estimator", [DynaGuideSegmenter, InductiveSegmenter])
def test_an_unknown_precision_is_refused_before_any_work(estimator):
    with pytest.raises(ValueError, match="precision"):
        estimator(precision="float16").fit(np.zeros((8, 8, 3), np.uint8))
