import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter
from skdynaguide.training.scribbles import UNLABELLED, check_scribbles, resize_scribbles

INTERIORS = [(slice(3, 13), slice(3, 13)), (slice(3, 13), slice(19, 29)),
             (slice(19, 29), slice(3, 13)), (slice(19, 29), slice(19, 29))]


def _strokes(top=7, bottom=3, shape=(32, 32)):
    """One horizontal stroke across both top quadrants, one across both bottom ones."""
    scribbles = np.full(shape, UNLABELLED)
    scribbles[6, 2:30] = top
    scribbles[25, 2:30] = bottom
    return scribbles


def _one_label(labels, blocks):
    return len(np.unique(np.concatenate([labels[b].ravel() for b in blocks]))) == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scribbles_join_differently_coloured_quadrants():
    # four colours; the user's strokes say "top" and "bottom": the result must have two
    # regions, which the unscribbled run (four interiors apart) does not
    image, _ = make_quadrants()
    params = dict(guidance=None, output="redraw", boundaries=None, n_features=48, n_clusters=48, max_iter=40, random_state=0)
    scribbles = _strokes()
    labels = DynaGuideSegmenter(**params).fit_predict(image, scribbles=scribbles)
    tl, tr, bl, br = INTERIORS
    assert _one_label(labels, [tl, tr]) and _one_label(labels, [bl, br])
    assert labels[tl][0, 0] != labels[bl][0, 0]

    unscribbled = DynaGuideSegmenter(**params).fit_predict(image)
    assert len({int(unscribbled[b][0, 0]) for b in INTERIORS}) == 4
    assert not _one_label(unscribbled, [tl, tr])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scribble_term_is_logged_weighted_and_deterministic():
    image, _ = make_quadrants()
    params = {**FAST, "guidance": None, "scribble_weight": 0.5}
    seg = DynaGuideSegmenter(**params)
    labels = seg.fit_predict(image, scribbles=_strokes())
    again = DynaGuideSegmenter(**params).fit_predict(image, scribbles=_strokes())
    h = seg.loss_history_
    assert np.all(h["scribble"] > 0) and np.all(h["guidance"] == 0)
    np.testing.assert_allclose(
        h["loss"], h["similarity"] + h["continuity_weight"] * h["continuity"] + 0.5 * h["scribble"],
        rtol=1e-5)
    np.testing.assert_array_equal(labels, again)
    plain = DynaGuideSegmenter(**params).fit(image)
    assert np.all(plain.loss_history_["scribble"] == 0)


def test_min_labels_defaults_to_the_number_of_scribble_classes():
    image, _ = make_quadrants()
    scribbles = _strokes()
    scribbles[15, 2:30] = 11  # three classes
    with pytest.warns(ConvergenceWarning, match="min_labels=3 "):
        DynaGuideSegmenter(**{**FAST, "max_iter": 2}).fit(image, scribbles=scribbles)
    with pytest.warns(ConvergenceWarning, match="min_labels=5 "):
        DynaGuideSegmenter(**{**FAST, "max_iter": 2, "min_labels": 5}).fit(
            image, scribbles=scribbles)
    with warnings.catch_warnings():  # without scribbles: a fixed budget, no warning
        warnings.simplefilter("error", ConvergenceWarning)
        DynaGuideSegmenter(**{**FAST, "max_iter": 2}).fit(image)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_callers_scribbles_are_not_modified_and_batches_take_none():
    a, _ = make_quadrants()
    b, _ = make_quadrants(20, 24)
    scribbles = _strokes()
    before = scribbles.copy()
    seg = DynaGuideSegmenter(**FAST)
    out = seg.fit_predict([a, b], scribbles=[scribbles, None])
    np.testing.assert_array_equal(scribbles, before)
    assert [o.shape for o in out] == [(32, 32), (20, 24)]
    assert np.all(seg.loss_history_[0]["scribble"] > 0)
    assert np.all(seg.loss_history_[1]["scribble"] == 0)
    stacked = seg.fit_predict(np.stack([a, a]), scribbles=np.stack([scribbles, scribbles]))
    assert len(stacked) == 2


def test_all_unlabelled_scribbles_mean_no_scribbles():
    image, _ = make_quadrants()
    empty = np.full((32, 32), UNLABELLED)
    a = DynaGuideSegmenter(**FAST).fit(image, scribbles=empty)
    b = DynaGuideSegmenter(**FAST).fit(image)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert np.all(a.loss_history_["scribble"] == 0)


def test_scribble_ids_map_to_channels_in_increasing_order():
    maps, n_classes = check_scribbles(np.array([[7, -1, 3], [3, 100, 7]]), [(2, 3)], False, 4)
    assert maps[0].tolist() == [[1, -1, 0], [0, 2, 1]] and n_classes == [3]
    maps, n_classes = check_scribbles([None, np.full((1, 2), -1)], [(2, 2), (1, 2)], True, 4)
    assert maps == [None, None] and n_classes == [0, 0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_thin_strokes_survive_training_at_a_lower_resolution():
    stroke = np.full((40, 60), UNLABELLED)
    stroke[17, 5:55] = 0  # one pixel wide, shrunk 4x below
    stroke[30:33, 40:44] = 1
    small = resize_scribbles(stroke, (10, 15))
    assert set(np.unique(small)) == {UNLABELLED, 0, 1}
    assert (small[4] == 0).sum() >= 12
    image, _ = make_quadrants(40, 60)
    seg = DynaGuideSegmenter(**{**FAST, "max_pixels": 150}).fit(image, scribbles=stroke)
    assert seg.labels_.shape == (40, 60) and np.all(seg.loss_history_["scribble"] > 0)


@pytest.mark.parametrize(
    "scribbles, error, match",
    [
        (np.zeros((5, 5), int), ValueError, r"shape \(5, 5\); it must match its image, \(8, 8\)"),
        (np.zeros((8, 8)), TypeError, "must hold integers"),
        (np.zeros((8, 8), bool), TypeError, "must hold integers"),
        (np.full((8, 8), -2), ValueError, "class ids must be >= 0, with UNLABELLED = -1"),
        (np.arange(64).reshape(8, 8), ValueError, "64 scribble classes but the network has only"),
    ],
)
def test_invalid_scribbles_for_one_image(scribbles, error, match):
    image, _ = make_quadrants(8, 8)
    with pytest.raises(error, match=match):
        DynaGuideSegmenter(**FAST).fit(image, scribbles=scribbles)


def test_invalid_scribbles_for_a_batch():
    image, _ = make_quadrants(8, 8)
    good = np.full((8, 8), UNLABELLED)
    with pytest.raises(ValueError, match="scribbles has 1 entries for 2 images"):
        DynaGuideSegmenter(**FAST).fit([image, image], scribbles=[good])
    with pytest.raises(TypeError, match="one map \\(or None\\) per image"):
        DynaGuideSegmenter(**FAST).fit([image, image], scribbles=good)
    with pytest.raises(ValueError, match=r"scribbles\[1\] has shape \(4, 4\)"):
        DynaGuideSegmenter(**FAST).fit([image, image], scribbles=[good, np.zeros((4, 4), int)])
    with pytest.raises(ValueError, match="scribbles has 1 entries for 0 images"):
        DynaGuideSegmenter(**FAST).fit([], scribbles=[good])
    with pytest.raises(ValueError, match="scribble_weight must be >= 0"):
        DynaGuideSegmenter(scribble_weight=-0.5).fit(image, scribbles=good)
