import numpy as np
import pytest
from PIL import Image

from conftest import make_quadrants
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
