"""Reliability (issue 7): injected training faults, long dataset jobs that lose nothing,
models that travel, resource limits. ``docs/reliability.rst`` states the promises tested."""
import functools
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone

from helpers import FAST, make_quadrants, save_tiny_segformer
from skdynaguide import DynaGuideSegmenter
from skdynaguide._image import check_image
from skdynaguide._resources import (TrainingMemoryError, available_bytes, check_training_memory,
                                    training_bytes)
from skdynaguide import cli
from skdynaguide.cli import main
from skdynaguide.metrics.evaluation import evaluate
from skdynaguide import _hub
from skdynaguide.guidance import GuidanceProvider, PrecomputedGuidance
from skdynaguide.losses import FixedWeight, L1Continuity
from skdynaguide.training.matching import resolve_matching
from skdynaguide.training.network import CNNBuilder
from skdynaguide.training import segment_image

REPO = Path(__file__).resolve().parents[1]


def _consecutive(labels):
    present = np.unique(labels)
    return np.array_equal(present, np.arange(len(present)))


# -- training faults ---------------------------------------------------------------------


class Poisoned(torch.nn.Module):
    """The small CNN, whose response turns to ``value`` from forward pass ``after + 1`` on
    (``final_only``: only in the gradient-free final pass)."""

    def __init__(self, n_features, n_clusters, after=3, value=float("nan"), final_only=False):
        super().__init__()
        self.inner = CNNBuilder(1, False)(n_features, n_clusters)
        self.after, self.value, self.final_only, self.calls = after, value, final_only, 0

    def forward(self, x):
        self.calls += 1
        out = self.inner(x)
        poisoned = (not torch.is_grad_enabled()) if self.final_only else self.calls > self.after
        return out + self.value if poisoned else out


class Constant(torch.nn.Module):
    """A network that ignores its input: every pixel gets the same response (collapse)."""

    def __init__(self, n_features, n_clusters):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.linspace(0, 1, n_clusters))

    def forward(self, x):
        return self.bias[None, :, None, None].expand(1, -1, *x.shape[2:]).clone()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_loss_that_turns_nonfinite_stops_with_a_warning_and_keeps_the_last_clusters(value):
    image, _ = make_quadrants(16, 16)
    seg = DynaGuideSegmenter(network=functools.partial(Poisoned, after=3, value=value),
                             **{**FAST, "max_iter": 20})
    with pytest.warns(RuntimeWarning, match="NaN or infinite"):
        labels = seg.fit_predict(image)
    assert seg.n_iter_ == 4  # three sane steps, the fourth diverged and was not applied
    assert not np.isfinite(seg.loss_history_["loss"][-1])
    assert np.all(np.isfinite(seg.loss_history_["loss"][:-1]))
    assert labels.shape == (16, 16) and _consecutive(labels)


def test_a_diverged_final_pass_falls_back_to_the_last_clusters():
    image = check_image(make_quadrants(16, 16)[0])
    params = dict(seed=0, n_features=8, n_clusters=6, continuity=L1Continuity(),
                  weighting=FixedWeight(1.0), max_iter=5)
    result = segment_image(image, network=functools.partial(Poisoned, final_only=True), **params)
    assert result.stop_reason == "nonfinite" and result.n_iter == 5
    assert result.labels.shape == (16, 16) and _consecutive(result.labels)
    assert np.all(np.isfinite(result.history["loss"]))


def test_a_collapse_to_one_cluster_is_reported():
    image, _ = make_quadrants(16, 16)
    seg = DynaGuideSegmenter(network=Constant, guidance=None, output="redraw", **FAST)
    with pytest.warns(RuntimeWarning, match="collapsed to a single segment"):
        labels = seg.fit_predict(image)
    assert labels.max() == 0 and seg.n_labels_ == 1
    assert np.all(seg.loss_history_["n_labels"] == 1)


@pytest.mark.parametrize("guidance", ["kmeans", "slic", "felzenszwalb", None])
@pytest.mark.parametrize("value", [0, 255])
def test_an_image_of_identical_pixels_is_one_segment_without_training(guidance, value):
    image = np.full((7, 5, 3), value, dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        seg = DynaGuideSegmenter(guidance=guidance, **FAST).fit(image)
    assert np.all(seg.labels_ == 0) and seg.labels_.shape == (7, 5)
    assert seg.n_iter_ == 0 and seg.n_labels_ == 1
    assert all(len(v) == 0 for v in seg.loss_history_.values())


def test_a_guide_with_one_label_is_not_used_and_says_so():
    image, _ = make_quadrants(16, 16)
    provider = PrecomputedGuidance(labels=np.full((16, 16), 3))
    with pytest.warns(UserWarning, match="single label"):
        seg = DynaGuideSegmenter(guidance=provider, **FAST).fit(image)
    assert np.all(seg.guidance_labels_ == 0)
    assert np.all(seg.loss_history_["guidance"] == 0)
    assert np.all(seg.loss_history_["guidance_weight"] == 0)
    assert seg.n_labels_ > 1


@pytest.mark.parametrize("matching", ["index", "hungarian", "majority", "sorted"])
def test_a_guide_with_more_labels_than_channels_shares_channels(matching):
    image, _ = make_quadrants(16, 16)
    guide = (np.arange(16)[:, None] // 4) * 4 + np.arange(16)[None, :] // 4  # 16 blocks
    seg = DynaGuideSegmenter(guidance=PrecomputedGuidance(labels=guide), matching=matching,
                             **{**FAST, "n_clusters": 4})
    labels = seg.fit_predict(image)
    # four channels give at most four clusters; the segments may split a cluster in places
    assert labels.shape == (16, 16) and _consecutive(labels) and seg.clusters_.max() < 4
    assert np.all(seg.loss_history_["guidance"] > 0)
    target = resolve_matching(matching)(
        torch.from_numpy(guide), 16, torch.from_numpy(seg.clusters_), 4)
    assert target.shape == (16, 16) and int(target.min()) >= 0 and int(target.max()) < 4
    if matching == "index":  # the documented rule: guide segment k -> channel k mod q
        np.testing.assert_array_equal(target.numpy(), guide % 4)


# -- long dataset jobs: the command line -------------------------------------------------

# float32: the killed job runs on one thread and its reference on the default threads;
# bfloat16's coarser rounding would make their labels differ for that reason alone
CLI_ARGS = ["--max-iter", "12", "--seed", "0", "-q", "--guidance", "kmeans",
            "--precision", "float32"]


def _photos(folder, n, size=24):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        image, _ = make_quadrants(size, size)
        noise = rng.integers(0, 30, image.shape, dtype=np.uint8)
        Image.fromarray(image // 2 + noise).save(folder / f"img{i:02d}.png")
    return folder


def _outputs(folder):
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def test_unreadable_truncated_and_non_image_files_are_reported_and_skipped(tmp_path, capsys,
                                                                           monkeypatch):
    inputs = _photos(tmp_path / "in", 2)
    good = (inputs / "img00.png").read_bytes()
    (inputs / "truncated.png").write_bytes(good[: len(good) // 2])
    (inputs / "text.png").write_text("not an image at all")
    (inputs / "empty.jpg").write_bytes(b"")
    (inputs / "notes.txt").write_text("ignored: not an image suffix")
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(make_quadrants(8, 8)[0]).save(other / "img01.jpg")  # same stem as in/img01
    locked = tmp_path / "locked"
    locked.mkdir()
    original = Path.iterdir

    def iterdir(self):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    out = tmp_path / "out"
    status = main(["segment", str(inputs), str(other), str(locked), str(tmp_path / "missing.png"),
                   "-o", str(out)] + CLI_ARGS)
    assert status == 1
    captured = capsys.readouterr()
    err = captured.err
    assert "6 image(s) failed (2 segmented, 0 skipped" in err
    for name in ("truncated.png", "text.png", "empty.jpg", "missing.png", "img01.jpg",
                 "locked"):
        assert name in err, name
    assert "same file name stem" in err and "Permission denied" in err
    assert "notes.txt" not in err
    assert sorted(p.name for p in out.iterdir()) == [
        "img00_labels.png", "img00_overlay.png", "img01_labels.png", "img01_overlay.png",
        "segmenter.txt"]


@pytest.mark.slow  # segments in a fresh Python process, then again here
def test_a_killed_job_resumes_to_the_outputs_of_an_uninterrupted_run(tmp_path):
    inputs = _photos(tmp_path / "in", 6, size=32)
    reference = tmp_path / "reference"
    assert main(["segment", str(inputs), "-o", str(reference)] + CLI_ARGS) == 0

    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "skdynaguide", "segment", str(inputs), "-o", str(out)]
    job = subprocess.Popen(command + CLI_ARGS, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(out.glob("*_overlay.png")) and job.poll() is None:
        assert time.monotonic() < deadline, "the job wrote nothing in 120 s"
        time.sleep(0.005)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL, job.stderr.read().decode()
    finished = sorted(p.name for p in out.glob("*.png"))
    assert 0 < len(finished) < 12, "the job must be killed mid-run"
    for name in finished:  # whatever exists is complete
        np.testing.assert_array_equal(np.asarray(Image.open(out / name)),
                                      np.asarray(Image.open(reference / name)))
    (out / ".img05_labels.png.k1ll3d.part").write_bytes(b"half a PNG")  # killed mid-write

    assert main(["segment", str(inputs), "-o", str(out)] + CLI_ARGS) == 0  # same command
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    assert (out / "segmenter.txt").read_text() == (reference / "segmenter.txt").read_text()
    resumed, expected = _outputs(out), _outputs(reference)
    for name in expected:
        np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)


def test_resume_is_the_default_and_overwrite_redoes(tmp_path, capsys):
    inputs = _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert main(["segment", str(inputs), "-o", str(out)] + CLI_ARGS) == 0
    (out / "img01_overlay.png").unlink()  # as if killed between the two writes
    stamp = (out / "img00_labels.png").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["segment", str(inputs), "-o", str(out)] + CLI_ARGS) == 0
    assert (out / "img01_overlay.png").exists()
    assert (out / "img00_labels.png").stat().st_mtime_ns == stamp
    assert main(["segment", str(inputs), "-o", str(out), "--overwrite"] + CLI_ARGS) == 0
    assert (out / "img00_labels.png").stat().st_mtime_ns != stamp


def test_resume_refuses_other_options_and_overwrite_records_the_new_ones(tmp_path, capsys):
    inputs = _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert main(["segment", str(inputs), "-o", str(out)] + CLI_ARGS) == 0
    assert "max_iter=12" in (out / "segmenter.txt").read_text()
    (out / "img01_overlay.png").unlink()
    stamp = (out / "img00_labels.png").stat().st_mtime_ns
    capsys.readouterr()
    changed = CLI_ARGS + ["--alpha", "5"]  # argparse: the later value wins
    assert main(["segment", str(inputs), "-o", str(out)] + changed) == 2
    err = capsys.readouterr().err
    assert "holds 2 label map(s) made with other options (alpha: 15.0 -> 5.0)" in err
    assert "--overwrite" in err
    assert not (out / "img01_overlay.png").exists()  # nothing was done
    assert (out / "img00_labels.png").stat().st_mtime_ns == stamp
    assert main(["segment", str(inputs), "-o", str(out), "--overwrite"] + changed) == 0
    assert "alpha=5.0" in (out / "segmenter.txt").read_text()
    assert (out / "img00_labels.png").stat().st_mtime_ns != stamp
    assert main(["segment", str(inputs), "-o", str(out)] + changed) == 0  # resumes now


def test_outputs_without_a_record_are_kept_with_a_note(tmp_path, capsys):
    inputs = _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert main(["segment", str(inputs), "-o", str(out)] + CLI_ARGS) == 0
    (out / "segmenter.txt").unlink()  # as written by an older version
    (out / "img01_labels.png").unlink()
    capsys.readouterr()
    assert main(["segment", str(inputs), "-o", str(out), "--max-iter", "5", "--seed", "0",
                 "--guidance", "kmeans"]) == 0
    captured = capsys.readouterr()
    assert "cannot be checked; they are kept" in captured.err
    assert "max_iter=5" in (out / "segmenter.txt").read_text()
    assert "skipping 1 image(s)" in captured.out


def test_a_worker_killed_under_jobs_is_reported_and_the_rest_resumes(tmp_path, monkeypatch,
                                                                      capsys):
    inputs = _photos(tmp_path / "in", 3)
    Image.fromarray(np.full((30, 30, 3), 90, np.uint8)).save(inputs / "img01.png")
    build = cli._segmenter

    def killing_segmenter(args):
        # an image's overlay is written last, after its labels: once img00's and img02's
        # exist, the other worker has finished them, so the kill comes at the same point
        # of every run, whatever the speed of either process
        finished = [Path(args.output) / f"img0{i}_overlay.png" for i in (0, 2)]

        class Killing(type(build(args))):  # local: pickled by value into the workers
            def fit_predict(self, X, y=None):
                if np.shape(X)[0] == 30:  # as the OS's out-of-memory killer would
                    deadline = time.monotonic() + 120
                    while not all(path.exists() for path in finished):
                        if time.monotonic() > deadline:
                            raise RuntimeError("img00 and img02 were not finished in 120 s")
                        time.sleep(0.01)
                    os.kill(os.getpid(), signal.SIGKILL)
                return super().fit_predict(X, y)

        return Killing(**build(args).get_params())

    monkeypatch.setattr(cli, "_segmenter", killing_segmenter)
    out = tmp_path / "out"
    assert main(["segment", str(inputs), "-o", str(out), "--jobs", "2"] + CLI_ARGS) == 1
    err = capsys.readouterr().err
    assert "img01.png: not finished: a worker process died" in err
    assert "re-run to resume" in err
    assert not (out / "img01_labels.png").exists()
    assert (out / "img00_labels.png").exists() and (out / "img00_overlay.png").exists()
    for path in out.glob("*.png"):  # whatever was written is complete
        Image.open(path).load()
    (out / "segmenter.txt").unlink()  # it names the test's class
    monkeypatch.setattr(cli, "_segmenter", build)
    assert main(["segment", str(inputs), "-o", str(out), "--jobs", "2"] + CLI_ARGS) == 0
    assert len(list(out.glob("*_labels.png"))) == 3


# -- long dataset jobs: evaluate() -------------------------------------------------------


class CountingSegmenter(DynaGuideSegmenter):
    calls = 0

    def predict(self, X):
        type(self).calls += 1
        return super().predict(X)


def test_evaluate_reports_and_skips_failing_images(tmp_path):
    image, truth = make_quadrants(16, 16)
    path = tmp_path / "quad.png"
    Image.fromarray(image).save(path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    bad = np.full((16, 16, 3), np.nan)
    seg = DynaGuideSegmenter(**FAST)
    with pytest.warns(UserWarning, match="2 of 4 images failed"):
        result = evaluate(seg, [image, broken, str(path), bad], [truth] * 4,
                          protocol="hungarian")
    assert [f["index"] for f in result.failed] == [1, 3]
    assert "broken.png" in result.failed[0]["source"] and "not a readable image" in \
        result.failed[0]["error"]
    assert "NaN" in result.failed[1]["error"]
    assert result.summary["n_images"] == 2 and result.summary["n_failed"] == 2
    alone = evaluate(seg, [image, image], [truth] * 2, protocol="hungarian")
    assert result.summary["miou"] == pytest.approx(alone.summary["miou"])
    with pytest.raises(ValueError, match="NaN"):
        evaluate(seg, [image, bad], [truth] * 2, on_error="raise")
    with pytest.raises(ValueError, match="every one of the 2 images failed"):
        evaluate(seg, [bad, broken], [truth] * 2)
    with pytest.raises(ValueError, match="on_error"):
        evaluate(seg, [image], [truth], on_error="ignore")


def test_evaluate_saves_labels_atomically_and_resumes(tmp_path):
    images = [make_quadrants(16, 16)[0], make_quadrants(12, 20)[0], make_quadrants(16, 8)[0]]
    truths = [make_quadrants(*im.shape[:2])[1] for im in images]
    fresh = evaluate(DynaGuideSegmenter(**FAST), images, truths)
    out = tmp_path / "labels"
    CountingSegmenter.calls = 0
    evaluate(CountingSegmenter(**FAST), images[:2], truths[:2], output_dir=out)
    assert CountingSegmenter.calls == 2
    assert sorted(p.name for p in out.iterdir()) == [
        "image-00000.npy", "image-00001.npy", "segmenter.txt"]
    resumed = evaluate(CountingSegmenter(**FAST), images, truths, output_dir=out)
    assert CountingSegmenter.calls == 3  # only the new image was segmented
    assert [r["resumed"] for r in resumed.per_image] == [True, True, False]
    for key in ("all", "fine", "coarse", "mean", "n_images", "n_failed"):
        assert resumed.summary[key] == pytest.approx(fresh.summary[key]), key
    for a, b in zip(resumed.labels, fresh.labels):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="other parameters"):
        evaluate(CountingSegmenter(**{**FAST, "max_iter": 3}), images, truths, output_dir=out)


# -- models that travel ------------------------------------------------------------------


def _contains_torch(value, seen=None):
    seen = set() if seen is None else seen
    if id(value) in seen:
        return False
    seen.add(id(value))
    if torch.is_tensor(value) or isinstance(value, torch.nn.Module):
        return True
    if isinstance(value, dict):
        return any(_contains_torch(v, seen) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_torch(v, seen) for v in value)
    return False


def test_fitted_state_is_numpy_and_pickles_without_torch():
    images = [make_quadrants(12, 12)[0], make_quadrants(10, 14)[0]]
    seg = DynaGuideSegmenter(**FAST).fit(images)
    fitted = {k: v for k, v in vars(seg).items() if k.endswith("_")}
    assert not _contains_torch(fitted)
    data = pickle.dumps(seg)
    assert b"torch" not in data  # unpickles where torch has no GPU (or no torch state at all)
    restored = pickle.loads(data)
    for a, b in zip(restored.labels_, seg.labels_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(restored.predict(images[0]), seg.labels_[0])


def test_the_model_cache_loads_once_under_concurrent_threads():
    key = ("test", "concurrent", "cpu", "float32", None)
    calls = []

    def loader():
        calls.append(threading.get_ident())
        time.sleep(0.05)  # a slow load: every thread arrives while it runs
        return object()

    got = [None] * 8
    barrier = threading.Barrier(8)

    def worker(i):
        barrier.wait()
        got[i] = _hub.load_cached(key, loader)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(calls) == 1 and all(g is got[0] for g in got)
    finally:
        with _hub._CACHE_LOCK:
            _hub._CACHE.pop(key, None)


def test_a_failed_load_is_not_cached_and_is_retried():
    key = ("test", "flaky", "cpu", "float32", None)
    attempts = []

    def loader():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk hiccup")
        return "model"

    try:
        with pytest.raises(OSError, match="hiccup"):
            _hub.load_cached(key, loader)
        assert _hub.load_cached(key, loader) == "model" and len(attempts) == 2
    finally:
        with _hub._CACHE_LOCK:
            _hub._CACHE.pop(key, None)


class TestSegFormerTravels:
    """A provider holding a loaded (tiny, random) SegFormer: clone, threads and pickles."""

    @pytest.fixture(scope="class")
    def checkpoint(self, tmp_path_factory):
        pytest.importorskip("transformers")
        return save_tiny_segformer(tmp_path_factory.mktemp("tiny-segformer-travel"))

    def _provider(self, checkpoint):
        from skdynaguide.guidance import SegFormerGuidance

        return SegFormerGuidance(checkpoint=checkpoint, local_files_only=True, resolution=32)

    def test_clone_and_pickle_share_the_model_and_never_hold_weights(self, checkpoint):
        image, _ = make_quadrants(16, 16)
        seg = DynaGuideSegmenter(guidance=self._provider(checkpoint), **FAST).fit(image)
        model = seg.guidance._load_model("cpu", torch.float32)
        twin = clone(seg)
        assert twin.guidance is not seg.guidance
        assert twin.guidance._load_model("cpu", torch.float32) is model  # not copied
        assert not any(_contains_torch(v) for v in vars(twin.guidance).values())
        data = pickle.dumps(seg)
        weights = b"".join(p.detach().numpy().tobytes()[:64] for p in model[1].parameters())
        assert len(data) < 20000 and b"torch" not in data
        assert not any(chunk in data for chunk in (weights[:64], weights[-64:]))
        restored = pickle.loads(data)
        np.testing.assert_array_equal(restored.labels_, seg.labels_)
        np.testing.assert_array_equal(restored.guidance(image), seg.guidance_labels_)

    def test_threads_share_one_loaded_model(self, checkpoint):
        _hub.clear_model_cache()
        image, _ = make_quadrants(16, 16)
        results = [None] * 4
        barrier = threading.Barrier(4)

        def worker(i):
            barrier.wait()
            results[i] = self._provider(checkpoint)(image)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len([k for k in _hub.cached_keys() if k[0] == "segformer"]) == 1
        for labels in results[1:]:
            np.testing.assert_array_equal(labels, results[0])


# -- resource limits ---------------------------------------------------------------------


class MustNotRun(GuidanceProvider):
    def segment(self, image, random_state=None):
        raise AssertionError("work started before the memory check")


def test_an_image_too_large_for_the_memory_is_refused_before_any_work(monkeypatch):
    import skdynaguide._resources as resources

    monkeypatch.setattr(resources, "available_bytes", lambda device: 50 * 2**20)  # 50 MiB
    image = np.zeros((128, 128, 3))
    image[:, 64:] = 1
    seg = DynaGuideSegmenter(guidance=MustNotRun(), max_pixels=None, n_features=100,
                             n_clusters=100, max_iter=2)
    with pytest.raises(TrainingMemoryError, match="max_pixels") as error:
        seg.fit(image)
    assert isinstance(error.value, MemoryError) and "nothing was trained" in str(error.value)
    # the reduced-resolution path fits, and predicts at full size
    seg.set_params(guidance="kmeans", max_pixels=2000)
    assert seg.fit_predict(image).shape == (128, 128)


def test_memory_estimate_and_free_memory():
    assert training_bytes(100, 100, 100, 100, 2) == 4 * 100 * 100 * (600 + 600 + 1200)
    free = available_bytes("cpu")
    assert free is None or free > 0
    assert available_bytes("mps") is None
    check_training_memory([(10, 10)], n_features=4, n_clusters=4, n_blocks=1, device="cpu")
    check_training_memory([], n_features=4, n_clusters=4, n_blocks=1, device="cpu")


def test_devices_warn_and_fall_back_or_raise(monkeypatch):
    from skdynaguide._device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:3"):
        with pytest.warns(UserWarning, match="CUDA is not available"):
            assert resolve_device(name) == "cpu"
    assert resolve_device("auto") == "cpu" and resolve_device(torch.device("cpu")) == "cpu"
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="not supported"):
        resolve_device("meta")
    with pytest.raises(TypeError, match="device must be a string"):
        resolve_device(0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="does not exist"):
        resolve_device("cuda:1")


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_outputs_get_the_permissions_the_umask_gives(tmp_path, umask):
    from skdynaguide.io import atomic_save, write_labels, write_rgb

    previous = os.umask(umask)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_text("x")  # what any other program writing here would get
        paths = [write_labels(tmp_path / "a_labels.png", np.zeros((2, 2), int)),
                 write_rgb(tmp_path / "a_overlay.png", np.zeros((2, 2, 3))),
                 atomic_save(tmp_path / "notes.txt", lambda tmp: Path(tmp).write_text("y"))]
    finally:
        os.umask(previous)
    assert plain.stat().st_mode & 0o777 == 0o666 & ~umask
    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a_labels.png", "a_overlay.png", "notes.txt", "plain.txt"]
