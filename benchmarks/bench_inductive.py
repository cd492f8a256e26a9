"""Train once, segment many: the inductive mode against per-image training.

    python benchmarks/bench_inductive.py bsds --data-root ../shared/data --train-limit 200
        --val-limit 20 [--max-iter 500] [--inductive param=value,...] [--seed 0]
        [--per-image F.csv] [--model PATH] [--redraw NAME:param=value,...]
    python benchmarks/bench_inductive.py variants --data-root ../shared/data --train-limit 20
        --val-limit 10 --max-iter 300 --variant NAME:param=value,... [--variant ...]
    python benchmarks/bench_inductive.py video --data-root ../shared/data --image 101085
        [--frames 60] [--size 120x180] [--modes independent,warm,shared] [--seed 0]
        [--figure F.png]

``bsds``: :class:`~skdynaguide.InductiveSegmenter` is fitted on the first ``--train-limit``
train images, then predicts the first ``--val-limit`` val images; the same val images are
segmented by per-image training (:class:`~skdynaguide.DynaGuideSegmenter`, defaults, and
with ``--colour-only`` also with the papers' colour-only network, ``coordinates=False``,
which sees what the shared network sees) and by Felzenszwalb's guide alone (the guide family
of all). Per method: seconds per image (for the inductive model, the forward pass alone,
``predict`` at full size and at the training size, the output pipeline included, and
``predict_classes``), best-overlap Mean (SPEC's BSD500 protocol, raw labels), boundary F at
2 px and the number of connected segments per image; then paired per-image differences.
``--redraw NAME:param=value`` adds rows predicted by the same network with other output
parameters; ``--model PATH`` saves the fitted model there, or loads it if it exists.

``variants``: the inductive model alone, with its defaults and with each ``--variant``'s
parameters (e.g. ``index:matching=index``): seconds of the fit and of ``predict`` per val
image, best-overlap Mean of its classes (``predict_classes``) and of its segments
(``predict``), boundary F, segments and classes per image; with ``--fine-tune N``
also a copy of each model trained N more steps on each val image alone
(``partial_fit``) before its labels are taken, and the seconds that costs.

``video``: a synthetic video of ``--frames`` frames, a window panning over one val photo
while zooming in, each frame resized to ``--size``; the truth of every frame is the photo's
annotations seen through the same window. Per mode of
:func:`~skdynaguide.video.segment_frames` (``"independent"``: per-image training of every
frame; ``"warm"``: ``fit`` on the first frame, then ``partial_fit`` and its labels on each
next one; ``"shared"``: ``fit`` on 8 frames, ``predict`` all): seconds per frame, the
consistency of consecutive frames (the fraction of pixels seen in both whose label is
unchanged, raw and after the best one-to-one matching of the two frames' labels, which
discounts renumbering) and the best-overlap Mean of the frames' connected segments.
"""
from __future__ import annotations

import argparse
import copy
import csv
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bsds import load_split, parse_variant  # noqa: E402

from skdynaguide import DynaGuideSegmenter, InductiveSegmenter  # noqa: E402
from skdynaguide.guidance import resolve_guidance  # noqa: E402
from skdynaguide.metrics import bsds_best_overlap, bsds_boundary, relabel_connected  # noqa: E402
from skdynaguide.output.segments import merge_small_segments  # noqa: E402
from skdynaguide.training import full_size_labels  # noqa: E402
from skdynaguide.video import segment_frames  # noqa: E402



def scores(annotations, labels):
    """Raw and connected-segment best-overlap Mean, boundary F and segment count."""
    segments = merge_small_segments(np.zeros(labels.shape, np.uint8), labels, 0)
    return dict(mean=bsds_best_overlap(annotations, labels)["mean"],
                boundary_f=bsds_boundary(annotations, labels)["f"],
                segments=int(segments.max()) + 1)


def paired(rows, a, b, key):
    """Mean ± standard error of ``a - b`` over the images, and the wins of ``a``."""
    diffs = np.array([r[f"{a}_{key}"] - r[f"{b}_{key}"] for r in rows])
    se = diffs.std(ddof=1) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
    return f"{diffs.mean():+.3f} ± {se:.3f} ({int((diffs > 0).sum())}/{len(diffs)})"


def run_bsds(args):
    train = [image for _, image, _ in load_split(args.data_root, "train", args.train_limit)]
    val = load_split(args.data_root, "val", args.val_limit)
    start = time.perf_counter()
    params = parse_variant(f"inductive:{args.inductive}")[1]
    if args.model and Path(args.model).exists():
        model = InductiveSegmenter.load(args.model).set_params(**params)
        print(f"model loaded from {args.model} (fitted with {model.n_iter_} steps)", flush=True)
    else:
        model = InductiveSegmenter(**{"max_iter": args.max_iter, "random_state": args.seed,
                                      **params}).fit(train)
        if args.model:
            model.save(args.model)
    fit_seconds = time.perf_counter() - start
    print(f"fit on {len(train)} train images, {args.max_iter} steps: {fit_seconds:.0f} s",
          flush=True)
    shrunk = _redrawn(model, final_resolution="training")
    redraws = [(f"redraw_{name}", _redrawn(model, **values))
               for name, values in (parse_variant(v) for v in args.redraw)]
    per_image = DynaGuideSegmenter(random_state=args.seed)
    colour_only = DynaGuideSegmenter(coordinates=False, random_state=args.seed)
    felzenszwalb = resolve_guidance("felzenszwalb")
    rows = []
    for image_id, image, annotations in val:
        row = dict(image=image_id)
        x = image.astype(np.float32) / 255  # uint8 to [0, 1], as the estimators do
        start = time.perf_counter()
        full_size_labels(model.network_, x)
        row["forward_seconds"] = time.perf_counter() - start
        labels = {}
        methods = [("inductive", model.predict), ("inductive_shrunk", shrunk.predict),
                   ("inductive_classes", model.predict_classes),
                   *[(name, other.predict) for name, other in redraws],
                   ("per_image", per_image.fit_predict)]
        if args.colour_only:
            methods.append(("colour_only", colour_only.fit_predict))
        for name, method in methods:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                labels[name] = method(image)
            row[f"{name}_seconds"] = time.perf_counter() - start
        labels["felzenszwalb"] = felzenszwalb(x, random_state=args.seed)
        for name, label_map in labels.items():
            for key, value in scores(annotations, label_map).items():
                row[f"{name}_{key}"] = value
        rows.append(row)
        print(image_id, {k: round(v, 3) for k, v in row.items() if k != "image"}, flush=True)

    print(f"\nBSD500: fit on {len(train)} train images ({args.max_iter} steps, "
          f"{fit_seconds:.0f} s), {len(rows)} val images, seed {args.seed}\n")
    print("| method | s / image | Mean | boundary F | segments / image |")
    print("|---|---|---|---|---|")
    for name, label in (
            ("inductive", "inductive: predict (segments), full size"),
            ("inductive_shrunk", "inductive: predict (segments) at the training size"),
            ("inductive_classes", "inductive: predict_classes (the network's classes)"),
            ("per_image", "per-image training (DynaGuideSegmenter defaults)"),
            ("colour_only", "per-image training, colour-only network (coordinates=False)"),
            *[(name, f"inductive: predict with {name[7:]}") for name, _ in redraws],
            ("felzenszwalb", "Felzenszwalb alone (the guide)")):
        if f"{name}_mean" not in rows[0]:
            continue
        key = f"{name}_seconds"
        time_cell = f"{np.mean([r[key] for r in rows]):.3f}" if key in rows[0] else "—"
        print(f"| {label} | {time_cell} | {np.mean([r[f'{name}_mean'] for r in rows]):.3f} | "
              f"{np.mean([r[f'{name}_boundary_f'] for r in rows]):.3f} | "
              f"{np.mean([r[f'{name}_segments'] for r in rows]):.0f} |")
    training = np.mean([r["per_image_seconds"] for r in rows])
    print(f"\nforward pass alone: {1000 * np.mean([r['forward_seconds'] for r in rows]):.0f} ms "
          f"/ image; predict {training / np.mean([r['inductive_seconds'] for r in rows]):.0f}x "
          f"(full size) and "
          f"{training / np.mean([r['inductive_shrunk_seconds'] for r in rows]):.0f}x (training "
          "size) faster than per-image training")
    for a, b in (("inductive", "per_image"), ("inductive", "felzenszwalb"),
                 ("inductive_shrunk", "inductive"), ("per_image", "felzenszwalb"),
                 *[(name, "per_image") for name, _ in redraws]):
        print(f"paired {a} - {b}: Mean {paired(rows, a, b, 'mean')}, "
              f"boundary F {paired(rows, a, b, 'boundary_f')}")
    if args.per_image:
        with open(args.per_image, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def _redrawn(model, **params):
    """The fitted model with other output parameters, its network shared (no training)."""
    other = clone(model).set_params(**params)
    other.network_ = model.network_
    return other


def run_variants(args):
    """The inductive model alone, with its defaults and each ``--variant``'s parameters."""
    train = [image for _, image, _ in load_split(args.data_root, "train", args.train_limit)]
    val = load_split(args.data_root, "val", args.val_limit)
    print(f"{len(train)} train images, {args.max_iter} steps; {len(val)} val images, "
          f"seed {args.seed}\n")
    tune = args.fine_tune
    print("| variant | fit s | predict s / image | Mean (classes) "
          "| Mean (connected segments) | boundary F | segments / image | classes / image |"
          + (f" fine-tuned ({tune} steps): Mean (segments) | boundary F | s / image |"
             if tune else ""))
    print("|---|---|---|---|---|---|---|---|" + ("---|---|---|" if tune else ""))
    for name, params in [("default", {})] + [parse_variant(v) for v in args.variant]:
        start = time.perf_counter()
        model = InductiveSegmenter(**{"max_iter": args.max_iter, "random_state": args.seed,
                                      **params}).fit(train)
        seconds = time.perf_counter() - start
        rows = []
        for _, image, annotations in val:
            start = time.perf_counter()
            segments = model.predict(image)
            predict_seconds = time.perf_counter() - start
            classes = model.predict_classes(image)
            row = dict(classes=bsds_best_overlap(annotations, classes)["mean"],
                       **scores(annotations, segments), n_classes=len(np.unique(classes)),
                       predict_seconds=predict_seconds)
            if tune:
                # a copy of the model trained a few more steps on this image alone
                start = time.perf_counter()
                tuned = copy.deepcopy(model).set_params(partial_iter=tune).partial_fit(image)
                row["tune_seconds"] = time.perf_counter() - start
                tuned_segments = tuned.labels_
                tuned_scores = scores(annotations, tuned_segments)
                row["tune_mean"] = tuned_scores["mean"]
                row["tune_boundary_f"] = tuned_scores["boundary_f"]
            rows.append(row)
        mean = {key: np.mean([r[key] for r in rows]) for key in rows[0]}
        label = f"{name} {params}" if params else name
        print(f"| {label} | {seconds:.0f} | {mean['predict_seconds']:.3f} | "
              f"{mean['classes']:.3f} | "
              f"{mean['mean']:.3f} | {mean['boundary_f']:.3f} | {mean['segments']:.0f} | "
              f"{mean['n_classes']:.1f} |"
              + (f" {mean['tune_mean']:.3f} | {mean['tune_boundary_f']:.3f} | "
                 f"{mean['tune_seconds']:.2f} |" if tune else ""), flush=True)


# -- the synthetic video ---------------------------------------------------------------------

def windows(photo_shape, n_frames, size):
    """Integer crop windows ``(top, left, height, width)`` panning and zooming in."""
    height, width = photo_shape
    aspect = size[1] / size[0]
    out = []
    for t in np.linspace(0.0, 1.0, n_frames):
        h = min(height, width / aspect) * (0.9 - 0.3 * t)  # zoom in to two thirds
        w = h * aspect
        top = (height - h) * (0.3 + 0.4 * t)  # drift down and to the right
        left = (width - w) * t
        out.append((int(round(top)), int(round(left)), int(round(h)), int(round(w))))
    return out


def render(array, window, size, nearest=False):
    top, left, h, w = window
    crop = Image.fromarray(array[top:top + h, left:left + w])
    method = Image.NEAREST if nearest else Image.BILINEAR
    return np.asarray(crop.resize((size[1], size[0]), method))


def correspondence(window_a, window_b, size):
    """For every pixel of frame b, the pixel of frame a showing the same point (or -1)."""
    rows, cols = np.mgrid[0:size[0], 0:size[1]]
    ta, la, ha, wa = window_a
    tb, lb, hb, wb = window_b
    y = tb + (rows + 0.5) * hb / size[0]  # photo coordinates of b's pixel centres
    x = lb + (cols + 0.5) * wb / size[1]
    ra = np.floor((y - ta) * size[0] / ha).astype(int)
    ca = np.floor((x - la) * size[1] / wa).astype(int)
    inside = (ra >= 0) & (ra < size[0]) & (ca >= 0) & (ca < size[1])
    return np.where(inside, ra, -1), np.where(inside, ca, -1)


def consistency(labels_a, labels_b, match):
    """Fraction of shared pixels whose label is unchanged: raw, and after the best
    one-to-one matching of a's labels to b's."""
    rows, cols = match
    seen = rows >= 0
    a = labels_a[rows[seen], cols[seen]]
    b = labels_b[seen]
    raw = float((a == b).mean())
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    table = np.zeros((len(ua), len(ub)))
    np.add.at(table, (ia, ib), 1)
    r, c = linear_sum_assignment(-table)
    return raw, float(table[r, c].sum() / len(a))


def run_video(args):
    size = tuple(int(v) for v in args.size.split("x"))
    data = {image_id: (image, annotations)
            for image_id, image, annotations in load_split(args.data_root, "val")}
    if args.image not in data:
        raise SystemExit(f"no val image {args.image}")
    photo, annotations = data[args.image]
    frame_windows = windows(photo.shape[:2], args.frames, size)
    frames = [render(photo, w, size) for w in frame_windows]
    truths = [[render(a.astype(np.int32), w, size, nearest=True) for a in annotations]
              for w in frame_windows]
    matches = [correspondence(a, b, size) for a, b in zip(frame_windows, frame_windows[1:])]

    inductive = InductiveSegmenter(random_state=args.seed, max_iter=args.max_iter)
    methods = (("per-image training", "independent", DynaGuideSegmenter(random_state=args.seed)),
               ("warm starts", "warm", inductive), ("shared network", "shared", inductive))

    results = {}
    for name, mode, segmenter in [m for m in methods if m[1] in args.modes.split(",")]:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = list(segment_frames(frames, mode, segmenter=segmenter))
        seconds = (time.perf_counter() - start) / len(frames)
        pairs = [consistency(a, b, m) for a, b, m in zip(labels, labels[1:], matches)]
        quality = [bsds_best_overlap(t, relabel_connected(lab))["mean"]
                   for t, lab in zip(truths, labels)]
        results[name] = dict(seconds=seconds, raw=np.mean([p[0] for p in pairs]),
                             matched=np.mean([p[1] for p in pairs]), mean=np.mean(quality),
                             segments=np.mean([relabel_connected(lab).max() + 1
                                               for lab in labels]), labels=labels)
        print(name, {k: round(float(v), 3) for k, v in results[name].items() if k != "labels"},
              flush=True)

    print(f"\nSynthetic video: val {args.image}, {args.frames} frames of {size[0]}x{size[1]}, "
          f"pan and zoom; seed {args.seed}\n")
    print("| method | s / frame | consecutive frames: label unchanged | after best matching "
          "| Mean (connected segments) | segments / frame |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.2f} | {r['raw']:.3f} | {r['matched']:.3f} | "
              f"{r['mean']:.3f} | {r['segments']:.0f} |")
    if args.figure:
        figure(args.figure, frames, results)


def figure(path, frames, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skdynaguide.plotting import colorize

    picks = np.linspace(0, len(frames) - 1, 4).astype(int)
    fig, axes = plt.subplots(1 + len(results), len(picks), figsize=(3 * len(picks),
                                                                    2.2 * (1 + len(results))))
    for j, t in enumerate(picks):
        axes[0, j].imshow(frames[t])
        axes[0, j].set_title(f"frame {t}")
        for i, (name, r) in enumerate(results.items(), start=1):
            axes[i, j].imshow(colorize(r["labels"][t]))
            if j == 0:
                axes[i, j].set_ylabel(name)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    bsds = commands.add_parser("bsds")
    bsds.add_argument("--train-limit", type=int, default=200)
    bsds.add_argument("--val-limit", type=int, default=20)
    bsds.add_argument("--per-image", default=None, metavar="CSV")
    bsds.add_argument("--colour-only", action="store_true",
                      help="also per-image training with the colour-only network")
    bsds.add_argument("--inductive", default="", metavar="param=value,...",
                      help="parameters of the inductive model other than its defaults")
    bsds.add_argument("--model", default=None, metavar="PATH",
                      help="load the fitted model from PATH if it exists, else fit and save it "
                      "there (InductiveSegmenter.save)")
    bsds.add_argument("--redraw", action="append", default=[], metavar="NAME:param=value,...",
                      help="also predict with other output parameters (min_size, snap, "
                      "keep_edges, final_resolution) from the same network")
    variants = commands.add_parser("variants")
    variants.add_argument("--train-limit", type=int, default=20)
    variants.add_argument("--val-limit", type=int, default=10)
    variants.add_argument("--variant", action="append", default=[],
                          metavar="NAME:param=value,...")
    variants.add_argument("--fine-tune", type=int, default=0, metavar="STEPS",
                          help="also score a copy of each model trained STEPS more steps on "
                          "each val image (partial_fit)")
    video = commands.add_parser("video")
    video.add_argument("--image", default="101085")
    video.add_argument("--frames", type=int, default=60)
    video.add_argument("--size", default="120x180")
    video.add_argument("--figure", default=None)
    video.add_argument("--modes", default="independent,warm,shared",
                       help="the modes of segment_frames to run (comma-separated)")
    for sub in (bsds, variants, video):
        sub.add_argument("--data-root", default=str(Path(__file__).resolve().parents[2]
                                                    / "shared" / "data"))
        sub.add_argument("--max-iter", type=int, default=InductiveSegmenter().max_iter,
                         help="SGD steps of the inductive fit")
        sub.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    {"bsds": run_bsds, "variants": run_variants, "video": run_video}[args.command](args)


if __name__ == "__main__":
    main()
