import subprocess
import sys

import numpy as np
import pytest

from skdynaguide.plotting import (
    colorize,
    label_colors,
    mark_boundaries,
    overlay,
    plot_boundaries,
    plot_comparison,
    plot_labels,
    plot_loss_history,
    plot_overlay,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

HALVES = np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)


@pytest.fixture(autouse=True)
def no_show_and_close(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("plotting helpers must never call plt.show()")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


@pytest.mark.slow  # imports the package in a fresh Python process
def test_importing_plotting_does_not_import_matplotlib():
    code = ("import sys, skdynaguide.plotting, skdynaguide.cli; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_label_colours_are_stable_and_distinct():
    many = label_colors(50)
    assert np.array_equal(label_colors(7), many[:7])
    assert len({tuple(c) for c in many}) == 50
    # the same label value gets the same colour whatever else is in the map
    a = colorize(np.array([[0, 3]]))
    b = colorize(np.array([[3, 9]]))
    assert np.array_equal(a[0, 1], b[0, 0])
    with pytest.raises(ValueError, match="non-negative"):
        colorize(np.array([[-1, 0]]))


def test_overlay_blends_colours_and_marks_boundaries():
    image = np.full((6, 6, 3), 100, dtype=np.uint8)
    plain = overlay(image, HALVES, boundaries=False, alpha=0.5)
    expected = np.round(0.5 * 100 + 0.5 * label_colors(2)[HALVES].astype(float))
    assert np.array_equal(plain, expected.astype(np.uint8))
    marked = overlay(image, HALVES, boundary_color=(1, 2, 3), alpha=0.5)
    assert np.array_equal(marked[:, 3], np.tile([1, 2, 3], (6, 1)))  # inner boundary of 1
    assert np.array_equal(marked[:, 0], plain[:, 0])
    assert image.max() == 100  # the caller's array is untouched


def test_mark_boundaries_keeps_the_photo_elsewhere():
    image = np.random.default_rng(0).random((6, 6, 3))
    picture = mark_boundaries(image, HALVES, color=(255, 0, 0), mode="thick")
    edge = np.zeros((6, 6), bool)
    edge[:, 2:4] = True
    assert np.all(picture[edge] == [255, 0, 0])
    assert np.array_equal(picture[~edge], np.round(image * 255).astype(np.uint8)[~edge])
    with pytest.raises(ValueError, match="subpixel"):
        mark_boundaries(image, HALVES, mode="subpixel")
    with pytest.raises(ValueError, match="shape"):
        mark_boundaries(image, HALVES[:3])


@pytest.mark.parametrize("draw", ["labels", "overlay", "boundaries"])
def test_each_plot_returns_its_axes_with_the_picture(draw):
    image = np.zeros((6, 6, 3))
    fig, ax = plt.subplots()
    if draw == "labels":
        result = plot_labels(HALVES, ax, title="t")
        expected = colorize(HALVES)
    elif draw == "overlay":
        result = plot_overlay(image, HALVES, ax, title="t", boundaries=False)
        expected = overlay(image, HALVES, boundaries=False)
    else:
        result = plot_boundaries(image, HALVES, ax, title="t")
        expected = mark_boundaries(image, HALVES)
    assert result is ax and isinstance(result, Axes)
    assert np.array_equal(np.asarray(ax.get_images()[0].get_array()), expected)
    assert ax.get_title() == "t" and not ax.axison
    # without ax, the current Axes is used
    fig2, ax2 = plt.subplots()
    assert plot_labels(HALVES) is ax2


def test_comparison_side_by_side():
    image = np.zeros((6, 6, 3))
    maps = {"halves": HALVES, "one": np.zeros((6, 6), int), "eye": np.eye(6, dtype=int)}
    axes = plot_comparison(image, maps, kind="labels", ncols=2)
    assert [ax.get_title() for ax in axes] == ["image", "halves", "one", "eye"]
    assert len(axes[0].figure.axes) == 4  # the unused fifth/sixth panels are removed
    assert np.array_equal(np.asarray(axes[3].get_images()[0].get_array()),
                          colorize(np.eye(6, dtype=int)))
    fig, given = plt.subplots(1, 2)
    used = plot_comparison(image, [HALVES], axes=given, kind="boundaries")
    assert list(used) == list(given)
    with pytest.raises(ValueError, match="Axes"):
        plot_comparison(image, [HALVES, HALVES], axes=given)
    with pytest.raises(ValueError, match="kind"):
        plot_comparison(image, [HALVES], kind="contour")
    with pytest.raises(ValueError, match="titles"):
        plot_comparison(image, [HALVES], titles=["a", "b"])


def _history(n=5):
    return {
        "loss": np.linspace(5, 1, n), "similarity": np.linspace(4, 1, n),
        "continuity": np.linspace(0.5, 0.1, n), "guidance": np.linspace(2, 1, n),
        "scribble": np.zeros(n), "modularity": np.zeros(n),
        "continuity_weight": np.full(n, 2.0), "guidance_weight": np.full(n, 10.0),
        "n_labels": np.array([100, 40, 12, 8, 8])[:n],
    }


def test_loss_history_draws_each_term_and_q_prime():
    history = _history()
    fig, ax = plt.subplots()
    assert plot_loss_history(history, ax) is ax
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["loss", "similarity", "continuity", "guidance"]  # zeros left out
    assert np.array_equal(lines["guidance"].get_xdata(), np.arange(1, 6))
    assert np.allclose(lines["continuity"].get_ydata(), history["continuity"])
    assert np.array_equal(ax.right_ax.get_lines()[0].get_ydata(), history["n_labels"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-1] == "q'"

    fig, ax = plt.subplots()
    plot_loss_history(history, ax, weighted=True, log=True, terms=["continuity", "guidance"])
    lines = ax.get_lines()
    assert np.allclose(lines[0].get_ydata(), 2.0 * history["continuity"])
    assert np.allclose(lines[1].get_ydata(), 10.0 * history["guidance"])
    assert ax.get_yscale() == "log"


def test_loss_history_refuses_what_is_not_one_history():
    with pytest.raises(TypeError, match="loss_history_"):
        plot_loss_history([_history()])
    with pytest.raises(ValueError, match="lacks"):
        plot_loss_history({"loss": [1.0]})
    with pytest.raises(ValueError, match="unknown"):
        plot_loss_history(_history(), terms=["sharpness"])


def test_loss_history_of_a_fitted_segmenter():
    from skdynaguide import DynaGuideSegmenter

    image = np.zeros((12, 12, 3))
    image[:, 6:] = 1.0
    seg = DynaGuideSegmenter(guidance=None, n_features=8, n_clusters=8, max_iter=4,
                             random_state=0).fit(image)
    ax = plot_loss_history(seg.loss_history_)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "guidance" not in labels and "similarity" in labels
    assert len(ax.right_ax.get_lines()[0].get_xdata()) == seg.n_iter_
