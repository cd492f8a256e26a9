import re

import numpy as np
import pytest
from PIL import Image

from helpers import make_quadrants
from skdynaguide import __version__
from skdynaguide.cli import main

ARGS = ["--max-iter", "10", "--seed", "0", "-q"]


@pytest.fixture
def photo(tmp_path):
    image, _ = make_quadrants(24, 24)
    path = tmp_path / "in" / "quad.png"
    path.parent.mkdir()
    Image.fromarray(image).save(path)
    return path


def test_segment_writes_exact_labels_and_an_overlay(photo, tmp_path):
    out = tmp_path / "out"
    assert main(["segment", str(photo), "-o", str(out)] + ARGS) == 0
    labels = np.asarray(Image.open(out / "quad_labels.png"))
    overlay = np.asarray(Image.open(out / "quad_overlay.png"))
    assert labels.shape == (24, 24) and labels.dtype == np.uint8
    assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1))
    assert overlay.shape == (24, 24, 3)
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_folders_are_expanded_and_finished_images_skipped(photo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["segment", str(photo.parent), "-o", str(out)] + ARGS) == 0
    stamp = (out / "quad_labels.png").stat().st_mtime_ns
    assert main(["segment", str(photo.parent), "-o", str(out), "--max-iter", "10"]) == 0
    assert "skipping 1 image" in capsys.readouterr().out
    assert (out / "quad_labels.png").stat().st_mtime_ns == stamp
    assert main(["segment", str(photo), "-o", str(out), "--overwrite"] + ARGS) == 0


def test_failures_are_listed_and_exit_one(photo, tmp_path, capsys):
    broken = photo.parent / "broken.png"
    broken.write_bytes(b"not an image")
    out = tmp_path / "out"
    assert main(["segment", str(photo.parent), "-o", str(out)] + ARGS) == 1
    err = capsys.readouterr().err
    assert "1 image(s) failed" in err and "broken.png" in err
    assert (out / "quad_labels.png").exists()


def test_usage_errors_exit_two(photo, tmp_path, capsys):
    assert main([]) == 2
    assert main(["segment"]) == 2
    assert main(["segment", str(photo), "--guidance", "watershed"]) == 2
    assert "unknown guidance" in capsys.readouterr().err
    assert main(["segment", str(photo), "--max-iter", "0"]) == 2
    assert main(["segment", str(tmp_path / "empty_dir_that_is_missing")] + ARGS) == 1


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["segment", "--help"]) == 0
    assert "IMAGE_OR_DIR" in capsys.readouterr().out


def test_bundled_photo_by_name_and_preset(tmp_path):
    out = tmp_path / "out"
    assert main(["segment", "camera", "-o", str(out), "--preset", "dfc", "--max-iter", "3",
                 "--max-pixels", "2000", "-q"]) == 0
    assert np.asarray(Image.open(out / "camera_labels.png")).shape == (512, 512)


# -- estimator flags ---------------------------------------------------------------------


def test_network_and_matching_flags_reach_the_estimator(photo, tmp_path, monkeypatch):
    import skdynaguide.cli as cli

    seen = {}
    original = cli._segmenter

    def spy(args):
        seen["segmenter"] = original(args)
        return seen["segmenter"]

    monkeypatch.setattr(cli, "_segmenter", spy)
    out = tmp_path / "out"
    assert main(["segment", str(photo), "-o", str(out), "--network", "cnn", "--matching",
                 "hungarian", "--guidance-weight", "3", "--min-labels", "2"] + ARGS) == 0
    params = seen["segmenter"].get_params()
    assert params["network"] == "cnn" and params["matching"] == "hungarian"
    assert params["guidance_weight"] == 3.0 and params["min_labels"] == 2
    assert (out / "quad_labels.png").exists()


@pytest.mark.parametrize("flags, expected", [
    (["--coordinates", "off", "--min-size", "none", "--final-resolution", "training"],
     dict(coordinates=False, min_size=None, final_resolution="training")),
    (["--coordinates", "on", "--min-size", "0.01"], dict(coordinates=True, min_size=0.01)),
    (["--min-size", "30"], dict(coordinates="auto", min_size=30, final_resolution="full",
                                precision="auto")),
    (["--precision", "bfloat16"], dict(precision="bfloat16")),
    (["--snap", "none"], dict(snap=None)),
    (["--snap", "3"], dict(snap=3)),
    ([], dict(snap=2, keep_edges=0.9)),
    (["--keep-edges", "none"], dict(keep_edges=None)),
    (["--keep-edges", "0.75"], dict(keep_edges=0.75)),
    ([], dict(output="hierarchy", boundaries="learned", threshold=0.2, n_segments=None,
              network_weight=0.25)),
    (["--segments", "redraw", "--boundaries", "gradient"],
     dict(output="redraw", boundaries="gradient")),
    (["--threshold", "0.3", "--network-weight", "0"], dict(threshold=0.3, network_weight=0)),
    (["--n-segments", "12"], dict(n_segments=12)),
])
def test_segment_flags_reach_the_estimator(photo, tmp_path, monkeypatch, flags, expected):
    import skdynaguide.cli as cli

    seen = {}
    original = cli._segmenter
    monkeypatch.setattr(cli, "_segmenter", lambda args: seen.setdefault("seg", original(args)))
    assert main(["segment", str(photo), "-o", str(tmp_path / "out")] + flags + ARGS) == 0
    params = seen["seg"].get_params()
    assert {key: params[key] for key in expected} == expected


def test_unknown_network_or_matching_is_a_usage_error(photo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["segment", str(photo), "-o", str(out), "--network", "vgg"] + ARGS) == 2
    assert "vgg" in capsys.readouterr().err
    assert main(["segment", str(photo), "-o", str(out), "--matching", "nearest"] + ARGS) == 2
    assert main(["segment", str(photo), "-o", str(out), "--min-labels", "0"] + ARGS) == 2
    assert main(["segment", str(photo), "-o", str(out), "--min-size", "1.5"] + ARGS) == 2
    assert "fraction" in capsys.readouterr().err
    assert main(["segment", str(photo), "-o", str(out), "--coordinates", "yes"] + ARGS) == 2
    assert main(["segment", str(photo), "-o", str(out), "--snap", "1.5"] + ARGS) == 2
    assert "whole number of pixels" in capsys.readouterr().err
    assert main(["segment", str(photo), "-o", str(out), "--keep-edges", "0"] + ARGS) == 2
    assert "quantile in (0, 1]" in capsys.readouterr().err
    assert main(["segment", str(photo), "-o", str(out), "--segments", "clusters"] + ARGS) == 2
    assert "hierarchy or redraw" in capsys.readouterr().err
    assert main(["segment", str(photo), "-o", str(out), "--network-weight", "1"] + ARGS) == 2
    assert "[0, 1)" in capsys.readouterr().err
    assert main(["segment", str(photo), "-o", str(out), "--boundaries", "sobel"] + ARGS) == 2
    assert "sobel" in capsys.readouterr().err
    assert not out.exists()


def test_help_lists_every_estimator_flag(capsys):
    assert main(["segment", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--guidance", "--continuity", "--weighting", "--alpha", "--network",
                 "--matching", "--guidance-weight", "--min-labels", "--max-iter",
                 "--max-pixels", "--device", "--seed", "--jobs", "--overwrite", "--preset",
                 "--coordinates", "--final-resolution", "--min-size", "--precision",
                 "--snap", "--keep-edges", "--segments", "--boundaries", "--threshold",
                 "--n-segments", "--network-weight"):
        assert flag in text, flag
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "segment" in text and "evaluate" in text


# -- evaluate ------------------------------------------------------------------------------


def _save_png(path, labels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(labels, dtype=np.uint8)).save(path)


@pytest.fixture
def scored_dirs(tmp_path):
    """Predictions as written by ``segment`` and ground truth in three formats."""
    halves = np.zeros((8, 8), dtype=np.uint8)
    halves[:, 4:] = 1
    quarters = halves.copy()
    quarters[4:, :] += 2
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    _save_png(pred / "a_labels.png", halves * 7)  # ids need not match the truth's
    _save_png(pred / "a_overlay.png", halves)  # overlays are not label maps: ignored
    _save_png(pred / "b_labels.png", halves)
    _save_png(truth / "a.png", halves)
    # b has two annotations: the halves (fine match) and the quarters
    np.savez(truth / "b.npz", seg=np.stack([halves, quarters]).astype(np.uint16))
    return pred, truth


def test_evaluate_bsds_scores_saved_predictions(scored_dirs, tmp_path, capsys):
    pred, truth = scored_dirs
    table = tmp_path / "scores.csv"
    assert main(["evaluate", str(pred), str(truth), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    # segments: a -> 2 at IoU 1; b -> 2 at IoU 1 (halves, its coarse annotation) and 4 at
    # IoU 0.5 (quarters, its fine one); pooled over the segments of both images
    assert "2 image(s)" in out
    assert "all        0.7500" in out  # (2 + 2 + 4 * 0.5) / 8
    assert "fine       0.6667" in out  # (2 + 4 * 0.5) / 6
    assert "coarse     1.0000" in out
    rows = table.read_text().splitlines()
    assert rows[0] == "image,n_segments,all,fine,coarse,mean,covering"
    assert rows[1].startswith("a,2,1.0,") and rows[2].startswith("b,2,")


def test_evaluate_hungarian_and_ignore_index(tmp_path, capsys):
    truth_map = np.array([[0, 0, 1, 1], [0, 0, 255, 255]])
    pred_map = np.array([[3, 3, 5, 5], [3, 3, 3, 3]])
    _save_png(tmp_path / "p" / "x_labels.png", pred_map)
    np.save(tmp_path / "x.npy", truth_map)
    (tmp_path / "g").mkdir()
    (tmp_path / "x.npy").rename(tmp_path / "g" / "x.npy")
    args = ["evaluate", str(tmp_path / "p"), str(tmp_path / "g"), "--protocol", "hungarian"]
    assert main(args + ["--ignore-index", "255"]) == 0
    assert "accuracy   1.0000" in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out  # 255 is then a third class, left unmatched
    assert "miou       0.5556" in out and "accuracy   0.7500" in out


def test_evaluate_reads_bsds_mat_ground_truth(tmp_path, capsys):
    from scipy.io import savemat

    fine = np.array([[1, 1, 2, 2], [1, 1, 2, 2]], dtype=np.uint16)
    coarse = np.ones_like(fine)
    cells = np.empty((1, 2), dtype=object)
    for i, seg in enumerate((fine, coarse)):
        cells[0, i] = {"Segmentation": seg, "Boundaries": np.zeros_like(seg)}
    (tmp_path / "g").mkdir()
    savemat(tmp_path / "g" / "12003.mat", {"groundTruth": cells})
    _save_png(tmp_path / "p" / "12003_labels.png", fine - 1)
    assert main(["evaluate", str(tmp_path / "p"), str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "fine       1.0000" in out and "coarse     0.5000" in out


def test_evaluate_lists_unmatched_files_and_exits_one(scored_dirs, capsys):
    pred, truth = scored_dirs
    _save_png(pred / "orphan_labels.png", np.zeros((8, 8)))
    _save_png(truth / "c.png", np.zeros((8, 8)))
    _save_png(pred / "d_labels.png", np.zeros((5, 5)))
    _save_png(truth / "d.png", np.zeros((8, 8)))
    assert main(["evaluate", str(pred), str(truth)]) == 1
    captured = capsys.readouterr()
    assert "2 image(s)" in captured.out  # a and b are still scored
    assert "3 file(s) not scored" in captured.err
    assert "orphan_labels.png" in captured.err and "c.png" in captured.err
    assert "differ in shape" in captured.err


def test_evaluate_usage_errors_exit_two(scored_dirs, tmp_path, capsys):
    pred, truth = scored_dirs
    assert main(["evaluate", str(pred)]) == 2
    assert main(["evaluate", str(pred), str(truth), "--protocol", "dice"]) == 2
    assert main(["evaluate", str(tmp_path / "missing"), str(truth)]) == 2
    assert main(["evaluate", str(pred), str(truth), "--protocol", "hungarian",
                 "--relabel"]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", str(tmp_path / "empty"), str(truth)]) == 2
    assert "no label maps" in capsys.readouterr().err


@pytest.mark.parametrize("name, text, value", [
    ("min_size", "30", 30), ("min_size", "0.01", 0.01), ("min_size", "None", None),
    ("snap", "0", 0), ("snap", "none", None), ("keep_edges", "1", 1), ("keep_edges", "0.5", 0.5),
])
def test_output_flags_parse_to_the_declared_values(name, text, value):
    from skdynaguide._parameters import flag_type

    assert flag_type(name)(text) == value


@pytest.mark.parametrize("name, text", [
    ("min_size", "-1"), ("min_size", "1.5"), ("snap", "-2"), ("snap", "two"),
    ("keep_edges", "0"), ("keep_edges", "1.2"),
])
def test_output_flags_refuse_what_the_estimators_refuse(name, text):
    import argparse

    from skdynaguide import DynaGuideSegmenter
    from skdynaguide._parameters import ACCEPTED, flag_type

    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(ACCEPTED[name])):
        flag_type(name)(text)
    value = text
    for kind in (int, float):
        try:
            value = kind(text)
            break
        except ValueError:
            continue
    with pytest.raises((TypeError, ValueError), match=name):
        DynaGuideSegmenter(**{name: value}).fit(np.zeros((4, 4, 3)))
