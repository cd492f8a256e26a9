"""Time and memory of the pretrained guidance providers, per image, at their real model sizes.

The weights cannot be downloaded on a machine without network access, so by default each
model is built at the published checkpoint's *size* with random weights (inference costs the
same), saved to a temporary directory and loaded back through the provider's own
``from_pretrained`` path. With ``--segformer DIR`` / ``--diffseg DIR`` the real checkpoints
are used instead. Each provider runs in its own subprocess so that its peak RSS is its own.

    python benchmarks/bench_guidance_cost.py                      # both, 512 x 512 images
    python benchmarks/bench_guidance_cost.py --providers segformer --repeats 5
    OMP_NUM_THREADS=1 python benchmarks/bench_guidance_cost.py    # one core

Prints a markdown table: seconds per image (median over the repeats after one warm-up call),
the model loading time, the process's peak RSS after loading and at the end (torch and the
libraries included).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_gib():
    """Peak resident set size of this process so far, GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def save_segformer_b0_size(path):
    """Random SegFormer with b0's architecture (``SegformerConfig()`` defaults, 150 classes)."""
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    torch.manual_seed(0)
    SegformerForSemanticSegmentation(SegformerConfig(num_labels=150)).save_pretrained(path)
    SegformerImageProcessor(size={"height": 512, "width": 512}).save_pretrained(path)


def save_sd14_size(path):
    """Random UNet and VAE with Stable Diffusion v1.4's architecture; a small text encoder.

    The text encoder only produces the (1, 77, 768) empty-prompt embedding once, so a
    one-layer CLIP text model of width 768 stands in for the 123 M-parameter one.
    """
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    tok = path / "tokenizer"
    tok.mkdir(parents=True)
    (tok / "vocab.json").write_text(json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2}))
    (tok / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tok / "vocab.json"), str(tok / "merges.txt"), model_max_length=77).save_pretrained(tok)
    CLIPTextModel(CLIPTextConfig(
        vocab_size=3, hidden_size=768, intermediate_size=768, num_hidden_layers=1,
        num_attention_heads=12, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
        pad_token_id=1,
    )).save_pretrained(path / "text_encoder")
    UNet2DConditionModel(
        sample_size=64, cross_attention_dim=768, attention_head_dim=8,
        block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    ).save_pretrained(path / "unet")
    AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
        sample_size=512,
    ).save_pretrained(path / "vae")


def measure(provider_name, checkpoint, size, repeats, device):
    """Run in a subprocess: time one provider on random images; print a JSON line."""
    import torch

    from skdynaguide.guidance import DiffSegGuidance, SegFormerGuidance

    cls = SegFormerGuidance if provider_name == "segformer" else DiffSegGuidance
    provider = cls(checkpoint=checkpoint, local_files_only=True, device=device)
    if provider_name == "segformer":
        _, _, device, dtype = provider._check_params()
    else:
        params = provider._check_params()
        device, dtype = params["device"], params["dtype"]
    start = time.perf_counter()
    provider._load_model(device, dtype)
    load_seconds = time.perf_counter() - start
    loaded = _rss_gib()
    image = np.random.default_rng(0).random((size, size, 3))
    provider(image)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        provider(image)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    print(json.dumps(dict(
        provider=provider_name, seconds=statistics.median(times), load_seconds=load_seconds,
        rss_after_load_gib=loaded, peak_rss_gib=_rss_gib(), threads=torch.get_num_threads(),
        device=device,
    )))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", default="segformer,diffseg")
    parser.add_argument("--segformer", help="real SegFormer checkpoint directory (default: b0-size random)")
    parser.add_argument("--diffseg", help="real Stable Diffusion v1.x directory (default: v1.4-size random)")
    parser.add_argument("--size", type=int, default=512, help="side of the square test image")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--_measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._measure:
        measure(*args._measure, args.size, args.repeats, args.device)
        return
    savers = dict(segformer=save_segformer_b0_size, diffseg=save_sd14_size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.providers.split(","):
            checkpoint = getattr(args, name)
            model = "given checkpoint"
            if checkpoint is None:
                checkpoint = Path(tmp) / name
                savers[name](checkpoint)
                model = "random, published size"
            out = subprocess.run(
                [sys.executable, __file__, "--_measure", name, str(checkpoint), "--size",
                 str(args.size), "--repeats", str(args.repeats), "--device", args.device],
                check=True, capture_output=True, text=True,
            ).stdout
            rows.append(dict(json.loads(out.strip().splitlines()[-1]), model=model))
    print(f"| provider | weights | device | threads | s/image ({args.size}²) | load s "
          "| peak RSS after load GiB | peak RSS GiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['provider']} | {r['model']} | {r['device']} | {r['threads']} | "
              f"{r['seconds']:.2f} | {r['load_seconds']:.1f} | {r['rss_after_load_gib']:.2f} | "
              f"{r['peak_rss_gib']:.2f} |")


if __name__ == "__main__":
    main()
