"""DiffSeg: the pure tensor steps on synthetic attention with known answers, and the provider
end to end on a tiny random Stable Diffusion saved to disk and loaded by the real code."""
import json
import pickle
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone

from conftest import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter, _hub
from skdynaguide.guidance import DiffSegGuidance, WeightsNotFoundError, resolve_guidance
from skdynaguide.guidance import _diffseg_ops as ops
from skdynaguide.guidance.diffseg import capture_self_attention

pytest.importorskip("diffusers")  # the diffseg extra; the test extra installs it
pytest.importorskip("transformers")


# -- synthetic attention ---------------------------------------------------------------------


def two_block_attention(side=8, inside=0.9):
    """(side², side²) attention: left-half locations attend to the left half, right to right.

    ``inside`` of each distribution is uniform over the own half, the rest uniform everywhere.
    """
    cols = np.tile(np.arange(side), side)
    left = cols < side // 2
    same = left[:, None] == left[None, :]
    att = inside * same / same.sum(1, keepdims=True) + (1 - inside) / side**2
    return torch.tensor(att, dtype=torch.float64), left


def test_resolution_weights_are_proportional_to_the_side():
    np.testing.assert_allclose(ops.resolution_weights([64, 32, 16, 8]), np.array([8, 4, 2, 1]) / 15)
    assert ops.resolution_weights([16]) == [1.0]
    with pytest.raises(ValueError, match="positive"):
        ops.resolution_weights([])


def test_upsample_keys_bilinear_then_renormalised():
    # a 2x2 key map with all mass on its left column, upsampled to 4x4 with half-pixel centres:
    # columns get 0.5, 0.375, 0.125, 0 per row, i.e. after renormalising over the 16 cells:
    maps = torch.tensor([[0.5, 0.0, 0.5, 0.0]], dtype=torch.float64)
    out = ops.upsample_keys(maps, 4)
    assert out.shape == (1, 16)
    expected = np.tile([0.125, 0.09375, 0.03125, 0.0], 4)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-12)
    # same side: untouched (already normalised); any input: rows sum to one
    same = ops.upsample_keys(maps, 2)
    np.testing.assert_allclose(same.numpy(), maps.numpy())
    rand = torch.rand(9, 16, dtype=torch.float64)
    np.testing.assert_allclose(ops.upsample_keys(rand, 12).sum(1).numpy(), 1.0)
    with pytest.raises(ValueError, match="not a square"):
        ops.upsample_keys(torch.ones(2, 5), 4)


def test_aggregate_attention_upsamples_keys_repeats_queries_and_weights_by_side():
    gen = torch.Generator().manual_seed(0)
    fine = torch.rand(16, 16, generator=gen, dtype=torch.float64)
    fine /= fine.sum(1, keepdim=True)  # resolution 4
    coarse = torch.rand(4, 4, generator=gen, dtype=torch.float64)
    coarse /= coarse.sum(1, keepdim=True)  # resolution 2
    out = ops.aggregate_attention({4: fine, 2: coarse}, dtype=torch.float64)
    assert out.shape == (4, 4, 4, 4)
    # reference: explicit nearest repetition of the coarse queries, weights 4/6 and 2/6
    keys = ops.upsample_keys(coarse, 4).reshape(2, 2, 16)
    repeated = keys.repeat_interleave(2, dim=0).repeat_interleave(2, dim=1)
    expected = (4 / 6) * fine.reshape(4, 4, 16) + (2 / 6) * repeated
    np.testing.assert_allclose(out.reshape(4, 4, 16).numpy(), expected.numpy(), atol=1e-12)
    np.testing.assert_allclose(out.sum(dim=(2, 3)).numpy(), 1.0)
    # the query at (3, 2) uses the coarse query (1, 1)
    np.testing.assert_allclose(
        out[3, 2].reshape(-1).numpy(),
        ((4 / 6) * fine[14] + (2 / 6) * ops.upsample_keys(coarse[3:4], 4)[0]).numpy(),
    )
    # a single resolution is returned as is; explicit weights are used as given
    np.testing.assert_allclose(ops.aggregate_attention([fine], dtype=torch.float64).reshape(16, 16), fine)
    half = ops.aggregate_attention([fine, fine], weights=[0.5, 0.5], dtype=torch.float64)
    np.testing.assert_allclose(half.reshape(16, 16), fine)


def test_aggregate_attention_rejects_bad_inputs():
    with pytest.raises(ValueError, match="does not divide"):
        ops.aggregate_attention([torch.ones(9, 9) / 9], side=4)
    with pytest.raises(ValueError, match="square"):
        ops.aggregate_attention([torch.ones(4, 9)])
    with pytest.raises(ValueError, match="no attention"):
        ops.aggregate_attention([])


def test_anchor_grid_matches_the_original_positions():
    points = ops.anchor_grid(16, 64)
    assert points.shape == (256, 2)
    expected = np.arange(1, 62, 4)  # 1, 5, ..., 61
    np.testing.assert_array_equal(np.unique(points[:, 0]), expected)
    np.testing.assert_array_equal(points[:16, 0], 1)  # rows vary slowest
    np.testing.assert_array_equal(points[:16, 1], expected)
    np.testing.assert_array_equal(np.unique(ops.anchor_grid(16, 16)[:, 1]), np.arange(16))
    np.testing.assert_array_equal(np.unique(ops.anchor_grid(4, 10)[:, 0]), [0, 3, 6, 9])
    np.testing.assert_array_equal(ops.anchor_grid(1, 9), [[4, 4]])
    assert len(ops.anchor_grid(32, 8)) == 64  # more points than cells: every cell


def test_symmetric_kl_known_values_and_chunking():
    gen = torch.Generator().manual_seed(1)
    p = torch.rand(5, 7, generator=gen, dtype=torch.float64)
    p /= p.sum(1, keepdim=True)
    q = torch.rand(6, 7, generator=gen, dtype=torch.float64)
    q /= q.sum(1, keepdim=True)
    d = ops.symmetric_kl(p, q, chunk_size=4)
    direct = 0.5 * ((p[:, None] - q[None]) * (p[:, None].log() - q[None].log())).sum(-1)
    np.testing.assert_allclose(d.numpy(), direct.numpy(), atol=1e-12)
    np.testing.assert_allclose(ops.symmetric_kl(p, q, chunk_size=1).numpy(), d.numpy(), atol=1e-12)
    np.testing.assert_allclose(torch.diagonal(ops.symmetric_kl(p, p)).numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(ops.symmetric_kl(q, p).numpy(), d.numpy().T, atol=1e-12)
    # two-point distributions: D = ½ (a − b)(ln(a/b) − ln((1−a)/(1−b)))
    two = torch.tensor([[0.5, 0.5], [0.7, 0.3]], dtype=torch.float64)
    assert float(ops.symmetric_kl(two, two)[0, 1]) == pytest.approx(0.1 * (np.log(1.4) - np.log(0.6)))
    # exact zeros stay finite
    assert torch.isfinite(ops.symmetric_kl(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]))).all()


def test_two_blocks_give_exactly_two_proposals_and_the_two_halves():
    att, left = two_block_attention(side=8)
    attention = att.reshape(8, 8, 8, 8)
    anchors = ops.anchor_grid(4, 8)
    first = ops.merge_with_anchors(att, anchors[:, 0] * 8 + anchors[:, 1], 1.1)
    assert first.shape == (16, 64)  # one proposal per anchor before de-duplication
    proposals = ops.iterative_merging(attention, anchors, [1.1, 1.1, 1.1])
    assert proposals.shape == (2, 8, 8)
    # each proposal is its block's distribution
    blocks = {tuple(np.round(p.reshape(-1).numpy(), 9)) for p in proposals}
    assert blocks == {tuple(np.round(att[0].numpy(), 9)), tuple(np.round(att[7].numpy(), 9))}
    labels = ops.proposals_to_labels(proposals, (16, 16))
    assert labels.shape == (16, 16) and labels.dtype == np.int64
    halves = np.repeat(left.reshape(8, 8), 2, axis=0).repeat(2, axis=1)
    assert len(np.unique(labels[halves])) == 1 and len(np.unique(labels[~halves])) == 1
    assert labels[halves][0] != labels[~halves][0]
    # the refinement keeps the two blocks
    refined = ops.refine_proposals(attention, proposals, random_state=0)
    assert refined.shape == (2, 8, 8)
    np.testing.assert_allclose(
        sorted(r.reshape(-1)[0].item() for r in refined), sorted([att[0, 0].item(), att[7, 0].item()])
    )


def test_regions_of_any_shape_are_recovered_exactly_from_their_attention():
    # five Voronoi regions on a 16 x 16 map; each location attends to its own region
    rng = np.random.default_rng(3)
    centres = rng.random((5, 2)) * 16
    rows, cols = np.mgrid[0:16, 0:16].reshape(2, -1)
    region = np.argmin((rows[:, None] - centres[:, 0]) ** 2 + (cols[:, None] - centres[:, 1]) ** 2, axis=1)
    same = region[:, None] == region[None, :]
    att = torch.tensor(0.8 * same / same.sum(1, keepdims=True) + 0.2 / 256).reshape(16, 16, 16, 16)
    for refine in (False, True):
        proposals = ops.iterative_merging(att, ops.anchor_grid(16, 16), [1.1, 1.1, 1.1])
        if refine:
            proposals = ops.refine_proposals(att, proposals, random_state=0)
        labels = ops.proposals_to_labels(proposals, (16, 16)).ravel()
        assert len(proposals) == 5
        assert len(set(zip(labels.tolist(), region.tolist()))) == 5  # the same partition


def test_a_threshold_below_the_block_divergence_keeps_them_apart_a_huge_one_merges_them():
    att, _ = two_block_attention(side=8, inside=0.9)
    between = float(ops.symmetric_kl(att[:1], att[7:8])[0, 0])
    assert between == pytest.approx(32 * (0.9 / 32) * np.log(19), rel=1e-9)  # = 2.65
    attention = att.reshape(8, 8, 8, 8)
    anchors = ops.anchor_grid(4, 8)
    assert len(ops.iterative_merging(attention, anchors, [between * 0.99] * 2)) == 2
    assert len(ops.iterative_merging(attention, anchors, [between * 1.01] * 2)) == 1
    # a single iteration keeps one (duplicated) proposal per anchor
    assert len(ops.iterative_merging(attention, anchors, [1.1])) == 16
    with pytest.raises(ValueError, match="at least one"):
        ops.iterative_merging(attention, anchors, [])


def test_later_merging_iterations_are_greedy_like_the_original():
    # D(0.5, 0.7) = 0.085, D(0.7, 0.88) = 0.103, D(0.5, 0.88) = 0.379: with threshold 0.2,
    # proposal 0 takes {0, 1}; proposal 2 is not grouped yet and takes {1, 2}, reusing 1.
    props = torch.tensor([[0.5, 0.5], [0.7, 0.3], [0.88, 0.12]], dtype=torch.float64)
    merged = ops.merge_proposals(props, 0.2)
    np.testing.assert_allclose(merged.numpy(), [[0.6, 0.4], [0.79, 0.21]])
    np.testing.assert_allclose(ops.merge_proposals(props, 0.05).numpy(), props.numpy())
    np.testing.assert_allclose(ops.merge_proposals(props, 1.0).numpy(), [props.mean(0).numpy()])


def test_proposals_to_labels_and_resize_labels():
    props = torch.zeros(3, 2, 2)
    props[0, 0, 0] = props[1, 0, 1] = props[2, 1] = 1.0
    labels = ops.proposals_to_labels(props, (4, 4))
    np.testing.assert_array_equal(labels, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 2, 2]])
    small = ops.resize_labels(labels, (2, 3))
    np.testing.assert_array_equal(small, [[0, 1, 1], [2, 2, 2]])
    assert ops.resize_labels(labels, (4, 4)).tolist() == labels.tolist()


def test_window_starts_cover_with_half_overlap():
    for length, side in [(481, 321), (640, 360), (100, 99), (1000, 10)]:
        starts = ops.window_starts(length, side)
        assert starts[0] == 0 and starts[-1] + side == length
        assert max(np.diff(starts)) <= side / 2 + 0.5
    assert ops.window_starts(50, 50) == [0]
    with pytest.raises(ValueError):
        ops.window_starts(10, 20)


def test_stitch_windows_recovers_a_partition_seen_through_windows():
    # a (10, 37) image of vertical stripes and one horizontal band
    truth = np.zeros((10, 37), dtype=np.int64)
    truth[:, 9:20] = 1
    truth[:, 20:] = 2
    truth[6:, 25:] = 3
    starts = ops.window_starts(37, 10)
    rng = np.random.default_rng(0)
    windows = []
    for s in starts:  # each window numbers its segments arbitrarily
        crop = truth[:, s:s + 10]
        perm = rng.permutation(10) + 100
        windows.append(perm[crop])
    out = ops.stitch_windows(windows, starts, 37)
    assert out.shape == truth.shape
    pairs = set(zip(out.ravel().tolist(), truth.ravel().tolist()))
    assert len(pairs) == len(np.unique(truth)) == len(np.unique(out))  # same partition


# -- a tiny Stable Diffusion on disk -----------------------------------------------------------


def save_tiny_stable_diffusion(path):
    """UNet, VAE, CLIP text encoder and tokenizer in the diffusers folder layout."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tok = path / "tokenizer"
    tok.mkdir(parents=True)
    (tok / "vocab.json").write_text(json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2}))
    (tok / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tok / "vocab.json"), str(tok / "merges.txt"), model_max_length=8).save_pretrained(tok)
    torch.manual_seed(0)
    text = CLIPTextConfig(
        vocab_size=3, hidden_size=32, intermediate_size=37, num_hidden_layers=1,
        num_attention_heads=4, max_position_embeddings=8, bos_token_id=0, eos_token_id=1,
        pad_token_id=1,
    )
    CLIPTextModel(text).save_pretrained(path / "text_encoder")
    # latent 16 x 16: self-attention at 16² (down and up blocks) and 8² (mid block)
    UNet2DConditionModel(
        sample_size=16, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8,
    ).save_pretrained(path / "unet")
    AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(8, 16), latent_channels=4, norm_num_groups=4, sample_size=32,
    ).save_pretrained(path / "vae")
    return path


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return str(save_tiny_stable_diffusion(tmp_path_factory.mktemp("tiny-sd")))


def test_diffseg_end_to_end_through_the_loading_code(tiny_sd):
    image, _ = make_quadrants(32, 32)
    before = image.copy()
    provider = DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True, kl_threshold=(1e-4,) * 3)
    labels = provider(image)
    assert labels.shape == (32, 32) and labels.dtype == np.int64
    assert labels.min() == 0 and len(np.unique(labels)) == labels.max() + 1 > 1
    np.testing.assert_array_equal(provider(image), labels)  # deterministic
    np.testing.assert_array_equal(image, before)
    model = provider._load_model("cpu", torch.float32)
    assert model["side"] == 32  # UNet sample size 16 × VAE factor 2
    assert model["embedding"].shape == (1, 8, 32)  # the cached empty-prompt embedding
    assert "text_encoder" not in model
    # the capture processors are removed after the pass
    assert not any(type(p).__name__ == "SelfAttentionCapture" for p in model["unet"].attn_processors.values())


def test_capture_returns_the_normal_output_and_the_head_mean_of_the_probabilities(tiny_sd):
    from diffusers.models.attention_processor import AttnProcessor

    model = DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True)._load_model("cpu", torch.float32)
    unet = model["unet"]
    latent = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    args = (latent, torch.tensor([300]))
    reference_maps = {}

    class Reference(AttnProcessor):  # diffusers' own probabilities, recorded per layer
        def __init__(self, name):
            self.name = name

        def __call__(self, attn, hidden_states, *a, **k):
            q = attn.head_to_batch_dim(attn.to_q(hidden_states))
            key = attn.head_to_batch_dim(attn.to_k(hidden_states))
            reference_maps[self.name] = attn.get_attention_scores(q, key).mean(0)
            return super().__call__(attn, hidden_states, *a, **k)

    original = dict(unet.attn_processors)
    try:
        unet.set_attn_processor({n: Reference(n) if n.endswith("attn1.processor") else p
                                 for n, p in original.items()})
        with torch.no_grad():
            expected_out = unet(*args, encoder_hidden_states=model["embedding"]).sample
    finally:
        unet.set_attn_processor(original)
    with torch.no_grad(), capture_self_attention(unet) as store:
        out = unet(*args, encoder_hidden_states=model["embedding"]).sample
    torch.testing.assert_close(out, expected_out, rtol=1e-4, atol=1e-5)
    means = store.means()
    assert sorted(means) == [8, 16] and store.counts == {256: 3, 64: 1}
    by_size = {}
    for probs in reference_maps.values():
        by_size.setdefault(probs.shape[0], []).append(probs)
    for n, maps in by_size.items():
        side = int(np.sqrt(n))
        torch.testing.assert_close(means[side], torch.stack(maps).mean(0), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("window", ["slide", "pad", "resize"])
@pytest.mark.parametrize("shape", [(24, 40), (40, 24)])
def test_non_square_images_are_covered_whole(tiny_sd, window, shape):
    image = np.random.default_rng(0).random((*shape, 3))
    provider = DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True, window=window,
                               kl_threshold=(1e-4,) * 2, refine=False)
    model = provider._load_model("cpu", torch.float32)
    calls = []
    hook = model["unet"].register_forward_hook(lambda *args: calls.append(1))
    try:
        labels = provider(image)
    finally:
        hook.remove()
    assert labels.shape == shape
    assert len(calls) == (3 if window == "slide" else 1)  # slide: windows at 0, 8, 16


@pytest.mark.parametrize("shape", [(40, 24), (24, 40)])
def test_slide_feeds_upright_square_crops_and_stitches_a_consistent_map(tiny_sd, shape, monkeypatch):
    # replace the per-window DiffSeg by a segmenter whose answer is known (colour thresholds)
    rng = np.random.default_rng(0)
    image = np.zeros((*shape, 3))
    image[: shape[0] // 3, :, 0] = 1
    image[:, shape[1] // 2:, 1] = 1
    image = 0.9 * image + rng.random(image.shape) * 0.1
    provider = DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True)
    crops = []

    def known(model, crop, params, random_state):
        crops.append(crop)
        return (crop[..., 0] > 0.5).astype(np.int64) + 2 * (crop[..., 1] > 0.5)

    monkeypatch.setattr(provider, "_segment_window", known)
    labels = provider(image)
    side = min(shape)
    assert len(crops) == 3 and all(c.shape == (side, side, 3) for c in crops)
    for crop, start in zip(crops, ops.window_starts(max(shape), side)):
        expected = image[start:start + side] if shape[0] > shape[1] else image[:, start:start + side]
        np.testing.assert_array_equal(crop, expected.astype(np.float32))
    truth = (image[..., 0] > 0.5) + 2 * (image[..., 1] > 0.5)
    assert len(set(zip(labels.ravel().tolist(), truth.ravel().tolist()))) == len(np.unique(truth)) == 4


def test_diffseg_through_the_segmenter_and_by_name(tiny_sd):
    image, _ = make_quadrants(20, 28)
    provider = DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True, kl_threshold=(1e-4,) * 3)
    seg = DynaGuideSegmenter(guidance=provider, **FAST)
    labels = seg.fit_predict(image)
    assert labels.shape == (20, 28)
    assert seg.guidance_labels_.shape == (20, 28) and seg.guidance_labels_.max() >= 1
    assert type(resolve_guidance("diffseg")) is DiffSegGuidance


def test_model_is_cached_outside_the_parameters(tiny_sd):
    a = DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True, refine=False)
    b = DiffSegGuidance(checkpoint=tiny_sd + "/", local_files_only=True, timestep=100)
    image, _ = make_quadrants(16, 16)
    a(image)
    assert a._load_model("cpu", torch.float32) is b._load_model("cpu", torch.float32)
    copy = clone(a)
    assert copy.get_params() == a.get_params()
    data = pickle.dumps(a)
    assert len(data) < 2000  # parameters only, no weights
    np.testing.assert_array_equal(pickle.loads(data)(image), a(image))


def test_missing_weights_and_extra_are_explained(tiny_sd, tmp_path, monkeypatch):
    image = np.zeros((8, 8, 3))
    with pytest.raises(WeightsNotFoundError, match="does not exist") as info:
        DiffSegGuidance(checkpoint=str(tmp_path / "nowhere"), local_files_only=True)(image)
    message = str(info.value)
    for needle in ("hf download", "snapshot_download", "checkpoint='<DIR>'", "unet/", "tokenizer/",
                   "cache_dir", "HF_HOME"):
        assert needle in message
    assert isinstance(info.value, OSError)
    # a directory without the diffusers sub-folders
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match="UNet2DConditionModel.*/unet"):
        DiffSegGuidance(checkpoint=str(tmp_path / "empty"), local_files_only=True)(image)
    # a repository that is not in the cache, offline
    with pytest.raises(WeightsNotFoundError, match="hf download nonexistent-org/no-such-sd"):
        DiffSegGuidance(checkpoint="nonexistent-org/no-such-sd", local_files_only=True,
                        cache_dir=str(tmp_path / "hf"))(image)
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(ImportError, match=r'pip install "skdynaguide\[diffseg\]"'):
        DiffSegGuidance(checkpoint=tiny_sd)(image)


def test_invalid_parameters_are_reported():
    image = np.zeros((8, 8, 3))
    with pytest.raises(TypeError, match="kl_threshold must be a sequence"):
        DiffSegGuidance(kl_threshold=1.1)(image)
    with pytest.raises(ValueError, match="at least one threshold"):
        DiffSegGuidance(kl_threshold=())(image)
    with pytest.raises(ValueError, match=r"kl_threshold\[i\] must be > 0"):
        DiffSegGuidance(kl_threshold=(1.1, 0))(image)
    with pytest.raises(ValueError, match="window must be one of"):
        DiffSegGuidance(window="tile")(image)
    with pytest.raises(ValueError, match="timestep must be >= 0"):
        DiffSegGuidance(timestep=-1)(image)
    with pytest.raises(TypeError, match="refine must be a bool"):
        DiffSegGuidance(refine="yes")(image)
    with pytest.raises(TypeError, match="checkpoint must be"):
        DiffSegGuidance(checkpoint=3)(image)


def test_clear_model_cache_drops_loaded_models(tiny_sd):
    DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True)._load_model("cpu", torch.float32)
    assert any(key[0] == "diffseg" for key in _hub.cached_keys())
    assert _hub.clear_model_cache() >= 1
    assert not _hub.cached_keys()
