"""``skdynaguide evaluate``: label maps scored against ground-truth files of the same stems."""
from __future__ import annotations

import sys
from pathlib import Path


__all__ = ["run_evaluate"]


def _label_key(path):
    stem = Path(path).stem
    return stem[: -len("_labels")] if stem.endswith("_labels") else stem


def _label_files(folder):
    """``{key: path}`` of the label files in a folder (``<key>_labels.png`` or ``<key>.*``)."""
    from ..io import LABEL_SUFFIXES

    found = {}
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() in LABEL_SUFFIXES and not path.stem.endswith("_overlay"):
            found.setdefault(_label_key(path), path)
    return found


def run_evaluate(args):
    import csv

    import numpy as np

    from ..metrics._protocols import dataset_scores, image_scores
    from ..io import read_annotations

    for folder in (args.predictions, args.ground_truth):
        if not Path(folder).is_dir():
            print(f"skdynaguide evaluate: error: {folder} is not a folder", file=sys.stderr)
            return 2
    if args.relabel and args.protocol != "bsds":
        print("skdynaguide evaluate: error: --relabel applies to --protocol bsds only",
              file=sys.stderr)
        return 2
    predictions = _label_files(args.predictions)
    truths = _label_files(args.ground_truth)
    if not predictions:
        print(f"skdynaguide evaluate: error: no label maps in {args.predictions}",
              file=sys.stderr)
        return 2
    ignore = None if args.protocol == "bsds" else args.ignore_index

    failed, names, preds, annots, rows = [], [], [], [], []
    for key, pred_path in predictions.items():
        if key not in truths:
            failed.append((pred_path, f"no ground truth named {key}.* in {args.ground_truth}"))
            continue
        try:
            pred = read_annotations(pred_path)
            if len(pred) != 1:
                raise ValueError(f"a prediction must hold one label map, not {len(pred)}")
            pred = pred[0]
            truth = read_annotations(truths[key])
            if any(t.shape != pred.shape for t in truth):
                raise ValueError(f"prediction {pred.shape} and ground truth "
                                 f"{truth[0].shape} differ in shape")
            scores = image_scores(args.protocol, truth, pred, args.relabel, ignore)
        except (ValueError, OSError) as exc:
            failed.append((pred_path, str(exc)))
            continue
        names.append(key)
        preds.append(pred)
        annots.append(truth)
        rows.append(dict(image=key, n_segments=int(len(np.unique(pred))), **scores))
    for key in sorted(set(truths) - set(predictions)):
        failed.append((truths[key], "ground truth without a prediction"))

    if rows:
        summary = dataset_scores(args.protocol, annots, preds, args.relabel, ignore)
        print(f"protocol {args.protocol}{' (connected components)' if args.relabel else ''}, "
              f"{len(rows)} image(s)")
        for name, value in summary.items():
            print(f"  {name:<10} {value:.4f}")
        if args.csv:
            with open(args.csv, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    if failed:
        print(f"{len(failed)} file(s) not scored:", file=sys.stderr)
        for path, error in failed:
            print(f"  {path}: {error}", file=sys.stderr)
        return 1
    return 0
