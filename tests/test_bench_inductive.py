"""benchmarks/bench_inductive.py: its measurements on cases whose answer is known, and the
variants table end to end on a tiny synthetic dataset in BSD500 format."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import make_quadrants

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_inductive.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_inductive", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_still_frame_corresponds_to_itself(bench):
    window = (10, 20, 60, 90)
    rows, cols = bench.correspondence(window, window, (30, 45))
    expected_rows, expected_cols = np.mgrid[0:30, 0:45]
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(cols, expected_cols)


def test_a_pan_shifts_the_correspondence_and_loses_the_edge(bench):
    # one photo pixel is one frame pixel; the window moves 3 columns right
    rows, cols = bench.correspondence((0, 0, 10, 20), (0, 3, 10, 20), (10, 20))
    assert (rows[:, :17] == np.arange(10)[:, None]).all()
    np.testing.assert_array_equal(cols[0, :17], np.arange(3, 20))
    assert (cols[:, 17:] == -1).all()  # not seen in the earlier frame


def test_consistency_raw_and_after_matching(bench):
    labels = np.repeat([[0, 0, 1, 1]], 2, axis=0)
    match = bench.correspondence((0, 0, 2, 4), (0, 0, 2, 4), (2, 4))
    assert bench.consistency(labels, labels, match) == (1.0, 1.0)
    # renumbered: nothing unchanged, but the same segmentation
    assert bench.consistency(labels, 1 - labels, match) == (0.0, 1.0)
    half = labels.copy()
    half[:, 1] = 1  # one column of four moved to the other segment
    assert bench.consistency(labels, half, match) == (0.75, 0.75)


def test_windows_pan_and_zoom_inside_the_photo(bench):
    windows = bench.windows((321, 481), 6, (120, 180))
    heights = [h for _, _, h, _ in windows]
    assert heights == sorted(heights, reverse=True) and heights[-1] < heights[0]
    for top, left, h, w in windows:
        assert top >= 0 and left >= 0 and top + h <= 321 and left + w <= 481
        assert abs(w / h - 1.5) < 0.02


def test_variants_table_on_a_tiny_dataset(bench, tmp_path, capsys):
    for split in ("train", "val"):
        base = tmp_path / "bsds500" / split
        (base / "images").mkdir(parents=True)
        (base / "gt").mkdir()
        for k, (h, w) in enumerate([(24, 32), (32, 24)]):
            image, truth = make_quadrants(h, w)
            Image.fromarray(image).save(base / "images" / f"{k}.jpg", quality=95)
            np.savez(base / "gt" / f"{k}.npz", seg=np.stack([truth, (truth >= 2) * 1]))
    bench.main(["variants", "--data-root", str(tmp_path), "--max-iter", "2",
                "--fine-tune", "2", "--variant", "tiny:n_features=8,n_clusters=6,crop_size=16"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert "fine-tuned (2 steps)" in lines[0]
    assert all(line.count("|") == 12 for line in lines)
    assert [line.split(" | ")[0] for line in lines] == ["| variant", "| default", "| tiny {"
                                                        "'n_features': 8, 'n_clusters': 6, "
                                                        "'crop_size': 16}"]
