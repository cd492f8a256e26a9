"""Speed, memory and quality of the paper preset against the library default (issue 5).

    python benchmarks/bench_speed.py --data-root ../shared/data [--split val] [--limit N]
        [--paper-steps K | --paper-full] [--default-steps T] [--batch-size B] [--mp12]
        [--trials] [--json F]
    python benchmarks/bench_speed.py --data-root ../shared/data --ladder

Every configuration runs in a fresh subprocess (``--worker``), so its peak resident memory
(``ru_maxrss``) is its own; the baseline of an idle worker (Python, numpy, torch and the
library imported, no image) is printed beside it. Rows:

* ``paper``: ``DynaGuideSegmenter.from_preset("dynaguide-paper")`` (full resolution, 1000
  steps). Unless ``--paper-full``, each image runs 1 and ``K`` steps; the seconds of the
  1000-step run are *extrapolated* as ``t1 + (tK - t1)/(K - 1) · 999`` and flagged ``extrap``,
  and its mIoU is not reported (it would not be the preset's). ``--paper-full`` runs it to
  completion (about half an hour per image on two CPU cores).
* ``default``: ``DynaGuideSegmenter()`` (reduced-resolution training, full-size prediction).
* ``batched``: the default on all images at once with ``batch_size=B``, against the
  one-by-one run: images per second.
* ``12MP``: the default on the first image upsampled to 4000×3000 (``--mp12``).
* the floor: FLOPs of one training step of the network (forward, loss, backward; counted by
  ``torch.utils.flop_counter``) at the first image's size and at the default training size,
  and the FLOP/s a plain 3×3 conv (p → p) forward+backward reaches on this machine.
* ``--trials``: one training step in float32 against bf16 autocast, and torch.compile.

mIoU is the BSD500 best-overlap Mean (SPEC §3) on raw labels and after connected components,
pooled over the images. Seconds include the guidance. Timings on a shared machine are
contended; the thread count is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PAPER_ITERATIONS = 1000


# -- the worker: one configuration in its own process --------------------------------------

def _load(data_root, split, limit):
    sys.path.insert(0, str(HERE))
    from bench_bsds import load_split

    return load_split(data_root, split, limit)


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(spec):
    """Run one configuration; print one JSON line with per-image seconds and the peak RSS."""
    import torch  # noqa: F401  (part of the baseline)
    from sklearn.exceptions import ConvergenceWarning

    from skdynaguide import DynaGuideSegmenter

    warnings.simplefilter("ignore", ConvergenceWarning)
    out = dict(name=spec["name"], baseline_mib=_peak_mib())
    if spec["kind"] == "idle":
        print(json.dumps(out))
        return
    data = _load(spec["data_root"], spec["split"], spec["limit"])
    images = [image for _, image, _ in data]
    if spec["kind"] == "mp12":
        from PIL import Image

        images = [np.asarray(Image.fromarray(images[0]).resize((4000, 3000), Image.BILINEAR))]
    params = dict(spec["params"])
    if spec.get("nchw"):
        from skdynaguide.training import collection, loop, resolution, step

        for module in (collection, loop, resolution, step):  # each imported the name
            module.MEMORY_FORMAT = torch.contiguous_format

    def make(**extra):
        if spec.get("preset"):
            return DynaGuideSegmenter.from_preset(spec["preset"], **params, **extra)
        return DynaGuideSegmenter(**params, **extra)

    if spec["kind"] == "batch":
        start = time.perf_counter()
        labels = make().fit_predict(images)
        out["seconds_total"] = time.perf_counter() - start
        out["labels"] = [lab.tolist() for lab in labels] if spec.get("return_labels") else None
    elif spec["kind"] == "steps":
        # one image: a 1-step and a K-step fit_predict give the seconds per step and the
        # fixed cost (guidance, set-up, final pass) = t1 - one step
        k = spec["steps"]
        image = images[0]
        make(max_iter=1).fit_predict(image)  # warm-up (oneDNN kernel selection)
        start = time.perf_counter()
        make(max_iter=1).fit_predict(image)
        t1 = time.perf_counter() - start
        start = time.perf_counter()
        make(max_iter=k).fit_predict(image)
        tk = time.perf_counter() - start
        out["seconds_per_step"] = (tk - t1) / (k - 1)
        out["fixed_seconds"] = t1 - out["seconds_per_step"]
    elif spec["kind"] == "extrapolate":
        k = spec["steps"]
        first, last = [], []
        for image in images:
            start = time.perf_counter()
            make(max_iter=1).fit_predict(image)
            first.append(time.perf_counter() - start)
            start = time.perf_counter()
            make(max_iter=k).fit_predict(image)
            last.append(time.perf_counter() - start)
        out["seconds"] = [t1 + (tk - t1) / (k - 1) * (PAPER_ITERATIONS - 1)
                          for t1, tk in zip(first, last)]
        out["seconds_per_step"] = [(tk - t1) / (k - 1) for t1, tk in zip(first, last)]
    else:  # "run": each image on its own, timed
        seconds, labels = [], []
        for image in images:
            start = time.perf_counter()
            labels.append(make().fit_predict(image))
            seconds.append(time.perf_counter() - start)
        out["seconds"] = seconds
        if spec["kind"] != "mp12":
            out["scores"] = _scores([a for _, _, a in data], labels)
        out["shape"] = list(images[0].shape[:2])
    out["peak_mib"] = _peak_mib()
    out["threads"] = torch.get_num_threads()
    print(json.dumps(out))


def _scores(annotations, labels):
    from skdynaguide.metrics import bsds_best_overlap

    raw = bsds_best_overlap(annotations, labels)
    cc = bsds_best_overlap(annotations, labels, relabel=True)
    per_image = [bsds_best_overlap(a, p)["mean"] for a, p in zip(annotations, labels)]
    return dict(mean=raw["mean"], all=raw["all"], cc_mean=cc["mean"], per_image=per_image)


def run_worker(spec):
    """The JSON a worker subprocess printed for ``spec``."""
    done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {spec['name']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the floor: FLOPs and FLOP/s -----------------------------------------------------------

def step_flops(height, width, n_features=100, n_clusters=100):
    """FLOPs of one training step of the small CNN on an ``height × width`` image."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from skdynaguide.losses import HuberContinuity
    from skdynaguide.training.network import DynaGuideNet

    net = DynaGuideNet(n_features, n_clusters)
    x = torch.rand(1, 3, height, width)
    with FlopCounterMode(display=False) as counter:
        response = net(x)
        loss = torch.nn.functional.cross_entropy(response, response.argmax(1))
        (loss + HuberContinuity()(response)).backward()
    return counter.get_total_flops()


def conv_flops_per_second(height, width, channels=100, repeats=3):
    """Measured FLOP/s of a plain 3×3 conv (channels → channels) forward + backward."""
    import torch

    conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.rand(1, channels, height, width).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    flops = 3 * 2 * 9 * channels * channels * height * width  # forward, grad input, grad weight
    best = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        conv(x).sum().backward()
        best = min(best, time.perf_counter() - start)
    return flops / best


def trial_step_seconds(height, width, *, bf16=False, compile=False, repeats=5):
    """Median seconds of one SGD step of the default network at ``height × width``."""
    import torch

    from skdynaguide.losses import HuberContinuity
    from skdynaguide.training.network import DynaGuideNet

    torch.manual_seed(0)
    net = DynaGuideNet().to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, height, width).contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    continuity = HuberContinuity()
    forward = torch.compile(net) if compile else net

    def step():
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            response = forward(x)
        response = response.float().contiguous()
        loss = torch.nn.functional.cross_entropy(response, response.argmax(1))
        (loss + continuity(response)).backward()
        optimizer.step()

    start = time.perf_counter()
    step()  # warm-up (and compilation)
    warmup = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times), warmup


# -- the ladder: one kept change at a time ------------------------------------------------

def ladder(common):
    """Time the paper preset, then add the default's speed changes one at a time.

    Rungs (first image, each in its own worker): the paper preset with the weights and input
    in the plain NCHW layout; + channels-last; + reduced-resolution training
    (``max_pixels=25000``, full-size prediction); + 100 steps instead of 1000, which is the
    library default (its quality settings, λ = 100, do not change the cost of a step). Each
    change's predicted gain is stated before it is measured: channels-last from oneDNN's
    NHWC kernels (about 1.5× for p = 100 in the library's own note), the reduced resolution
    from the FLOPs of a step (counted), and the step count from 1000/100.
    """
    from skdynaguide.training import training_shape

    data = _load(common["data_root"], common["split"], 1)
    height, width = data[0][1].shape[:2]
    train_h, train_w = training_shape(height, width, 25000)
    flop_ratio = step_flops(height, width) / step_flops(train_h, train_w)
    one = dict(common, limit=1)
    paper = dict(preset="dynaguide-paper")
    rungs = [
        ("paper preset, NCHW layout", dict(paper, nchw=True, steps=4), None, None),
        ("+ channels-last", dict(paper, steps=4), 1.5, "oneDNN NHWC kernels (library note)"),
        ("+ train at 25k px, predict full size", dict(paper, steps=31,
                                                       params={"max_pixels": 25000}),
         flop_ratio, f"step FLOPs {height}x{width} / {train_h}x{train_w}"),
    ]
    rows = []
    for name, extra, predicted, why in rungs:
        params = {"random_state": 0, **extra.pop("params", {})}
        row = run_worker(dict(one, name=name, kind="steps", params=params, **extra))
        rows.append(dict(name=name, step=row["seconds_per_step"], fixed=row["fixed_seconds"],
                         image=row["fixed_seconds"] + PAPER_ITERATIONS * row["seconds_per_step"],
                         predicted=predicted, why=why))
    default = run_worker(dict(one, name="default", kind="run", params={"random_state": 0}))
    rows.append(dict(name="+ 100 steps (= the default)", step=rows[-1]["step"],
                     fixed=rows[-1]["fixed"], image=default["seconds"][0], predicted=10.0,
                     why="1000 / 100 steps"))

    print(f"\nladder on {data[0][0]} ({height}x{width}), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'default')}: s/image of the "
          "first three rungs = fixed + 1000 x s/step; the last is a timed default run")
    print("| rung | s/step | fixed s | s/image | predicted gain | measured gain | basis |")
    print("|---|---|---|---|---|---|---|")
    previous = None
    for row in rows:
        measured = "—" if previous is None else f"{previous / row['image']:.2f}x"
        predicted = "—" if row["predicted"] is None else f"{row['predicted']:.2f}x"
        print(f"| {row['name']} | {row['step']:.3f} | {row['fixed']:.2f} | {row['image']:.1f} | "
              f"{predicted} | {measured} | {row['why'] or ''} |")
        previous = row["image"]
    print(f"overall: {rows[0]['image'] / rows[-1]['image']:.0f}x from the NCHW paper preset, "
          f"{rows[1]['image'] / rows[-1]['image']:.0f}x from the library's paper preset")
    return rows


# -- the report ----------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="folder holding bsds500/")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=4, help="first N images (default 4)")
    parser.add_argument("--paper-steps", type=int, default=5,
                        help="steps timed per image for the paper preset (extrapolated)")
    parser.add_argument("--paper-full", action="store_true",
                        help="run the paper preset to completion (slow) and score it")
    parser.add_argument("--default-steps", type=int, default=None,
                        help="override the default's max_iter (a quick smoke run)")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="also time batch_size=B on all images against one by one")
    parser.add_argument("--mp12", action="store_true", help="also the 12-megapixel row")
    parser.add_argument("--trials", action="store_true",
                        help="also bf16 autocast and torch.compile on one training step")
    parser.add_argument("--ladder", action="store_true",
                        help="only the ladder: from the paper preset to the default one kept "
                        "change at a time on the first image, each change's predicted and "
                        "measured gain")
    parser.add_argument("--json", default=None, help="write every figure here too")
    args = parser.parse_args(argv)
    if args.paper_steps < 2:
        parser.error("--paper-steps must be at least 2")

    common = dict(data_root=args.data_root, split=args.split, limit=args.limit)
    default = {} if args.default_steps is None else {"max_iter": args.default_steps}
    report = dict(threads=os.environ.get("OMP_NUM_THREADS", "default"), cores=os.cpu_count())
    print(f"# bench_speed: BSD500 {args.split}, {args.limit} images, "
          f"OMP_NUM_THREADS={report['threads']}, {report['cores']} cores", flush=True)

    if args.ladder:
        report["ladder"] = ladder(common)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return

    idle = run_worker(dict(common, name="idle", kind="idle"))
    report["idle_mib"] = idle["baseline_mib"]
    print(f"idle worker (imports only): {idle['baseline_mib']:.0f} MiB", flush=True)

    rows = {}
    if args.paper_full:
        rows["paper"] = run_worker(dict(common, name="paper", kind="run", preset="dynaguide-paper",
                                        params={"random_state": 0}))
    else:
        rows["paper"] = run_worker(dict(common, name="paper", kind="extrapolate",
                                        preset="dynaguide-paper", steps=args.paper_steps,
                                        params={"random_state": 0}))
    rows["default"] = run_worker(dict(common, name="default", kind="run",
                                      params={"random_state": 0, **default}))

    print("\n| config | s/image (median) | peak RSS MiB | Mean | All | CC Mean | note |")
    print("|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        scores = row.get("scores")
        note = ""
        if name == "paper" and "seconds_per_step" in row:
            note = (f"extrap: {args.paper_steps} steps timed, "
                    f"{statistics.median(row['seconds_per_step']):.2f} s/step × 1000")
        if name == "default" and args.default_steps is not None:
            note = f"max_iter={args.default_steps} (not the default's 100)"
        cells = [f"{scores[k]:.3f}" if scores else "—" for k in ("mean", "all", "cc_mean")]
        print(f"| {name} | {statistics.median(row['seconds']):.2f} | {row['peak_mib']:.0f} | "
              + " | ".join(cells) + f" | {note} |")
    ratio = statistics.median(rows["paper"]["seconds"]) / statistics.median(rows["default"]["seconds"])
    report["speed_ratio"] = ratio
    print(f"\nspeed ratio paper/default (median s/image): {ratio:.1f}x"
          + (" (paper extrapolated)" if not args.paper_full else ""))
    if rows["paper"].get("scores"):
        diff = rows["default"]["scores"]["mean"] - rows["paper"]["scores"]["mean"]
        report["miou_difference"] = diff
        print(f"best-overlap Mean, default − paper: {diff:+.3f}")
        for i, (a, b) in enumerate(zip(rows["paper"]["scores"]["per_image"],
                                       rows["default"]["scores"]["per_image"])):
            print(f"  image {i}: paper {a:.3f}  default {b:.3f}")
    else:
        print("best-overlap Mean difference: n/a (run --paper-full to score the paper preset)")

    if args.batch_size > 1:
        params = {"random_state": 0, **default}
        one = run_worker(dict(common, name="one-by-one", kind="batch", params=params))
        many = run_worker(dict(common, name="batched", kind="batch",
                               params=dict(params, batch_size=args.batch_size)))
        rows["one-by-one"], rows["batched"] = one, many
        from skdynaguide.training.batched import batch_plan

        shapes = [image.shape[:2] for _, image, _ in _load(args.data_root, args.split, args.limit)]
        plan = batch_plan(shapes, args.batch_size, params.get("max_pixels", 25000))
        print(f"\nbatched vs one by one ({args.limit} images in batches "
              f"{plan}, default settings): "
              f"{args.limit / one['seconds_total']:.3f} images/s one by one, "
              f"{args.limit / many['seconds_total']:.3f} images/s with batch_size="
              f"{args.batch_size} ({one['seconds_total'] / many['seconds_total']:.2f}x); "
              f"peak RSS {one['peak_mib']:.0f} / {many['peak_mib']:.0f} MiB")

    if args.mp12:
        row = run_worker(dict(common, name="12MP", kind="mp12",
                              params={"random_state": 0, **default}))
        rows["12MP"] = row
        print(f"\n12 MP (first image upsampled to 3000x4000), default settings: "
              f"{row['seconds'][0]:.1f} s, peak RSS {row['peak_mib']:.0f} MiB "
              f"({row['peak_mib'] / 1024:.2f} GiB; idle worker {row['baseline_mib']:.0f} MiB)")

    import torch

    from skdynaguide.training import training_shape

    data = _load(args.data_root, args.split, 1)
    height, width = data[0][1].shape[:2]
    train_h, train_w = training_shape(height, width, 25000)
    full = step_flops(height, width)
    small = step_flops(train_h, train_w)
    rate = conv_flops_per_second(train_h, train_w)
    report.update(flops_full=full, flops_train=small, conv_flops_per_s=rate)
    print(f"\nfloor: one training step = {full / 1e9:.1f} GFLOP at {height}x{width} (paper), "
          f"{small / 1e9:.2f} GFLOP at {train_h}x{train_w} (default); plain 3x3 conv "
          f"100->100 fwd+bwd measured at {rate / 1e9:.1f} GFLOP/s "
          f"({torch.get_num_threads()} threads) -> floor {full / rate:.2f} s/step (paper), "
          f"{small / rate * 100:.2f} s per 100 steps (default)")
    paper_step = rows["paper"].get("seconds_per_step")
    if paper_step:
        print(f"paper preset measured {statistics.median(paper_step):.2f} s/step = "
              f"{full / statistics.median(paper_step) / 1e9:.1f} GFLOP/s achieved")

    if args.trials:
        base, _ = trial_step_seconds(train_h, train_w)
        bf16, _ = trial_step_seconds(train_h, train_w, bf16=True)
        report.update(trial_fp32=base, trial_bf16=bf16)
        print(f"\ntrial, one SGD step at {train_h}x{train_w}: float32 {base * 1000:.0f} ms, "
              f"bf16 autocast {bf16 * 1000:.0f} ms ({base / bf16:.2f}x)")
        try:
            compiled, warmup = trial_step_seconds(train_h, train_w, compile=True)
            report.update(trial_compile=compiled, trial_compile_warmup=warmup)
            print(f"torch.compile: {compiled * 1000:.0f} ms per step ({base / compiled:.2f}x), "
                  f"{warmup:.1f} s to compile")
        except Exception as error:  # noqa: BLE001 - a trial, reported and skipped
            print(f"torch.compile: not available here ({type(error).__name__}: {error})")

    report["rows"] = {name: {k: v for k, v in row.items() if k != "labels"}
                      for name, row in rows.items()}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]))
    else:
        main()
