"""Videos and image sequences: reading frames (video files, folders, lists), the three
modes of segment_frames, and the ``skdynaguide video`` command."""
import inspect
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import QUADRANT_COLOURS
from skdynaguide import DynaGuideSegmenter, InductiveSegmenter
from skdynaguide.cli import main
from skdynaguide.io import read_annotations, read_image
from skdynaguide.plotting import overlay
from skdynaguide.video import MODES, read_frames, segment_frames

iio = pytest.importorskip("imageio.v3")
pytest.importorskip("av")

RED, GREEN, BLUE, YELLOW = QUADRANT_COLOURS
# whole frames (crop_size=None): 16-pixel crops of a 24x32 frame are often one colour, and
# the classes of the two sides then come out less reliably (4 of 8 seeds against 8 of 8)
SMALL = dict(n_features=16, n_clusters=8, crop_size=None, max_iter=30, partial_iter=3,
             random_state=0)
SPLITS = (10, 13, 16, 19)  # the red/blue edge moves right by 3 columns per frame
CLI = ["--max-iter", "10", "--partial-iter", "2", "-q"]


def _edge(split, seed=0, size=(24, 32)):
    """Red left of column ``split``, blue right of it, with a little noise."""
    image = np.empty((*size, 3), dtype=np.float64)
    image[:, :split], image[:, split:] = RED, BLUE
    noise = np.random.default_rng(seed).normal(0, 4, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _frames():
    return [_edge(split, seed) for seed, split in enumerate(SPLITS)]


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.mp4"
    iio.imwrite(path, np.stack(_frames()), plugin="pyav", codec="libx264", fps=10)
    return path


@pytest.fixture
def folder(tmp_path):
    """frame_1, frame_2, frame_10 (a name order would put frame_10 second), and a file
    that is not an image."""
    path = tmp_path / "frames"
    path.mkdir()
    for name, frame in zip(("frame_1", "frame_2", "frame_10"), _frames()):
        Image.fromarray(frame).save(path / f"{name}.png")
    (path / "notes.txt").write_text("not a frame")
    return path


# -- read_frames -------------------------------------------------------------------------


def test_a_video_file_is_read_back_frame_by_frame(video):
    frames = list(read_frames(video))
    assert len(frames) == len(SPLITS)
    for frame, split in zip(frames, SPLITS):
        assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8
        # lossy, but the colours on either side of the edge survive
        assert np.abs(frame[12, 2].astype(int) - RED).max() < 40
        assert np.abs(frame[12, -2].astype(int) - BLUE).max() < 40
    assert inspect.isgenerator(read_frames(str(video)))


def test_a_folder_is_read_in_natural_order_and_grey_frames_become_rgb(folder):
    Image.fromarray(np.full((24, 32), 77, dtype=np.uint8)).save(folder / "frame_3.png")
    frames = list(read_frames(folder))
    assert len(frames) == 4  # notes.txt is not a frame
    expected = [_frames()[0], _frames()[1], None, _frames()[2]]
    for frame, want in zip(frames, expected):
        assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8
        if want is not None:
            np.testing.assert_array_equal(frame, want)
    np.testing.assert_array_equal(frames[2], np.full((24, 32, 3), 77))


def test_a_list_of_files_keeps_its_order_and_a_single_image_is_one_frame(folder):
    paths = [folder / "frame_10.png", folder / "frame_1.png"]
    frames = list(read_frames(paths))
    np.testing.assert_array_equal(frames[0], _frames()[2])
    np.testing.assert_array_equal(frames[1], _frames()[0])
    assert len(list(read_frames(folder / "frame_2.png"))) == 1


def test_unreadable_sources_give_clear_errors(tmp_path, folder):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_frames(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no image file"):
        read_frames(tmp_path / "empty")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"neither a video nor an image" * 10)
    with pytest.raises(ValueError, match="neither an image .* nor a readable video"):
        read_frames(garbage)
    with pytest.raises(ValueError, match="empty"):
        read_frames([])
    with pytest.raises(FileNotFoundError, match="frame_99"):
        read_frames([folder / "frame_1.png", folder / "frame_99.png"])
    with pytest.raises(TypeError, match="path"):
        read_frames(3)
    (folder / "frame_5.png").write_bytes(b"broken")  # raises when reached, with its name
    with pytest.raises(ValueError, match="frame_5.png"):
        list(read_frames(folder))


def test_without_pyav_a_video_asks_for_the_extra(video, folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "skdynaguide\[video\]"'):
        read_frames(video)
    assert len(list(read_frames(folder))) == 3  # folders of images do not need it


# -- segment_frames ----------------------------------------------------------------------


@pytest.mark.parametrize("mode, segmenter", [
    ("warm", InductiveSegmenter(**SMALL)),
    ("shared", InductiveSegmenter(**SMALL)),
    ("independent", DynaGuideSegmenter(n_features=16, n_clusters=8, max_iter=10,
                                       random_state=0)),
])
def test_every_mode_gives_one_label_map_per_frame(mode, segmenter):
    frames = _frames() + [_edge(12, 9, size=(20, 28))]  # a frame of another size
    labels = segment_frames(iter(frames), mode, segmenter=segmenter)
    assert inspect.isgenerator(labels)
    labels = list(labels)
    assert len(labels) == len(frames)
    for frame, label_map in zip(frames, labels):
        assert label_map.shape == frame.shape[:2]
        assert np.issubdtype(label_map.dtype, np.integer)
        assert label_map[12, 1] != label_map[12, -1]  # red and blue apart
    assert list(segment_frames([], mode, segmenter=segmenter)) == []


def test_warm_mode_keeps_the_class_ids_of_a_moving_edge():
    labels = list(segment_frames(_frames(), "warm", segmenter=InductiveSegmenter(**SMALL)))
    left = {int(label_map[12, 2]) for label_map in labels}
    right = {int(label_map[12, -2]) for label_map in labels}
    assert len(left) == 1 and len(right) == 1 and left != right
    for label_map, split in zip(labels, SPLITS):  # the classes follow the edge
        assert (label_map[:, : split - 1] == min(left)).mean() > 0.95
        assert (label_map[:, split + 1:] == min(right)).mean() > 0.95


def _spy(monkeypatch, name):
    """Record the images every call of ``InductiveSegmenter.<name>`` receives."""
    calls = []
    original = getattr(InductiveSegmenter, name)

    def spy(self, X, *args):
        calls.append([int(frame[0, 0, 0]) for frame in (X if isinstance(X, list) else [X])])
        return original(self, X, *args)

    monkeypatch.setattr(InductiveSegmenter, name, spy)
    return calls


def _numbered(n):
    """Frames whose pixel (0, 0) holds their index."""
    frames = _frames() * (n // len(SPLITS) + 1)
    frames = [frame.copy() for frame in frames[:n]]
    for index, frame in enumerate(frames):
        frame[0, 0] = index
    return frames


@pytest.mark.parametrize("shared_frames, trained", [
    (4, [0, 3, 6, 9]), (5, [0, 2, 4, 6, 8]), (8, [0, 2, 4, 6, 8]), (None, list(range(10))),
])
def test_shared_mode_trains_once_on_every_kth_frame(monkeypatch, shared_frames, trained):
    fits, predicts = _spy(monkeypatch, "fit"), _spy(monkeypatch, "predict_classes")
    model = InductiveSegmenter(**{**SMALL, "max_iter": 2, "min_size": None})
    labels = list(segment_frames(_numbered(10), "shared", segmenter=model,
                                 shared_frames=shared_frames))
    assert fits == [trained]
    assert predicts == [[index] for index in range(10)] and len(labels) == 10


def test_warm_mode_fits_the_first_warm_frames_then_partial_fits_each_next(monkeypatch):
    fits, partials = _spy(monkeypatch, "fit"), _spy(monkeypatch, "partial_fit")
    model = InductiveSegmenter(**{**SMALL, "max_iter": 2, "partial_iter": 1})
    labels = list(segment_frames(_numbered(5), "warm", segmenter=model, warm_frames=2))
    assert fits == [[0, 1]] and partials == [[2], [3], [4]]
    assert len(labels) == 5


@pytest.mark.parametrize("warm_guidance, later", [(False, None), (True, "felzenszwalb")])
def test_warm_mode_trains_later_frames_without_their_guides_by_default(
        monkeypatch, warm_guidance, later):
    guides = []
    original = InductiveSegmenter._train

    def spy(self, X, training, n_steps, provider):
        guides.append(self.guidance)
        return original(self, X, training, n_steps, provider)

    monkeypatch.setattr(InductiveSegmenter, "_train", spy)
    model = InductiveSegmenter(**{**SMALL, "max_iter": 2, "partial_iter": 1})
    list(segment_frames(_numbered(3), "warm", segmenter=model, warm_guidance=warm_guidance))
    assert guides == ["felzenszwalb", later, later]
    assert model.guidance == "felzenszwalb"  # the caller's segmenter is left alone
    with pytest.raises(TypeError, match="warm_guidance must be a bool"):
        segment_frames(_numbered(3), "warm", warm_guidance="yes")


def test_independent_mode_is_a_fresh_per_image_run_on_every_frame():
    params = dict(n_features=16, n_clusters=8, max_iter=10, random_state=0)
    frames = _frames()[:2]
    labels = list(segment_frames(frames, "independent", segmenter=DynaGuideSegmenter(**params)))
    for frame, label_map in zip(frames, labels):
        np.testing.assert_array_equal(label_map, DynaGuideSegmenter(**params).fit_predict(frame))


def test_the_callers_frames_and_segmenter_are_left_alone():
    frames = _frames()
    copies = [frame.copy() for frame in frames]
    model = InductiveSegmenter(**SMALL)
    list(segment_frames(frames, "warm", segmenter=model))
    list(segment_frames(frames, "shared", segmenter=model))
    assert all(np.array_equal(a, b) for a, b in zip(frames, copies))
    assert not hasattr(model, "network_") and model.get_params() == InductiveSegmenter(
        **SMALL).get_params()
    fitted = InductiveSegmenter(**SMALL).fit(frames[0])
    weights = {k: v.clone() for k, v in fitted.network_.state_dict().items()}
    list(segment_frames(frames, "warm", segmenter=fitted))
    assert all(v.equal(weights[k]) for k, v in fitted.network_.state_dict().items())
    assert fitted.n_iter_ == SMALL["max_iter"]


def test_bad_modes_and_segmenters_are_refused_when_called():
    frames = _frames()
    with pytest.raises(ValueError, match="mode must be one of 'warm', 'shared', "
                                         "'independent', got 'batch'"):
        segment_frames(frames, "batch")
    with pytest.raises(TypeError, match="needs segmenter to be an InductiveSegmenter"):
        segment_frames(frames, "warm", segmenter=DynaGuideSegmenter())
    with pytest.raises(TypeError, match="DynaGuideSegmenter .*got InductiveSegmenter"):
        segment_frames(frames, "independent", segmenter=InductiveSegmenter())
    with pytest.raises(TypeError, match="got KMeans"):
        from sklearn.cluster import KMeans

        segment_frames(frames, "shared", segmenter=KMeans())
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="warm_frames must be a positive integer"):
            segment_frames(frames, "warm", warm_frames=bad)
    with pytest.raises(ValueError, match="shared_frames must be a positive integer or None"):
        segment_frames(frames, "shared", shared_frames=0)
    assert set(MODES) == {"warm", "shared", "independent"}


# -- the command line ----------------------------------------------------------------------


def test_cli_writes_labels_and_overlays_of_every_video_frame(video, tmp_path):
    out = tmp_path / "out"
    assert main(["video", str(video), "-o", str(out)] + CLI) == 0
    stems = [f"frame_{index:06d}" for index in range(len(SPLITS))]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{s}_labels.png" for s in stems] + [f"{s}_overlay.png" for s in stems]
        + ["segmenter.txt"])
    # the labels are those of the library with the same options, written exactly
    model = InductiveSegmenter(max_iter=10, partial_iter=2, random_state=0)
    frames = list(read_frames(video))
    for stem, frame, want in zip(stems, frames, segment_frames(frames, segmenter=model)):
        np.testing.assert_array_equal(read_annotations(out / f"{stem}_labels.png")[0], want)
        np.testing.assert_array_equal(read_image(out / f"{stem}_overlay.png"),
                                      overlay(frame, want))
    assert "mode='warm'" in (out / "segmenter.txt").read_text()


@pytest.mark.parametrize("mode", ["shared", "independent"])
def test_cli_writes_a_folders_frames_under_their_own_stems(folder, tmp_path, mode):
    out = tmp_path / "out"
    flags = ["--max-iter", "10", "-q"]
    assert main(["video", str(folder), "-o", str(out), "--mode", mode] + flags) == 0
    for stem, frame in zip(("frame_1", "frame_2", "frame_10"), _frames()):
        labels = read_annotations(out / f"{stem}_labels.png")[0]
        assert labels.shape == (24, 32) and labels[12, 1] != labels[12, -1]
        assert read_image(out / f"{stem}_overlay.png").shape == (24, 32, 3)
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_cli_resumes_the_missing_frames_and_refuses_to_mix_options(video, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["video", str(video), "-o", str(out), "--max-iter", "10"]
    args = base + ["--partial-iter", "2"]
    assert main(args + ["-q"]) == 0
    written = {p.name: p.read_bytes() for p in out.glob("*.png")}
    stamp = (out / "frame_000001_labels.png").stat().st_mtime_ns
    assert main(args) == 0
    assert "skipping 4 frame(s) already segmented" in capsys.readouterr().out
    assert (out / "frame_000001_labels.png").stat().st_mtime_ns == stamp
    # a run killed before frame 2 was written: the re-run trains through frames 0-1 again
    # and writes frame 2 as the full run did
    (out / "frame_000002_labels.png").unlink()
    (out / ".frame_000002_overlay.png.1234abcd.part").write_bytes(b"partial")
    assert main(args) == 0
    assert "skipping 3 frame(s)" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.glob("*.png")} == written
    assert not list(out.glob(".*"))
    assert (out / "frame_000001_labels.png").stat().st_mtime_ns == stamp
    # other options into the same folder are refused, naming what changed
    assert main(base + ["--mode", "shared", "-q"]) == 2
    assert "mode: 'warm' -> 'shared'" in capsys.readouterr().err
    assert main(["video", str(video), "-o", str(out), "--max-iter", "11", "--partial-iter",
                 "2", "-q"]) == 2
    assert "max_iter: 10 -> 11" in capsys.readouterr().err
    assert main(["segment", str(video), "-o", str(out), "-q"]) == 2  # not a mix either
    assert "class: VideoOptions -> DynaGuideSegmenter" in capsys.readouterr().err
    assert main(base + ["--mode", "shared", "-q", "--overwrite"]) == 0
    assert "mode='shared'" in (out / "segmenter.txt").read_text()


def test_cli_independent_mode_resumes_without_segmenting_finished_frames(
        folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["video", str(folder), "-o", str(out), "--mode", "independent", "--max-iter", "5",
            "-q"]
    assert main(args) == 0
    (out / "frame_2_overlay.png").unlink()
    seen = []
    original = DynaGuideSegmenter.fit_predict
    monkeypatch.setattr(DynaGuideSegmenter, "fit_predict",
                        lambda self, X, *a, **k: seen.append(X.shape) or original(self, X))
    assert main(args) == 0
    assert len(seen) == 1 and (out / "frame_2_overlay.png").exists()


def test_cli_usage_errors_exit_two(video, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert main(["video", str(tmp_path / "missing.mp4"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["video", str(tmp_path / "empty"), "-o", str(out)]) == 2
    assert "holds no image file" in capsys.readouterr().err
    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello")
    assert main(["video", str(garbage), "-o", str(out)]) == 2
    assert "nor a readable video" in capsys.readouterr().err
    assert main(["video", str(video), "-o", str(out), "--mode", "independent",
                 "--partial-iter", "3"]) == 2
    assert "--partial-iter applies to --mode warm only" in capsys.readouterr().err
    assert main(["video", str(video), "-o", str(out), "--shared-frames", "3"]) == 2
    assert main(["video", str(video), "-o", str(out), "--mode", "batch"]) == 2
    assert main(["video", str(video), "-o", str(out), "--max-iter", "0"]) == 2
    assert main(["video", str(video), "-o", str(out), "--guidance", "watershed"]) == 2
    assert "watershed" in capsys.readouterr().err
    assert main(["video"]) == 2
    monkeypatch.setitem(sys.modules, "av", None)
    assert main(["video", str(video), "-o", str(out)]) == 2
    assert 'pip install "skdynaguide[video]"' in capsys.readouterr().err
    assert not out.exists()


def test_cli_lists_unreadable_frames_and_exits_one(folder, tmp_path, capsys):
    (folder / "frame_5.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    assert main(["video", str(folder), "-o", str(out)] + CLI) == 1
    err = capsys.readouterr().err
    assert "1 failure(s)" in err and "frame_5.png" in err
    assert sorted(p.name for p in out.glob("*_labels.png")) == [
        "frame_10_labels.png", "frame_1_labels.png", "frame_2_labels.png"]


def test_cli_help_lists_the_video_options(capsys):
    assert main(["video", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("SOURCE", "--mode", "--partial-iter", "--shared-frames", "--max-iter",
                 "--guidance", "--max-pixels", "--min-size", "--device", "--seed",
                 "--overwrite", "--quiet", "warm", "shared", "independent"):
        assert flag in text, flag
    assert main(["--help"]) == 0
    assert "video" in capsys.readouterr().out
