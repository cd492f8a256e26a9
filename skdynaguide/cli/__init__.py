"""The ``skdynaguide`` command line.

    skdynaguide segment IMAGE_OR_DIR... -o OUTDIR [options]
    skdynaguide video SOURCE -o OUTDIR [--mode warm|shared|independent] [options]
    skdynaguide evaluate PRED_DIR GT_DIR [--protocol bsds|hungarian|hungarian-accumulated]

``segment`` writes ``<stem>_labels.png`` (the exact label values, 8- or 16-bit) and
``<stem>_overlay.png`` (colours over the photo, boundaries in white) per image;
``video`` writes the same two files per frame of a video file or a folder of frames
(:mod:`skdynaguide.video`); ``evaluate`` scores such label maps against ground-truth files of
the same stems. Exit status:
0 when every image was segmented, 1 when some failed (listed at the end), 2 for usage errors,
130 when interrupted.

``segment`` is made for long jobs over folders of arbitrary files: a file that cannot be read
or segmented is reported and skipped while the others go on; every output is written to a
temporary file in OUTDIR and renamed into place, so a job killed at any moment leaves only
complete outputs; and re-running the same command **resumes** (the default): images whose two
outputs exist are skipped, so only the unfinished ones are segmented (``--overwrite`` redoes
everything). The options are recorded in ``OUTDIR/segmenter.txt``; resuming with other
options is refused (exit status 2) rather than mixing the outputs of two configurations.
``video`` resumes and refuses the same way, frame by frame.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .. import __version__
from .._parameters import flag_type

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
    # the defaults the help texts name are the estimators' own
    from ..inductive import InductiveSegmenter
    from ..segmenter import DynaGuideSegmenter

    per_image, inductive = DynaGuideSegmenter().get_params(), InductiveSegmenter().get_params()
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
                     help="start from a published configuration (dynaguide-paper, "
                     "dynaguide-diffseg, dynaguide-segformer, dynaseg-fsf, dynaseg-scf, dfc); "
                     "the options below override it")
    seg.add_argument("--guidance", default=None,
                     help="guidance provider: hierarchy (default: a cut of the image's boundary "
                     "hierarchy), felzenszwalb, kmeans, slic, fcm or none")
    seg.add_argument("--continuity", default=None, help="continuity loss: huber (default) or l1")
    seg.add_argument("--weighting", default=None,
                     help="continuity weight: fsf (q'/alpha, default), scf (alpha/q') or a "
                     "number (fixed mu, as in DFC)")
    seg.add_argument("--alpha", type=float, default=None, help=f"alpha of fsf/scf (default {per_image['alpha']:g})")
    seg.add_argument("--max-iter", type=_positive_int, default=None,
                     help="maximum SGD steps per image")
    seg.add_argument("--max-pixels", type=_optional_pixels, default=None,
                     help="train at most this many pixels ('full' for full resolution)")
    seg.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N, mps")
    seg.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default=None,
                     help="arithmetic of the training forward passes: auto (default: bfloat16 "
                     "on a CPU that computes it natively, else float32), float32 or bfloat16")
    seg.add_argument("--network", default=None,
                     help="per-image network: cnn (the papers' small CNN, default) or "
                     "resnet18-fpn (DynaSeg's ImageNet ResNet-18 + FPN; needs transformers "
                     "and its weights)")
    seg.add_argument("--matching", default=None,
                     help="how guide segments map onto the network's clusters: index "
                     "(default), hungarian, majority or sorted")
    seg.add_argument("--guidance-weight", type=float, default=None,
                     help=f"lambda in the guidance weight lambda/q' (default "
                     f"{per_image['guidance_weight']:g})")
    seg.add_argument("--coordinates", choices=["auto", "on", "off"], default=None,
                     help="give the network each pixel's position: auto (default: with a "
                     "guide), on, or off (the papers' colour-only network)")
    seg.add_argument("--final-resolution", choices=["full", "training"], default=None,
                     help="labels from the trained network run on the full-size image (full, "
                     "default) or from its training-size response upsampled (training)")
    seg.add_argument("--min-size", type=flag_type("min_size"), default=argparse.SUPPRESS,
                     help="connected segments of at least this many pixels (or this fraction "
                     f"of the image; default {per_image['min_size']}); 'none' writes the raw "
                     "clusters")
    seg.add_argument("--snap", type=flag_type("snap"), default=argparse.SUPPRESS,
                     help="draw the boundaries from the guide's, moved onto the image's "
                     f"strongest edges within this many pixels (default {per_image['snap']}); "
                     "0 or 'none' "
                     "keeps the network's boundaries")
    seg.add_argument("--keep-edges", type=flag_type("keep_edges"), default=argparse.SUPPRESS,
                     help="with --snap: keep guide boundaries whose mean colour gradient "
                     f"reaches this quantile of the image's (default {per_image['keep_edges']}) "
                     "even where the "
                     "network merges their sides; 'none' lets it merge any")
    seg.add_argument("--segments", dest="segments", type=flag_type("output"),
                     default=argparse.SUPPRESS,
                     help="how the clusters become segments: hierarchy (default: a cut of the "
                     "image's boundary hierarchy, its boundaries moved by the clusters) or "
                     "redraw (connected clusters, boundaries redrawn from the guide's)")
    seg.add_argument("--boundaries", type=flag_type("boundaries"), default=argparse.SUPPRESS,
                     help="boundary map the segments follow: learned (default, shipped with "
                     "the package) or gradient (weight-free)")
    seg.add_argument("--threshold", type=flag_type("threshold"), default=argparse.SUPPRESS,
                     help="with --segments hierarchy: boundaries at most this strong merge "
                     f"away (default {per_image['threshold']}); lower for more segments")
    seg.add_argument("--n-segments", type=flag_type("n_segments"), default=argparse.SUPPRESS,
                     help="with --segments hierarchy: this many segments per image instead "
                     "of a threshold")
    seg.add_argument("--network-weight", type=flag_type("network_weight"),
                     default=argparse.SUPPRESS,
                     help="with --segments hierarchy: how far the network's clusters move "
                     f"the boundaries (default {per_image['network_weight']}; 0 ignores the "
                     "network)")
    seg.add_argument("--min-labels", type=_positive_int, default=None,
                     help="stop once the number of clusters q' falls to this value "
                     "(default: never)")
    seg.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    seg.add_argument("--jobs", type=int, default=1, help="images segmented in parallel")
    seg.add_argument("--overwrite", action="store_true",
                     help="segment every image again, replacing existing outputs (by default "
                     "a re-run resumes: images with both outputs present are skipped; it "
                     "is refused if OUTDIR/segmenter.txt records other options)")
    seg.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    from ..video import MODES

    vid = commands.add_parser(
        "video",
        help="segment the frames of a video or of a folder of images",
        description="Segment each frame of a video file or of a folder of images and write "
        "<stem>_labels.png (exact label values) and <stem>_overlay.png into OUTDIR; stem is "
        "frame_000000, frame_000001, ... for a video file, the image's own stem for a "
        "folder (its images taken in natural order of their names: frame_2 before "
        "frame_10). In modes warm and shared a class keeps its id, and its colour, from "
        "frame to frame. Reading video files needs PyAV: pip install \"skdynaguide[video]\".",
    )
    vid.add_argument("source", metavar="SOURCE",
                     help="a video file, or a folder whose image files are the frames")
    vid.add_argument("-o", "--output", default="skdynaguide-output", metavar="OUTDIR",
                     help="output folder (default: %(default)s)")
    vid.add_argument("--mode", choices=MODES, default="warm",
                     help="warm: one network trained on the first frame, then --partial-iter "
                     "more steps on each next one; shared: one network trained on at most "
                     "--shared-frames frames spread over the sequence, then a forward pass "
                     "per frame; independent: a fresh network trained on every frame, "
                     "segment ids arbitrary in each (default: %(default)s)")
    vid.add_argument("--partial-iter", type=_positive_int, default=None,
                     help="warm mode: SGD steps on each frame after the first (default "
                     f"{inductive['partial_iter']})")
    vid.add_argument("--shared-frames", type=_positive_int, default=None,
                     help="shared mode: the most frames the network trains on (default 8)")
    vid.add_argument("--max-iter", type=_positive_int, default=None,
                     help="SGD steps of the first training (warm, shared) or of every frame "
                     "(independent)")
    vid.add_argument("--guidance", default=None,
                     help="guidance provider: felzenszwalb (default), kmeans, slic, fcm or none")
    vid.add_argument("--max-pixels", type=_optional_pixels, default=None,
                     help="train at most this many pixels per frame ('full' for full "
                     "resolution)")
    vid.add_argument("--min-size", type=flag_type("min_size"), default=argparse.SUPPRESS,
                     help="pieces of at least this many pixels (or this fraction of the "
                     f"frame; default {inductive['min_size']}); 'none' writes the raw network "
                     "output")
    vid.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N, mps")
    vid.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    vid.add_argument("--overwrite", action="store_true",
                     help="segment every frame again, replacing existing outputs (by default "
                     "a re-run resumes: frames with both outputs present are not written "
                     "again; it is refused if OUTDIR/segmenter.txt records other options)")
    vid.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    from ..metrics._protocols import PROTOCOLS

    ev = commands.add_parser(
        "evaluate",
        help="score saved label maps against ground truth",
        description="Score the label maps in PRED_DIR (<stem>_labels.png as written by "
        "'segment', or <stem>.png/.npy/...) against the ground truth in GT_DIR with the same "
        "stem: a label image, .npy, .npz (key 'seg', shape (n_annotations, H, W) allowed) or "
        "a BSD500 groundTruth .mat. Exit status 1 when a prediction or a ground truth has no "
        "partner or cannot be read (listed; the others are still scored).",
    )
    ev.add_argument("predictions", metavar="PRED_DIR", help="folder of predicted label maps")
    ev.add_argument("ground_truth", metavar="GT_DIR", help="folder of ground-truth label maps")
    ev.add_argument("--protocol", choices=PROTOCOLS, default="bsds",
                    help="bsds: best-overlap segment mIoU, All/Fine/Coarse/Mean pooled over "
                    "segments; hungarian: one-to-one matched mIoU and pixel accuracy per "
                    "image, averaged; hungarian-accumulated: one matching over the dataset's "
                    "confusion matrix (default: %(default)s)")
    ev.add_argument("--relabel", action="store_true",
                    help="split predictions into connected components first (bsds only)")
    ev.add_argument("--ignore-index", type=int, default=None, metavar="LABEL",
                    help="ground-truth label left out, e.g. 255 (hungarian protocols only)")
    ev.add_argument("--csv", default=None, metavar="FILE",
                    help="also write the per-image scores to this CSV file")
    return parser


def _expand(inputs, errors=None):
    """Image files named or contained (not recursively) in the given folders, in order.

    A folder that cannot be listed is appended to ``errors`` as ``(folder, message)``.
    """
    from ..io import IMAGE_SUFFIXES

    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            try:
                found.extend(sorted(p for p in path.iterdir()
                                    if p.suffix.lower() in IMAGE_SUFFIXES))
            except OSError as exc:
                if errors is None:
                    raise
                errors.append((item, f"cannot list the folder: {type(exc).__name__}: {exc}"))
        else:
            found.append(item)
    return found


def _segmenter(args):
    from ..losses.weighting import DynamicWeight
    from ..segmenter import DynaGuideSegmenter

    params = {}
    for option, param in (("guidance", "guidance"), ("continuity", "continuity"),
                          ("alpha", "alpha"), ("max_iter", "max_iter"), ("device", "device"),
                          ("network", "network"), ("matching", "matching"),
                          ("guidance_weight", "guidance_weight"), ("min_labels", "min_labels"),
                          ("final_resolution", "final_resolution"),
                          ("precision", "precision")):
        if getattr(args, option) is not None:
            params[param] = getattr(args, option)
    if args.coordinates is not None:
        params["coordinates"] = {"auto": "auto", "on": True, "off": False}[args.coordinates]
    params.update(_output_flags(args))
    if args.max_pixels is not None:
        params["max_pixels"] = None if args.max_pixels == "full" else args.max_pixels
    if args.weighting is not None:
        names = DynamicWeight.registry.names()
        params["weighting"] = args.weighting if args.weighting in names else float(args.weighting)
    params["random_state"] = args.seed
    if args.preset:
        return DynaGuideSegmenter.from_preset(args.preset, **params)
    return DynaGuideSegmenter(**params)


def _output_flags(args):
    """The output parameters given on the command line (flags left out are not set)."""
    names = {"min_size": "min_size", "snap": "snap", "keep_edges": "keep_edges",
             "segments": "output", "boundaries": "boundaries", "threshold": "threshold",
             "n_segments": "n_segments", "network_weight": "network_weight"}
    return {param: getattr(args, flag) for flag, param in names.items() if hasattr(args, flag)}


def _outputs(source, outdir):
    stem = Path(str(source)).stem
    return outdir / f"{stem}_labels.png", outdir / f"{stem}_overlay.png"


def _segment_file(source, outdir, segmenter, threads):
    """Segment one file; returns None on success or an error message."""
    from ..io import read_image, write_labels, write_rgb
    from ..plotting import overlay

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
    except (ValueError, TypeError, OSError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"
    except Exception:  # keep going on anything else, but keep the evidence
        return traceback.format_exc(limit=3).strip()


def _check_options(outdir, segmenter, args, command="segment"):
    """Record the options in ``OUTDIR/segmenter.txt``; False when going on would mix label
    maps made with other options in one folder (reported on stderr)."""
    from .._records import parameter_record

    items = "images" if command == "segment" else "frames"
    existing = len(list(outdir.glob("*_labels.png"))) if outdir.is_dir() else 0
    unrecorded = not (outdir / "segmenter.txt").exists()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        changes = parameter_record(outdir, segmenter, replace=args.overwrite or not existing)
    except OSError as exc:
        print(f"skdynaguide {command}: error: cannot write to {outdir}: {exc}",
              file=sys.stderr)
        return False
    if changes is not None:
        print(f"skdynaguide {command}: error: {outdir}/ holds {existing} label map(s) made "
              f"with other options ({changes}); use --overwrite to segment these {items} "
              "again with the new options, or another output folder", file=sys.stderr)
        return False
    if unrecorded and existing and not args.quiet:
        print(f"note: {outdir}/ has no segmenter.txt, so the options behind its {existing} "
              "existing label map(s) cannot be checked; they are kept", file=sys.stderr)
    return True


def _run_segment(args):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    try:
        segmenter = _segmenter(args)
        segmenter._resolve()  # parameter errors are usage errors, before any work
    except (ValueError, TypeError, NotImplementedError) as exc:
        print(f"skdynaguide segment: error: {exc}", file=sys.stderr)
        return 2
    from ..io import remove_partial_files

    outdir = Path(args.output)
    failed = []
    sources = _expand(args.inputs, failed)
    if not sources and not failed:
        print("skdynaguide segment: error: no images found", file=sys.stderr)
        return 2
    # two inputs with one stem (a/x.png, b/x.jpg) would overwrite each other's outputs
    owner = {}
    for source in sources:
        owner.setdefault(_outputs(source, outdir)[0], source)
    for source in sources:
        first = owner[_outputs(source, outdir)[0]]
        if first is not source:
            failed.append((source, f"its outputs would overwrite those of {first} (same "
                                   "file name stem); rename one or segment it separately"))
    sources = [s for s in sources if owner[_outputs(s, outdir)[0]] is s]
    for source in sources:  # what a killed run was writing
        for path in _outputs(source, outdir):
            remove_partial_files(path)
    todo = [s for s in sources
            if args.overwrite or not all(p.exists() for p in _outputs(s, outdir))]
    skipped = len(sources) - len(todo)
    if not _check_options(outdir, segmenter, args):
        return 2
    if skipped and not args.quiet:
        print(f"skipping {skipped} image(s) already segmented (use --overwrite to redo)")

    jobs = max(1, min(args.jobs if args.jobs > 0 else (os.cpu_count() or 1), len(todo) or 1))
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            if jobs > 1:
                from joblib import Parallel, delayed

                from joblib.externals.loky.process_executor import BrokenProcessPool

                try:
                    errors = Parallel(n_jobs=jobs)(
                        delayed(_segment_file)(s, outdir, segmenter, threads) for s in todo)
                except BrokenProcessPool as exc:
                    # a worker was killed (by the OS, most often for memory): the images
                    # whose two outputs exist are complete; the others are reported
                    cause = (f"not finished: a worker process died ({type(exc).__name__}; "
                             "often the system running out of memory): re-run to resume, "
                             "with fewer --jobs or a smaller --max-pixels")
                    errors = [None if all(p.exists() for p in _outputs(s, outdir)) else cause
                              for s in todo]
            else:
                iterator = todo
                if not args.quiet:
                    from tqdm.auto import tqdm

                    iterator = tqdm(todo, desc="segmenting", unit="image")
                for source in iterator:
                    errors.append(_segment_file(source, outdir, segmenter, threads))
        except KeyboardInterrupt:
            print(f"\ninterrupted after {len(errors)} of {len(todo)} image(s); the finished "
                  "outputs are complete: run the same command again to resume",
                  file=sys.stderr)
            return 130
    failed += [(s, e) for s, e in zip(todo, errors) if e is not None]
    if not args.quiet:
        print(f"{sum(e is None for e in errors)} image(s) segmented into {outdir}/, {skipped} "
              f"skipped (already segmented), {len(failed)} failed")
    if failed:
        print(f"{len(failed)} image(s) failed ({sum(e is None for e in errors)} segmented, "
              f"{skipped} skipped as already segmented):", file=sys.stderr)
        for source, error in failed:
            print(f"  {source}: {error}", file=sys.stderr)
        return 1
    return 0


def _report_failed(failed):
    """Print the failures on stderr; the exit status (1 when there are some, else 0)."""
    if not failed:
        return 0
    print(f"{len(failed)} failure(s):", file=sys.stderr)
    for source, error in failed:
        print(f"  {source}: {error}", file=sys.stderr)
    return 1


def main(argv=None):
    """Entry point of the ``skdynaguide`` console script; returns the exit status.

    Examples
    --------
    The console script ``skdynaguide segment chelsea -o out`` is ``main`` with these arguments:

    >>> import tempfile
    >>> from skdynaguide.cli import main
    >>> out = tempfile.mkdtemp()
    >>> main(["segment", "camera", "-o", out, "--max-iter", "3", "--max-pixels", "500", "-q"])
    0
    >>> sorted(os.listdir(out))
    ['camera_labels.png', 'camera_overlay.png', 'segmenter.txt']
    >>> main(["segment", "camera", "--alpha", "-1", "-o", out])
    2
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "evaluate":
        from ._evaluate import run_evaluate

        return run_evaluate(args)
    if args.command == "video":
        from ._video import run_video

        return run_video(args)
    return _run_segment(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
