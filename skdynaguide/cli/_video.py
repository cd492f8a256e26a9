"""``skdynaguide video``: the frames of a video file or of a folder of images, segmented
and written one by one (resumable, options recorded as for ``segment``)."""
from __future__ import annotations

import sys
import traceback
from pathlib import Path

from . import _check_options, _output_flags, _report_failed

__all__ = ["run_video"]


class VideoOptions:
    """What ``video`` records in ``OUTDIR/segmenter.txt``: the mode, the frame budget of
    the shared mode and the estimator's parameters (the record compares ``get_params``)."""

    def __init__(self, mode, shared_frames, segmenter):
        self.mode = mode
        self.shared_frames = shared_frames
        self.segmenter = segmenter

    def get_params(self, deep=False):
        params = {"mode": self.mode, "estimator": type(self.segmenter).__name__}
        if self.mode == "shared":
            params["shared_frames"] = self.shared_frames
        return {**params, **self.segmenter.get_params(deep=False)}


def _video_segmenter(args):
    """The estimator of ``video``: DynaGuideSegmenter (independent) or InductiveSegmenter."""
    from ..inductive import InductiveSegmenter
    from ..segmenter import DynaGuideSegmenter

    for option, flag, mode in (("partial_iter", "--partial-iter", "warm"),
                               ("shared_frames", "--shared-frames", "shared")):
        if getattr(args, option) is not None and args.mode != mode:
            raise ValueError(f"{flag} applies to --mode {mode} only (got --mode {args.mode})")
    params = {}
    for option in ("guidance", "max_iter", "device", "partial_iter"):
        if getattr(args, option) is not None:
            params[option] = getattr(args, option)
    params.update(_output_flags(args))
    if args.max_pixels is not None:
        params["max_pixels"] = None if args.max_pixels == "full" else args.max_pixels
    params["random_state"] = args.seed
    if args.mode == "independent":
        return DynaGuideSegmenter(**params)
    return InductiveSegmenter(**params)


def _frame_outputs(stem, outdir):
    return outdir / f"{stem}_labels.png", outdir / f"{stem}_overlay.png"


def _image_frames(paths, failed):
    """``(stem, frame)`` of each readable image; the others are appended to ``failed``."""
    from ..io import read_image
    from ..video import rgb_frame

    for path in paths:
        try:
            frame = rgb_frame(read_image(path))
        except (ValueError, OSError, MemoryError) as exc:
            failed.append((path, f"{type(exc).__name__}: {exc}"))
        else:
            yield path.stem, frame


def _video_frames(frames, source, failed):
    """``(frame_000000, frame)``, ... of a video; a frame that cannot be decoded ends it
    (appended to ``failed``)."""
    index = 0
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except (ValueError, OSError, MemoryError) as exc:
            failed.append((source, f"frame {index} and after: {type(exc).__name__}: {exc}"))
            return
        yield f"frame_{index:06d}", frame
        index += 1


def run_video(args):
    import warnings
    from itertools import tee

    from sklearn.exceptions import ConvergenceWarning

    from ..io import remove_partial_files, write_labels, write_rgb
    from ..plotting import overlay
    from ..video import frame_sources, read_frames, segment_frames

    try:
        segmenter = _video_segmenter(args)
        segmenter._resolve()  # parameter errors are usage errors, before any work
        kind, where = frame_sources(args.source)
        if kind == "video":
            read_frames(where)  # PyAV installed, and a first frame decoded
    except (ValueError, TypeError, NotImplementedError, OSError, ImportError) as exc:
        print(f"skdynaguide video: error: {exc}", file=sys.stderr)
        return 2
    outdir = Path(args.output)
    shared_frames = 8 if args.shared_frames is None else args.shared_frames
    if not _check_options(outdir, VideoOptions(args.mode, shared_frames, segmenter), args,
                          command="video"):
        return 2

    failed = []
    if kind == "images":
        # a.png and a.jpg would overwrite each other's outputs
        owner = {}
        for path in where:
            owner.setdefault(path.stem, path)
        for path in where:
            if owner[path.stem] is not path:
                failed.append((path, f"its outputs would overwrite those of "
                                     f"{owner[path.stem]} (same file name stem)"))
        where = [path for path in where if owner[path.stem] is path]
        stems = [path.stem for path in where]
    else:
        # the frame count is needed only to know which frames are left when resuming
        existing = not args.overwrite and any(outdir.glob("frame_*_labels.png"))
        stems = None
        if existing:
            count = 0
            try:
                for _ in read_frames(where):
                    count += 1
            except (ValueError, OSError):  # reported when the frames are segmented
                pass
            stems = [f"frame_{index:06d}" for index in range(count)]

    def done(stem):
        return not args.overwrite and all(p.exists() for p in _frame_outputs(stem, outdir))

    todo = None if stems is None else [stem for stem in stems if not done(stem)]
    skipped = 0 if stems is None else len(stems) - len(todo)
    if skipped and not args.quiet:
        print(f"skipping {skipped} frame(s) already segmented (use --overwrite to redo)")
    if todo == []:
        if not args.quiet:
            print(f"0 frame(s) segmented into {outdir}/, {skipped} skipped (already "
                  "segmented)")
        return _report_failed(failed)

    # warm: a frame's labels depend on the frames before it, so those are trained on again
    # (not written), up to the last frame left; independent: only the frames left
    last = None if todo is None else todo[-1]

    def frames():
        source = (_image_frames(where, failed) if kind == "images"
                  else _video_frames(read_frames(where), where, failed))
        for stem, frame in source:
            for path in _frame_outputs(stem, outdir):  # what a killed run was writing
                remove_partial_files(path)
            if args.mode == "independent" and done(stem):
                continue
            yield stem, frame
            if args.mode == "warm" and stem == last:
                return

    to_segment, to_write = tee(frames())
    labels = segment_frames((frame for _, frame in to_segment), args.mode,
                            segmenter=segmenter, shared_frames=shared_frames)
    pairs = zip(to_write, labels)
    bar = None
    if not args.quiet:
        from tqdm.auto import tqdm

        total = None  # a video's length is known only when resuming
        if stems is not None:
            total = {"independent": len(todo), "warm": stems.index(last) + 1,
                     "shared": len(stems)}[args.mode]
        bar = tqdm(desc="segmenting", unit="frame", total=total)
    written = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            for (stem, frame), label_map in pairs:
                if not done(stem):
                    labels_path, overlay_path = _frame_outputs(stem, outdir)
                    write_labels(labels_path, label_map)
                    write_rgb(overlay_path, overlay(frame, label_map))
                    written += 1
                if bar is not None:
                    bar.update(1)
        except KeyboardInterrupt:
            print(f"\ninterrupted after {written} frame(s); the finished outputs are "
                  "complete: run the same command again to resume", file=sys.stderr)
            return 130
        except (ValueError, TypeError, OSError, MemoryError, RuntimeError) as exc:
            failed.append((args.source, f"stopped after {written} frame(s) written: "
                                        f"{type(exc).__name__}: {exc}"))
        except Exception:  # stop, but keep the evidence
            failed.append((args.source, f"stopped after {written} frame(s) written: "
                                        + traceback.format_exc(limit=3).strip()))
        finally:
            if bar is not None:
                bar.close()
    if not args.quiet:
        print(f"{written} frame(s) segmented into {outdir}/, {skipped} skipped (already "
              f"segmented), {len(failed)} failed")
    return _report_failed(failed)
