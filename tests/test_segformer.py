"""SegFormer guidance end to end on a tiny random SegFormer saved to disk and loaded by the
real ``from_pretrained`` code (no weights can be downloaded in the tests)."""
import pickle
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone

from helpers import FAST, make_quadrants, save_tiny_segformer
from skdynaguide import DynaGuideSegmenter, _hub
from skdynaguide._image import check_image, relabel_consecutive
from skdynaguide._upsampling import upsampled_argmax
from skdynaguide.guidance import SegFormerGuidance, WeightsNotFoundError, resolve_guidance

pytest.importorskip("transformers")  # the segformer extra; the test extra installs it


@pytest.fixture(scope="module")
def tiny_segformer(tmp_path_factory):
    return save_tiny_segformer(tmp_path_factory.mktemp("tiny-segformer"))


def reference_labels(checkpoint, image, resolution):
    """The documented pipeline written out: processor → model → bilinear → argmax."""
    from transformers import AutoImageProcessor, SegformerForSemanticSegmentation

    processor = AutoImageProcessor.from_pretrained(checkpoint, local_files_only=True)
    model = SegformerForSemanticSegmentation.from_pretrained(checkpoint, local_files_only=True).eval()
    uint8 = np.round(check_image(image) * 255).astype(np.uint8)
    pixels = processor(images=uint8, size={"height": resolution, "width": resolution},
                       return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        logits = model(pixel_values=pixels).logits
    assert logits.shape[-1] == resolution // 4
    up = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
    return relabel_consecutive(up[0].argmax(0).numpy())


def test_segformer_end_to_end_matches_the_documented_pipeline(tiny_segformer):
    image = np.random.default_rng(0).integers(0, 256, (23, 41, 3), dtype=np.uint8)
    before = image.copy()
    provider = SegFormerGuidance(checkpoint=tiny_segformer, local_files_only=True, resolution=32)
    labels = provider(image)
    assert labels.shape == (23, 41) and labels.dtype == np.int64
    assert len(np.unique(labels)) == labels.max() + 1 > 1
    np.testing.assert_array_equal(labels, reference_labels(tiny_segformer, image, 32))
    np.testing.assert_array_equal(image, before)
    # resolution=None keeps the processor's own size (32 here)
    np.testing.assert_array_equal(
        SegFormerGuidance(checkpoint=tiny_segformer, local_files_only=True, resolution=None)(image),
        labels,
    )
    assert not np.array_equal(
        SegFormerGuidance(checkpoint=tiny_segformer, local_files_only=True, resolution=64)(image),
        labels,
    )


def test_batched_inference_equals_one_image_at_a_time(tiny_segformer):
    rng = np.random.default_rng(1)
    images = [check_image(rng.random(shape)) for shape in [(20, 30, 3), (33, 17, 3), (24, 24, 3)]]
    provider = SegFormerGuidance(checkpoint=tiny_segformer, local_files_only=True, resolution=32,
                                 batch_size=2)
    batched = provider.segment_batch(images, [None] * 3)
    single = [provider.segment(im) for im in images]
    for b, s, im in zip(batched, single, images):
        assert b.shape == im.shape[:2]
        np.testing.assert_array_equal(b, s)


def test_upsampled_argmax_in_chunks_equals_the_full_argmax():
    logits = torch.randn(11, 5, 7, generator=torch.Generator().manual_seed(0))
    full = F.interpolate(logits[None], size=(13, 29), mode="bilinear", align_corners=False)[0].argmax(0)
    for chunk in (1, 3, 16):
        np.testing.assert_array_equal(upsampled_argmax(logits, (13, 29), chunk=chunk), full.numpy())
    ties = torch.zeros(4, 2, 2)
    assert upsampled_argmax(ties, (3, 3), chunk=1).tolist() == [[0] * 3] * 3


def test_segformer_through_the_segmenter_and_by_name(tiny_segformer):
    image, _ = make_quadrants(20, 28)
    provider = SegFormerGuidance(checkpoint=tiny_segformer, local_files_only=True, resolution=32)
    seg = DynaGuideSegmenter(guidance=provider, **FAST)
    labels = seg.fit_predict(image)
    assert labels.shape == (20, 28) and seg.guidance_labels_.shape == (20, 28)
    np.testing.assert_array_equal(seg.guidance_labels_, provider(image))
    many = seg.fit_predict([image, image[:, :15]])
    assert [m.shape for m in many] == [(20, 28), (20, 15)]
    default = resolve_guidance("segformer")
    assert type(default) is SegFormerGuidance
    assert default.checkpoint == "nvidia/segformer-b0-finetuned-ade-512-512"


def test_model_is_cached_outside_the_parameters(tiny_segformer):
    a = SegFormerGuidance(checkpoint=tiny_segformer, local_files_only=True, resolution=32)
    b = SegFormerGuidance(checkpoint=tiny_segformer, local_files_only=False, batch_size=1)
    image, _ = make_quadrants(16, 16)
    expected = a(image)
    assert a._load_model("cpu", torch.float32) is b._load_model("cpu", torch.float32)
    assert clone(a).get_params() == a.get_params()
    data = pickle.dumps(a)
    assert len(data) < 2000  # parameters only, no weights
    np.testing.assert_array_equal(pickle.loads(data)(image), expected)


def test_missing_weights_and_extra_are_explained(tmp_path, monkeypatch):
    image = np.zeros((8, 8, 3))
    with pytest.raises(WeightsNotFoundError, match="does not exist") as info:
        SegFormerGuidance(checkpoint=str(tmp_path / "nowhere"), local_files_only=True)(image)
    for needle in ("hf download", "snapshot_download", "checkpoint='<DIR>'", "local_files_only=True",
                   "cache_dir", "HF_HOME"):
        assert needle in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match="could not load"):
        SegFormerGuidance(checkpoint=str(tmp_path / "empty"), local_files_only=True)(image)
    with pytest.raises(FileNotFoundError, match="hf download nvidia/segformer-b0-finetuned-ade-512-512"):
        SegFormerGuidance(local_files_only=True, cache_dir=str(tmp_path / "hf"))(image)
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r'pip install "skdynaguide\[segformer\]"'):
        SegFormerGuidance(local_files_only=True)(image)


def test_invalid_parameters_are_reported():
    image = np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match="resolution must be >= 16"):
        SegFormerGuidance(resolution=8)(image)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        SegFormerGuidance(batch_size=0)(image)
    with pytest.raises(TypeError, match="half must be a bool"):
        SegFormerGuidance(half="yes")(image)
    with pytest.raises(ValueError, match="device 'tpu' is not a torch device"):
        SegFormerGuidance(device="tpu")(image)
    with pytest.raises(TypeError, match="cache_dir must be"):
        SegFormerGuidance(cache_dir=1)(image)
    assert _hub.is_local_path("./model") and not _hub.is_local_path("nvidia/segformer-b0")


def test_a_repository_id_is_found_in_a_copied_hugging_face_cache(tiny_segformer, tmp_path):
    # the Hub cache layout: models--<owner>--<name>/refs/main and snapshots/<commit>/
    import shutil

    repo = tmp_path / "hub" / "models--someone--tiny-segformer"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_segformer, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    image, _ = make_quadrants(12, 18)
    expected = SegFormerGuidance(checkpoint=tiny_segformer, local_files_only=True, resolution=32)(image)
    # local_files_only=False: found in the cache first, without touching the network
    provider = SegFormerGuidance(checkpoint="someone/tiny-segformer", cache_dir=str(tmp_path / "hub"),
                                 resolution=32)
    np.testing.assert_array_equal(provider(image), expected)


# -- the checkpoint's own size and the paper's checkpoint -------------------------------------


def record_pixel_shapes(model):
    """Install a hook that records the shape of the pixels each forward pass receives."""
    shapes = []

    def hook(module, args, kwargs):
        pixels = kwargs["pixel_values"] if "pixel_values" in kwargs else args[0]
        shapes.append(tuple(pixels.shape[-2:]))

    return shapes, model.register_forward_pre_hook(hook, with_kwargs=True)


def test_resolution_follows_the_checkpoints_processor_unless_set(tmp_path):
    # a checkpoint whose processor says 64 x 64 (as a Cityscapes one says 1024 x 1024)
    checkpoint = save_tiny_segformer(tmp_path / "tiny-64", size=64)
    image = np.random.default_rng(2).random((30, 50, 3))
    seen = {}
    for resolution in (None, 32, 48):
        provider = SegFormerGuidance(checkpoint=checkpoint, local_files_only=True,
                                     resolution=resolution)
        _, model = provider._load_model("cpu", torch.float32)
        shapes, handle = record_pixel_shapes(model)
        try:
            labels = provider(image)
        finally:
            handle.remove()
        assert labels.shape == (30, 50)
        seen[resolution] = shapes
    assert seen == {None: [(64, 64)], 32: [(32, 32)], 48: [(48, 48)]}
    assert SegFormerGuidance().resolution is None  # the default follows the checkpoint


def test_the_papers_checkpoint_by_name():
    provider = SegFormerGuidance.from_preset("dynaguide")
    assert provider.checkpoint == "nvidia/segformer-b2-finetuned-ade-512-512"
    assert provider.resolution is None and provider.half is False  # 512 x 512, float32
    assert SegFormerGuidance.from_preset("dynaguide", batch_size=2).batch_size == 2
    with pytest.raises(ValueError, match=r"unknown SegFormer preset 'b2'.*'dynaguide'"):
        SegFormerGuidance.from_preset("b2")
    with pytest.raises(TypeError):
        SegFormerGuidance.presets["dynaguide"]["checkpoint"] = "b0"


def test_dynaguide_segformer_preset_carries_the_guide(tiny_segformer):
    a = DynaGuideSegmenter.from_preset("dynaguide-segformer")
    paper = DynaGuideSegmenter.from_preset("dynaguide-paper").get_params(deep=False)
    assert {k: v for k, v in a.get_params(deep=False).items() if k != "guidance"} == {
        k: v for k, v in paper.items() if k != "guidance"}
    assert a.guidance.get_params() == SegFormerGuidance.from_preset("dynaguide").get_params()
    b = DynaGuideSegmenter.from_preset("dynaguide-segformer")
    assert a.guidance is not b.guidance
    a.set_params(guidance__batch_size=1)
    assert b.guidance.batch_size == 8
    assert DynaGuideSegmenter.from_preset("dynaguide-segformer").guidance.batch_size == 8
    # with the weights in a local directory (here a tiny random model), briefly
    seg = DynaGuideSegmenter.from_preset("dynaguide-segformer", **FAST, max_pixels=400)
    seg.set_params(guidance__checkpoint=tiny_segformer, guidance__local_files_only=True)
    image, _ = make_quadrants(16, 24)
    assert seg.fit_predict(image).shape == (16, 24)
    np.testing.assert_array_equal(seg.guidance_labels_, seg.guidance(image))
