"""Boundary detectors on synthetic images, the shipped model file and the training script."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from skdynaguide.boundaries import (BoundaryDetector, GradientBoundaries, LearnedBoundaries,
                                    ModelFileError, load_boundary_model, resolve_boundaries)
from skdynaguide.boundaries.learned import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]


def step_image(height=48, width=64, column=32, dtype=np.uint8):
    image = np.full((height, width, 3), 40, dtype=np.uint8)
    image[:, column:] = (220, 200, 60)
    return image if dtype == np.uint8 else image.astype(dtype) / 255.0


@pytest.fixture(params=["gradient", "learned"])
def detector(request):
    return resolve_boundaries(request.param)


def test_shipped_model_loads_with_its_training_record():
    net, meta = load_boundary_model()
    assert "architecture" in meta and "training" in meta
    assert DEFAULT_MODEL.stat().st_size < 2_000_000


def test_step_edge_is_strong_and_flat_regions_are_empty(detector):
    prob = detector(step_image())
    assert prob[8:40, 30:34].max(axis=1).min() > 0.5  # every row finds the edge
    assert prob[8:40, 5:24].max() < 0.1 and prob[8:40, 42:60].max() < 0.1


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_output_shape_dtype_and_range(detector, dtype):
    image = step_image(dtype=dtype)
    before = image.copy()
    prob, orientation = detector(image, return_orientation=True)
    assert prob.shape == orientation.shape == image.shape[:2]
    assert prob.dtype == np.float32 and orientation.dtype == np.float32
    assert prob.min() >= 0 and prob.max() <= 1
    assert orientation.min() >= 0 and orientation.max() < np.pi + 1e-6
    np.testing.assert_array_equal(image, before)


def test_grey_images_and_smooth_maps(detector):
    detector.set_params(nms=False)
    prob = detector(step_image()[..., 0])
    assert (prob[20, 28:36] > 0.2).sum() >= 2  # without thinning the ridge is wider


def test_a_vertical_edge_has_a_horizontal_normal():
    _, orientation = GradientBoundaries()(step_image(), return_orientation=True)
    angle = orientation[24, 31]
    assert min(angle, np.pi - angle) < 0.1


@pytest.mark.parametrize("image, error", [
    (np.zeros((4, 4, 4), np.uint8), ValueError),
    (np.full((4, 4), 2.0), ValueError),
    (np.full((4, 4), np.nan), ValueError),
    ("image.png", TypeError),
])
def test_bad_images_raise(detector, image, error):
    with pytest.raises(error):
        detector(image)


def test_resolution_by_name_and_instance():
    assert isinstance(resolve_boundaries("LEARNED"), LearnedBoundaries)
    own = GradientBoundaries(sigmas=(2.0,))
    assert resolve_boundaries(own) is own
    with pytest.raises(ValueError, match="gradient"):
        resolve_boundaries("canny")
    with pytest.raises(ValueError, match="sigmas"):
        GradientBoundaries(sigmas=(-1,))(step_image())
    assert issubclass(LearnedBoundaries, BoundaryDetector)


def test_missing_model_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(ModelFileError, match="nowhere.npz"):
        LearnedBoundaries(model_path=path)(step_image())


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_model_file_names_the_file(tmp_path, damage):
    data = DEFAULT_MODEL.read_bytes()
    path = tmp_path / f"{damage}.npz"
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a model" * 50,
                      "empty": b""}[damage])
    with pytest.raises(ModelFileError, match=f"{damage}.npz"):
        load_boundary_model(path)


def test_wrong_format_version_is_refused(tmp_path):
    with np.load(DEFAULT_MODEL) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["format_version"] = np.array(999)
    path = tmp_path / "future.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=r"future.npz.*version 999"):
        load_boundary_model(path)


def test_training_script_runs_on_synthetic_images_and_its_output_loads(tmp_path):
    # Run in this process (torch is already imported): the script's main() with its own
    # command line, as `python benchmarks/train_boundaries.py --synthetic ...` would.
    spec = importlib.util.spec_from_file_location(
        "train_boundaries", ROOT / "benchmarks" / "train_boundaries.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "tiny.npz"
    script.main(["--synthetic", "--iterations", "3", "--batch-size", "2", "--out", str(out),
                 "--threads", str(torch.get_num_threads())])
    net, meta = load_boundary_model(out)
    assert meta["training"]["iterations"] == 3 and meta["training"]["data"] == "synthetic"
    prob = LearnedBoundaries(model_path=out)(step_image())
    assert prob.shape == (48, 64)
