"""The ``skdynaguide`` command line.

    skdynaguide segment IMAGE_OR_DIR... -o OUTDIR [options]

writes ``<stem>_labels.png`` (the exact label values, 8- or 16-bit) and
``<stem>_overlay.png`` (colours over the photo, boundaries in white) per image. Exit status:
0 when every image was segmented, 1 when some failed (listed at the end), 2 for usage errors.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from . import __version__

__all__ = ["main"]


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _optional_pixels(text):
    if text.lower() in ("none", "full"):
        return "full"
    return _positive_int(text)


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skdynaguide",
        description="Unsupervised image segmentation with DynaGuide (a small CNN trained on "
        "each image, guided by a coarse prior).",
    )
    parser.add_argument("--version", action="version", version=f"skdynaguide {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    seg = commands.add_parser(
        "segment",
        help="segment images and write label maps and overlays",
        description="Segment each image and write <stem>_labels.png (exact label values) and "
        "<stem>_overlay.png (colours over the photo) into OUTDIR.",
    )
    seg.add_argument(
        "inputs", nargs="+", metavar="IMAGE_OR_DIR",
        help="image files, folders of images, or the name of a photo bundled with "
        "scikit-image (astronaut, chelsea, coffee, camera, rocket, immunohistochemistry)",
    )
    seg.add_argument("-o", "--output", default="skdynaguide-output", metavar="OUTDIR",
                     help="output folder (default: %(default)s)")
    seg.add_argument("--preset", default=None,
                     help="start from a published configuration (dynaguide-paper, dynaseg-fsf, "
                     "dynaseg-scf, dfc); the options below override it")
    seg.add_argument("--guidance", default=None,
                     help="guidance provider: kmeans (default), felzenszwalb, slic or none")
    seg.add_argument("--continuity", default=None, help="continuity loss: huber (default) or l1")
    seg.add_argument("--weighting", default=None,
                     help="continuity weight: fsf (q'/alpha, default), scf (alpha/q') or a "
                     "number (fixed mu, as in DFC)")
    seg.add_argument("--alpha", type=float, default=None, help="alpha of fsf/scf (default 15)")
    seg.add_argument("--max-iter", type=_positive_int, default=None,
                     help="maximum SGD steps per image")
    seg.add_argument("--max-pixels", type=_optional_pixels, default=None,
                     help="train at most this many pixels ('full' for full resolution)")
    seg.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N, mps")
    seg.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    seg.add_argument("--jobs", type=int, default=1, help="images segmented in parallel")
    seg.add_argument("--overwrite", action="store_true",
                     help="replace existing outputs (by default images with both outputs "
                     "present are skipped)")
    seg.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return parser


def _expand(inputs):
    """Image files named or contained (not recursively) in the given folders, in order."""
    from .io import IMAGE_SUFFIXES

    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(item)
    return found


def _segmenter(args):
    from .losses.weighting import DynamicWeight
    from .segmenter import DynaGuideSegmenter

    params = {}
    for option, param in (("guidance", "guidance"), ("continuity", "continuity"),
                          ("alpha", "alpha"), ("max_iter", "max_iter"), ("device", "device")):
        if getattr(args, option) is not None:
            params[param] = getattr(args, option)
    if args.max_pixels is not None:
        params["max_pixels"] = None if args.max_pixels == "full" else args.max_pixels
    if args.weighting is not None:
        names = DynamicWeight.registry.names()
        params["weighting"] = args.weighting if args.weighting in names else float(args.weighting)
    params["random_state"] = args.seed
    if args.preset:
        return DynaGuideSegmenter.from_preset(args.preset, **params)
    return DynaGuideSegmenter(**params)


def _outputs(source, outdir):
    stem = Path(str(source)).stem
    return outdir / f"{stem}_labels.png", outdir / f"{stem}_overlay.png"


def _segment_file(source, outdir, segmenter, threads):
    """Segment one file; returns None on success or an error message."""
    from .io import read_image, write_labels, write_rgb
    from .plotting import overlay

    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        image = read_image(source)
        labels = segmenter.fit_predict(image)
        labels_path, overlay_path = _outputs(source, outdir)
        write_labels(labels_path, labels)
        write_rgb(overlay_path, overlay(image, labels))
        return None
    except (ValueError, TypeError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    except Exception:  # keep going on anything else, but keep the evidence
        return traceback.format_exc(limit=3).strip()


def _run_segment(args):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    try:
        segmenter = _segmenter(args)
        segmenter._resolve()  # parameter errors are usage errors, before any work
    except (ValueError, TypeError, NotImplementedError) as exc:
        print(f"skdynaguide segment: error: {exc}", file=sys.stderr)
        return 2
    outdir = Path(args.output)
    sources = _expand(args.inputs)
    if not sources:
        print("skdynaguide segment: error: no images found", file=sys.stderr)
        return 2
    todo = [s for s in sources
            if args.overwrite or not all(p.exists() for p in _outputs(s, outdir))]
    skipped = len(sources) - len(todo)
    if skipped and not args.quiet:
        print(f"skipping {skipped} image(s) already segmented (use --overwrite to redo)")

    jobs = max(1, min(args.jobs if args.jobs > 0 else (os.cpu_count() or 1), len(todo) or 1))
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0
    warnings.simplefilter("ignore", ConvergenceWarning)
    if jobs > 1:
        from joblib import Parallel, delayed

        errors = Parallel(n_jobs=jobs)(
            delayed(_segment_file)(s, outdir, segmenter, threads) for s in todo)
    else:
        errors = []
        iterator = todo
        if not args.quiet:
            from tqdm.auto import tqdm

            iterator = tqdm(todo, desc="segmenting", unit="image")
        for source in iterator:
            errors.append(_segment_file(source, outdir, segmenter, threads))
    failed = [(s, e) for s, e in zip(todo, errors) if e is not None]
    if not args.quiet:
        print(f"{len(todo) - len(failed)} image(s) segmented into {outdir}/")
    if failed:
        print(f"{len(failed)} image(s) failed:", file=sys.stderr)
        for source, error in failed:
            print(f"  {source}: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    """Entry point of the ``skdynaguide`` console script; returns the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    return _run_segment(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
