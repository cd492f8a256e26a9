"""DiffSeg: the pure tensor steps on synthetic attention with known answers, and the provider
end to end on a tiny random Stable Diffusion saved to disk and loaded by the real code."""
import json
import pickle
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone

from helpers import FAST, make_quadrants
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


def save_tiny_stable_diffusion(path, *, max_tokens=8, block_out_channels=(32, 64),
                               layers_per_block=1):
    """UNet, VAE, CLIP text encoder and tokenizer in the diffusers folder layout.

    By default a latent of 16 x 16 with self-attention at 16² (down and up blocks) and 8²
    (mid block); one cross-attention block per resolution of ``block_out_channels`` but the
    last, ``layers_per_block`` layers in each down block (one more in each up block).
    """
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tok = path / "tokenizer"
    tok.mkdir(parents=True)
    (tok / "vocab.json").write_text(json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2}))
    (tok / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tok / "vocab.json"), str(tok / "merges.txt"),
                  model_max_length=max_tokens).save_pretrained(tok)
    torch.manual_seed(0)
    text = CLIPTextConfig(
        vocab_size=3, hidden_size=32, intermediate_size=37, num_hidden_layers=1,
        num_attention_heads=4, max_position_embeddings=max_tokens, bos_token_id=0,
        eos_token_id=1, pad_token_id=1,
    )
    CLIPTextModel(text).save_pretrained(path / "text_encoder")
    n_attention = len(block_out_channels) - 1
    UNet2DConditionModel(
        sample_size=16, block_out_channels=block_out_channels, layers_per_block=layers_per_block,
        down_block_types=("CrossAttnDownBlock2D",) * n_attention + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * n_attention,
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


@pytest.mark.parametrize("window", ["slide", "center", "pad", "resize"])
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
    windows = r"window must be one of \['slide', 'center', 'pad', 'resize'\]"
    with pytest.raises(ValueError, match=windows):
        DiffSegGuidance(window="tile")(image)
    with pytest.raises(ValueError, match="timestep must be >= 0"):
        DiffSegGuidance(timestep=-1)(image)
    with pytest.raises(TypeError, match="refine must be a bool"):
        DiffSegGuidance(refine="yes")(image)
    with pytest.raises(TypeError, match="antialias must be a bool"):
        DiffSegGuidance(antialias=None)(image)
    with pytest.raises(TypeError, match="checkpoint must be"):
        DiffSegGuidance(checkpoint=3)(image)


def test_clear_model_cache_drops_loaded_models(tiny_sd):
    DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True)._load_model("cpu", torch.float32)
    assert any(key[0] == "diffseg" for key in _hub.cached_keys())
    assert _hub.clear_model_cache() >= 1
    assert not _hub.cached_keys()


# -- the input pipeline and the original's protocol, against independent expectations --------


def bilinear_reference(image, height, width):
    """Bilinear resize with half-pixel centres, clamped at the edges and without antialiasing,
    written out in numpy: the convention of the original's ``tf.image.resize`` and Keras'
    bilinear ``UpSampling2D``. ``image`` is (h, w) or (h, w, c)."""

    def axis(n_in, n_out):
        source = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = np.floor(source).astype(int)
        return low, np.minimum(low + 1, n_in - 1), source - low

    image = np.asarray(image, dtype=np.float64)
    r0, r1, wr = axis(image.shape[0], height)
    c0, c1, wc = axis(image.shape[1], width)
    extra = (None,) * (image.ndim - 2)
    wr = wr[(slice(None), None, *extra)]
    wc = wc[(None, slice(None), *extra)]
    top = image[r0][:, c0] * (1 - wc) + image[r0][:, c1] * wc
    bottom = image[r1][:, c0] * (1 - wc) + image[r1][:, c1] * wc
    return top * (1 - wr) + bottom * wr


def test_bilinear_reference_on_hand_computed_values():
    # 2 -> 4: source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    np.testing.assert_allclose(bilinear_reference([[0.0, 1.0]], 1, 4), [[0, 0.25, 0.75, 1]])
    # 4 -> 2: source positions 0.5 and 2.5, i.e. plain averages of neighbours (no low-pass)
    np.testing.assert_allclose(bilinear_reference([[0.0, 1.0, 3.0, 7.0]], 1, 2), [[0.5, 5.0]])


@pytest.mark.parametrize("shape", [(20, 20), (48, 48), (13, 29)])
@pytest.mark.parametrize("antialias", [False, True])
def test_model_input_is_the_bilinear_resize_scaled_to_minus_one_one(shape, antialias):
    image = np.random.default_rng(0).random((*shape, 3)).astype(np.float32)
    before = image.copy()
    pixels = ops.model_input(image, 32, antialias=antialias)
    assert pixels.shape == (1, 3, 32, 32) and pixels.dtype == torch.float32
    np.testing.assert_array_equal(image, before)
    expected = 2 * bilinear_reference(image, 32, 32) - 1  # the original's x / 127.5 - 1 on 0..255
    out = pixels[0].permute(1, 2, 0).numpy()
    if antialias and max(shape) > 32:  # shrinking with antialiasing low-passes: not the original
        assert np.abs(out - expected).max() > 0.05
    else:  # enlarging is the same either way; shrinking without it is the original's resize
        np.testing.assert_allclose(out, expected, atol=1e-5)
    assert out.min() >= -1 and out.max() <= 1


def test_center_square_is_the_originals_crop():
    # the original: c = min(h, w), offsets (h - c) // 2 and (w - c) // 2
    assert ops.center_square(321, 481) == (0, 80, 321)
    assert ops.center_square(481, 321) == (80, 0, 321)
    assert ops.center_square(10, 7) == (1, 0, 7)
    assert ops.center_square(7, 12) == (0, 2, 7)
    assert ops.center_square(6, 6) == (0, 0, 6)


def save_tiny_stable_diffusion_four_resolutions(path):
    """Stable Diffusion v1.x's layout scaled down: latent 16², self-attention at 16², 8², 4²
    (two layers in each down block, three in each up block: 5 each) and 2² (the mid block:
    1), as SD's 64², 32², 16², 8²; a 77-token tokenizer as SD's; VAE factor 2 (input 32²)."""
    return save_tiny_stable_diffusion(path, max_tokens=77, block_out_channels=(16, 16, 32, 32),
                                      layers_per_block=2)


@pytest.fixture(scope="module")
def tiny_sd4(tmp_path_factory):
    return str(save_tiny_stable_diffusion_four_resolutions(tmp_path_factory.mktemp("tiny-sd4")))


def record_unet_inputs(unet):
    """Install a hook that records the keyword-complete inputs of every UNet call."""
    calls = []

    def hook(module, args, kwargs):
        names = ("sample", "timestep", "encoder_hidden_states")
        calls.append({**dict(zip(names, args)), **kwargs})

    return calls, unet.register_forward_pre_hook(hook, with_kwargs=True)


def test_the_unet_receives_the_originals_inputs(tiny_sd4):
    from diffusers import AutoencoderKL
    from transformers import CLIPTextModel

    image = np.random.default_rng(1).random((24, 40, 3)).astype(np.float32)
    provider = DiffSegGuidance.from_preset("benchmark", checkpoint=tiny_sd4, local_files_only=True)
    model = provider._load_model("cpu", torch.float32)
    calls, handle = record_unet_inputs(model["unet"])
    try:
        labels = provider(image)
    finally:
        handle.remove()
    assert len(calls) == 1
    call = calls[0]
    # the central square (rows 0-23, columns 8-31) resized to 32 × 32 and scaled to [-1, 1]
    pixels = 2 * bilinear_reference(image[:, 8:32], 32, 32) - 1
    pixels = torch.tensor(pixels, dtype=torch.float32).permute(2, 0, 1)[None]
    # the clean latent: the mean of the VAE's distribution times 0.18215, no noise
    vae = AutoencoderKL.from_pretrained(tiny_sd4, subfolder="vae").eval()
    assert vae.config.scaling_factor == 0.18215
    with torch.no_grad():
        latent = vae.encode(pixels).latent_dist.mean * 0.18215
    torch.testing.assert_close(call["sample"], latent, rtol=1e-4, atol=1e-5)
    assert call["timestep"].tolist() == [300]
    # the empty prompt: start token then end-of-text padding to 77 tokens, as the original's
    # unconditional context; ids 0 and 1 in this vocabulary (49406, 49407 in SD's)
    text = CLIPTextModel.from_pretrained(tiny_sd4, subfolder="text_encoder").eval()
    with torch.no_grad():
        empty = text(torch.tensor([[0] + [1] * 76]))[0]
    assert call["encoder_hidden_states"].shape == (1, 77, 32)
    torch.testing.assert_close(call["encoder_hidden_states"], empty)
    # outside the square the labels continue those of its border columns
    assert labels.shape == (24, 40)
    np.testing.assert_array_equal(labels[:, :8], np.repeat(labels[:, 8:9], 8, axis=1))
    np.testing.assert_array_equal(labels[:, 32:], np.repeat(labels[:, 31:32], 8, axis=1))


def test_antialias_changes_only_windows_shrunk_to_the_input(tiny_sd4):
    rng = np.random.default_rng(2)
    samples = {}
    for shape in [(64, 64), (20, 20)]:
        image = rng.random((*shape, 3))
        for antialias in (False, True):
            provider = DiffSegGuidance(checkpoint=tiny_sd4, local_files_only=True,
                                       antialias=antialias)
            calls, handle = record_unet_inputs(provider._load_model("cpu", torch.float32)["unet"])
            try:
                provider(image)
            finally:
                handle.remove()
            samples[shape, antialias] = calls[0]["sample"]
    assert not torch.allclose(samples[(64, 64), False], samples[(64, 64), True], atol=1e-3)
    torch.testing.assert_close(samples[(20, 20), False], samples[(20, 20), True])


def test_four_resolutions_are_averaged_5_5_5_1_and_weighted_by_their_side(tiny_sd4):
    from diffusers.models.attention_processor import AttnProcessor

    provider = DiffSegGuidance(checkpoint=tiny_sd4, local_files_only=True)
    model = provider._load_model("cpu", torch.float32)
    unet = model["unet"]
    crop = np.random.default_rng(3).random((32, 32, 3)).astype(np.float32)
    aggregated = provider._attention(model, crop, provider._check_params())
    assert aggregated.shape == (16, 16, 16, 16)

    # reference: diffusers' own attention probabilities of every self-attention layer
    layers = []

    class Reference(AttnProcessor):
        def __call__(self, attn, hidden_states, *args, **kwargs):
            query = attn.head_to_batch_dim(attn.to_q(hidden_states))
            key = attn.head_to_batch_dim(attn.to_k(hidden_states))
            layers.append(attn.get_attention_scores(query, key).mean(0).double().numpy())
            return super().__call__(attn, hidden_states, *args, **kwargs)

    original = dict(unet.attn_processors)
    unet.set_attn_processor({n: Reference() if n.endswith("attn1.processor") else p
                             for n, p in original.items()})
    try:
        with torch.no_grad():
            latent = model["vae"].encode(ops.model_input(crop, 32)).latent_dist.mean * 0.18215
            unet(latent, torch.tensor([300]), encoder_hidden_states=model["embedding"])
    finally:
        unet.set_attn_processor(original)
    by_side = {}
    for probs in layers:
        by_side.setdefault(int(np.sqrt(probs.shape[0])), []).append(probs)
    assert {side: len(maps) for side, maps in by_side.items()} == {16: 5, 8: 5, 4: 5, 2: 1}

    # aggregation written out: key maps bilinearly resized to 16² and renormalised, queries
    # repeated over the 16/r × 16/r cells they cover, resolutions weighted r / (16+8+4+2)
    expected = np.zeros((16, 16, 16, 16))
    for side, maps in by_side.items():
        mean = np.mean(maps, axis=0)  # over the layers of this resolution
        keys = np.stack([bilinear_reference(row.reshape(side, side), 16, 16) for row in mean])
        keys /= keys.sum(axis=(1, 2), keepdims=True)
        ratio = 16 // side
        queries = keys.reshape(side, side, 16, 16).repeat(ratio, axis=0).repeat(ratio, axis=1)
        expected += side / 30 * queries
    np.testing.assert_allclose(aggregated.double().numpy(), expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("shape", [(24, 40), (40, 24), (21, 30)])
def test_center_window_feeds_only_the_central_square(tiny_sd, shape, monkeypatch):
    image = np.random.default_rng(4).random((*shape, 3))
    provider = DiffSegGuidance(checkpoint=tiny_sd, local_files_only=True, window="center")
    crops = []

    def known(model, crop, params, random_state):  # a segmenter whose answer is known
        crops.append(crop)
        return np.arange(crop.shape[0] * crop.shape[1]).reshape(crop.shape[:2])

    monkeypatch.setattr(provider, "_segment_window", known)
    labels = provider(image)
    top, left, side = ops.center_square(*shape)
    assert len(crops) == 1
    np.testing.assert_array_equal(crops[0], image[top:top + side, left:left + side].astype(np.float32))
    inside = known(None, crops[0], None, None)
    # inside, the window's labels; outside, those of the nearest pixel of the square
    rows = np.clip(np.arange(shape[0]) - top, 0, side - 1)
    cols = np.clip(np.arange(shape[1]) - left, 0, side - 1)
    np.testing.assert_array_equal(labels, inside[rows[:, None], cols[None, :]])


def test_full_precision_unless_half_on_cuda(monkeypatch):
    from skdynaguide.guidance import diffseg

    assert DiffSegGuidance()._check_params()["dtype"] == torch.float32  # the CPU, or CUDA
    assert DiffSegGuidance(device="cpu", half=True)._check_params()["dtype"] == torch.float32
    # on CUDA (the device resolution stubbed: no GPU here), float16 only when asked for
    monkeypatch.setattr(diffseg, "resolve_device", lambda device: "cuda:0")
    assert DiffSegGuidance()._check_params()["dtype"] == torch.float32
    assert DiffSegGuidance(half=True)._check_params()["dtype"] == torch.float16
    for name in DiffSegGuidance.presets:
        assert DiffSegGuidance.from_preset(name)._check_params()["dtype"] == torch.float32


def test_presets_are_the_originals_published_settings():
    benchmark = DiffSegGuidance.from_preset("benchmark")
    cityscapes = DiffSegGuidance.from_preset("benchmark-cityscapes")
    demo = DiffSegGuidance.from_preset("demo")
    for provider in (benchmark, cityscapes, demo):
        params = provider.get_params()
        assert params["window"] == "center" and params["antialias"] is False
        assert params["half"] is False and params["timestep"] == 300
        assert params["anchor_grid"] == 16
    assert benchmark.kl_threshold == (1.1, 1.1, 1.1) and benchmark.refine is False
    assert cityscapes.kl_threshold == (0.9, 0.9, 0.9) and cityscapes.refine is False
    assert demo.kl_threshold == (0.9, 0.9, 0.9) and demo.refine is True
    # the defaults are the benchmark's but for how the image is covered
    default, reference = DiffSegGuidance().get_params(), benchmark.get_params()
    assert {k: v for k, v in default.items() if reference[k] != v} == dict(window="slide",
                                                                           antialias=True)
    # parameters override; the table cannot be changed through a provider or directly
    assert DiffSegGuidance.from_preset("demo", refine=False, checkpoint="x").get_params()[
        "refine"] is False
    with pytest.raises(TypeError):
        DiffSegGuidance.presets["demo"]["refine"] = False
    with pytest.raises(ValueError, match=r"unknown DiffSeg preset 'coco'.*'benchmark'"):
        DiffSegGuidance.from_preset("coco")


def test_dynaguide_diffseg_preset_carries_the_guide_and_the_paper_training(tiny_sd4):
    from skdynaguide.family.presets import PRESETS

    a = DynaGuideSegmenter.from_preset("dynaguide-diffseg")
    paper = DynaGuideSegmenter.from_preset("dynaguide-paper").get_params(deep=False)
    own = a.get_params(deep=False)
    assert {k: v for k, v in own.items() if k != "guidance"} == {
        k: v for k, v in paper.items() if k != "guidance"}
    expected = DiffSegGuidance.from_preset("benchmark", window="slide").get_params()
    assert isinstance(a.guidance, DiffSegGuidance) and a.guidance.get_params() == expected
    # each segmenter gets its own guide: changing one changes neither the preset nor others
    b = DynaGuideSegmenter.from_preset("dynaguide-diffseg")
    assert a.guidance is not b.guidance
    a.set_params(guidance__refine=True)
    assert not b.guidance.refine and not PRESETS["dynaguide-diffseg"]["guidance"].refine
    assert not DynaGuideSegmenter.from_preset("dynaguide-diffseg").guidance.refine
    with pytest.raises(TypeError):
        PRESETS["dynaguide-diffseg"] = {}
    # one line, with the weights in a local directory, runs it (here briefly)
    # (a small threshold: this random model's attention is nearly uniform)
    seg = DynaGuideSegmenter.from_preset("dynaguide-diffseg", **FAST, max_pixels=400)
    seg.set_params(guidance__checkpoint=tiny_sd4, guidance__local_files_only=True,
                   guidance__kl_threshold=(1e-4,) * 3)
    image, _ = make_quadrants(16, 24)
    assert seg.fit_predict(image).shape == (16, 24) and seg.guidance_labels_.max() >= 1
