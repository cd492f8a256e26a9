"""Property-based tests (hypothesis) of the public entry points: the estimator, the weight-free
guidance providers and the metrics (issue 7).

Every generated input comes with the outcome the documentation promises for it, computed
here independently of the library: a segmentation (labels of the image's shape, consecutive
from 0, identical under the same seed, the caller's array untouched) or one specific error.
The example counts are fixed by the ``skdynaguide`` profile below (``derandomize`` makes every
run draw the same examples); ``docs/reliability.rst`` records them.
"""
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from skdynaguide import DynaGuideSegmenter  # noqa: E402
from skdynaguide.guidance import (  # noqa: E402
    FCMGuidance, FelzenszwalbGuidance, KMeansGuidance, SLICGuidance)
from skdynaguide.metrics import (  # noqa: E402
    best_overlap_miou, bsds_best_overlap, hungarian_miou, pixel_accuracy, segment_best_overlap)

settings.register_profile(
    "skdynaguide",
    max_examples=150,
    deadline=None,  # the first torch call of a process is slow; hangs are caught by the budget
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
    # no "explain" phase: it writes patch files under .hypothesis/
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
PROFILE = settings.get_profile("skdynaguide")
#: Examples per estimator test (each trains networks, so fewer than for the metrics).
ESTIMATOR_EXAMPLES = 50
TINY = dict(n_features=4, n_clusters=4, max_iter=2, random_state=0)

VALID_DTYPES = ("uint8", "uint16", "float32", "float64")
INVALID_DTYPES = ("bool", "int8", "int32", "int64")


# -- images and the outcome the documentation promises for them -----------------------------


FAULTS = ("dtype", "channels", "rgba", "one pixel", "nan", "inf", "-inf", "above", "below")
#: The error each fault must raise, as documented by ``check_image`` (class, message part).
EXPECTED = {
    "dtype": (TypeError, "accepted dtypes"),
    "channels": (ValueError, "channels"),
    "rgba": (ValueError, "RGBA"),
    "one pixel": (ValueError, "at least 2 pixels"),
    "nan": (ValueError, "NaN or infinite"),
    "inf": (ValueError, "NaN or infinite"),
    "-inf": (ValueError, "NaN or infinite"),
    "above": (ValueError, r"\[0, 1\]"),
    "below": (ValueError, r"\[0, 1\]"),
}


@st.composite
def images(draw, *, allow_invalid=True):
    """(image, expected): a valid image (expected None) or one with a single fault
    (expected the documented (error class, message part)); half of them valid."""
    fault = None
    if allow_invalid and draw(st.booleans()):
        fault = draw(st.sampled_from(FAULTS))
    if fault == "one pixel":
        height = width = 1
    else:  # 1×N and N×1 included
        height, width = draw(st.sampled_from([(1, None), (None, 1), (None, None)]))
        height = height or draw(st.integers(1 if width is None else 2, 9))
        width = width or draw(st.integers(1 if height > 1 else 2, 9))
    channels = draw(st.sampled_from([None, 1, 3]))
    if fault == "channels":
        channels = draw(st.sampled_from([2, 5]))
    elif fault == "rgba":
        channels = 4
    if fault == "dtype":
        dtype = draw(st.sampled_from(INVALID_DTYPES))
    elif fault in ("nan", "inf", "-inf", "above", "below"):
        dtype = draw(st.sampled_from(["float32", "float64"]))
    else:
        dtype = draw(st.sampled_from(VALID_DTYPES))
    shape = (height, width) if channels is None else (height, width, channels)
    dt = np.dtype(dtype)
    if dt == bool:
        elements = st.booleans()
    elif dt.kind in "ui":
        info = np.iinfo(dt)
        elements = st.integers(int(info.min), int(info.max))
    else:
        elements = st.floats(0, 1, width=dt.itemsize * 8)
    array = draw(hnp.arrays(dt, shape, elements=elements))
    if fault in ("nan", "inf", "-inf", "above", "below"):
        value = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "above": 1.5,
                 "below": -0.25}[fault]
        index = tuple(draw(st.integers(0, n - 1)) for n in shape)
        array[index] = value
    layout = draw(st.sampled_from(["c", "fortran", "strided", "readonly"]))
    if layout == "fortran":
        array = np.asfortranarray(array)
    elif layout == "strided":  # a non-contiguous view of a larger array
        array = np.repeat(np.repeat(array, 2, axis=0), 2, axis=1)[::2, ::2]
    elif layout == "readonly":
        array.flags.writeable = False
    return array, EXPECTED.get(fault)


def _snapshot(array):
    return array.copy(), array.flags.writeable


def _unchanged(array, snapshot):
    copy, writeable = snapshot
    np.testing.assert_array_equal(array, copy)
    assert array.flags.writeable == writeable


def _assert_segmentation(labels, shape, max_labels):
    assert isinstance(labels, np.ndarray) and labels.shape == shape
    assert np.issubdtype(labels.dtype, np.integer)
    present = np.unique(labels)
    np.testing.assert_array_equal(present, np.arange(len(present)))  # consecutive from 0
    assert len(present) <= max_labels


# -- the estimator ---------------------------------------------------------------------------


@pytest.mark.slow  # trains a network per example
@settings(PROFILE, max_examples=ESTIMATOR_EXAMPLES)
@given(case=images(), guidance=st.sampled_from(["kmeans", "felzenszwalb", "slic", "fcm", None]))
def test_fit_predict_segments_or_raises_the_documented_error(case, guidance):
    image, expected = case
    snapshot = _snapshot(image)
    seg = DynaGuideSegmenter(guidance=guidance, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # single-label guides, collapses: tested elsewhere
        if expected is not None:
            error, match = expected
            with pytest.raises(error, match=match):
                seg.fit_predict(image)
        else:
            labels = seg.fit_predict(image)
            # segments are connected pieces, as many as the image holds; the network's
            # clusters are at most n_clusters
            _assert_segmentation(labels, image.shape[:2], labels.size)
            _assert_segmentation(seg.clusters_, image.shape[:2], TINY["n_clusters"])
            assert seg.n_labels_ == labels.max() + 1
            again = DynaGuideSegmenter(guidance=guidance, **TINY).fit_predict(image)
            np.testing.assert_array_equal(again, labels)  # deterministic under a seed
            if np.all(image == image.reshape(-1, *image.shape[2:])[0]):
                assert labels.max() == 0  # identical pixels: one segment
    _unchanged(image, snapshot)


@pytest.mark.slow  # trains networks per example
@settings(PROFILE, max_examples=ESTIMATOR_EXAMPLES)
@given(first=images(allow_invalid=False), second=images(allow_invalid=False),
       seed=st.integers(0, 2**31 - 1))
def test_a_batch_is_the_images_one_by_one_and_predict_equals_fit(first, second, seed):
    (a, _), (b, _) = first, second
    params = dict(TINY, random_state=seed, guidance="kmeans")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = DynaGuideSegmenter(**params)
        batch = seg.fit_predict([a, b])
        predicted = DynaGuideSegmenter(**params).predict([a, b])
    for labels, clusters, image in zip(batch, seg.clusters_, (a, b)):
        _assert_segmentation(labels, image.shape[:2], labels.size)
        _assert_segmentation(clusters, image.shape[:2], TINY["n_clusters"])
    for x, y in zip(batch, predicted):
        np.testing.assert_array_equal(x, y)


# -- the weight-free guidance providers ------------------------------------------------------

PROVIDERS = [
    KMeansGuidance(n_clusters=3, random_state=0),
    FelzenszwalbGuidance(scale=10, min_size=2),
    SLICGuidance(n_segments=4),
    FCMGuidance(n_clusters=3),
]


@pytest.mark.slow  # runs every provider per example
@settings(PROFILE)
@given(case=images(), index=st.integers(0, len(PROVIDERS) - 1), seed=st.integers(0, 1000))
def test_providers_label_every_pixel_or_raise_the_documented_error(case, index, seed):
    image, expected = case
    provider = PROVIDERS[index]
    snapshot = _snapshot(image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if expected is not None:
            error, match = expected
            with pytest.raises(error, match=match):
                provider(image, random_state=seed)
        else:
            labels = provider(image, random_state=seed)
            _assert_segmentation(labels, image.shape[:2], image.shape[0] * image.shape[1])
            np.testing.assert_array_equal(provider(image, random_state=seed), labels)
    _unchanged(image, snapshot)


# -- the metrics -----------------------------------------------------------------------------


@st.composite
def label_pairs(draw, max_labels=5):
    height, width = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    maps = hnp.arrays(np.int64, (height, width), elements=st.integers(0, max_labels - 1))
    return draw(maps), draw(maps)


def _permute(labels, seed, offset=0):
    """The same partition under other (arbitrary, non-consecutive) ids."""
    ids = np.unique(labels)
    new = np.random.default_rng(seed).permutation(len(ids)) * 7 + 3 + offset
    return new[np.searchsorted(ids, labels)]


METRICS = {
    "hungarian_miou": hungarian_miou,
    "pixel_accuracy": pixel_accuracy,
    "best_overlap_miou": best_overlap_miou,
}


@settings(PROFILE)
@given(pair=label_pairs(), seed=st.integers(0, 1000))
def test_metrics_are_bounded_and_invariant_to_relabelling(pair, seed):
    truth, pred = pair
    before = truth.copy(), pred.copy()
    for name, metric in METRICS.items():
        score = metric(truth, pred)
        assert 0.0 <= score <= 1.0, name
        # label ids are arbitrary on both sides
        assert metric(_permute(truth, seed), _permute(pred, seed + 1)) == pytest.approx(score)
        # a prediction that is the truth under other ids is perfect
        assert metric(truth, _permute(truth, seed)) == pytest.approx(1.0), name
    per_segment = segment_best_overlap(truth, pred)
    assert per_segment.shape == (len(np.unique(truth)),)
    assert np.all((per_segment > 0) & (per_segment <= 1))  # every segment overlaps something
    scores = bsds_best_overlap([truth, pred], pred)
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    np.testing.assert_array_equal(truth, before[0])
    np.testing.assert_array_equal(pred, before[1])


@settings(PROFILE)
@given(pair=label_pairs())
def test_hungarian_scores_are_symmetric_for_equal_label_counts(pair):
    truth, pred = pair
    # one-to-one matching treats both sides alike when they have as many labels; with
    # unequal counts the unmatched truth classes (scored 0) make the mIoU asymmetric
    if len(np.unique(truth)) == len(np.unique(pred)):
        assert hungarian_miou(truth, pred) == pytest.approx(hungarian_miou(pred, truth))
    assert pixel_accuracy(truth, pred) == pytest.approx(pixel_accuracy(pred, truth))


@settings(PROFILE)
@given(pair=label_pairs(), ignore=st.integers(0, 4), seed=st.integers(0, 1000))
def test_ignored_pixels_do_not_count(pair, ignore, seed):
    truth, pred = pair
    ignored = truth == ignore
    noisy = pred.copy()
    noisy[ignored] = np.random.default_rng(seed).integers(0, 9, ignored.sum())
    for name, metric in METRICS.items():
        if ignored.all():
            with pytest.raises(ValueError, match="ignored"):
                metric(truth, pred, ignore_index=ignore)
            continue
        score = metric(truth, pred, ignore_index=ignore)
        assert 0.0 <= score <= 1.0
        # what the prediction says on ignored pixels changes nothing ...
        assert metric(truth, noisy, ignore_index=ignore) == pytest.approx(score), name
        # ... and the ignored class is no class at all
        keep = ~ignored  # the kept pixels as a one-row map
        assert score == pytest.approx(metric(truth[keep][None], pred[keep][None])), name


@settings(PROFILE)
@given(values=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)),
                         elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, 0.5, np.nan, np.inf])),
       dtype=st.sampled_from(["bool", "float32", "float64", "uint8", "int16", "complex64"]))
def test_metric_inputs_are_validated(values, dtype):
    with np.errstate(invalid="ignore"):
        truth = values.astype(dtype)
    pred = np.zeros(truth.shape, dtype=np.int64)
    if truth.dtype == bool or truth.dtype.kind == "c":
        with pytest.raises(TypeError, match="integers"):
            hungarian_miou(truth, pred)
    elif truth.dtype.kind == "f" and not np.all(np.isfinite(truth) & (truth == np.round(truth))):
        with pytest.raises(ValueError, match="whole numbers"):
            hungarian_miou(truth, pred)
    else:
        assert 0.0 <= hungarian_miou(truth, pred) <= 1.0
        assert 0.0 <= best_overlap_miou(truth, pred) <= 1.0
    with pytest.raises(ValueError, match="shape"):
        hungarian_miou(np.zeros((2, 3), dtype=int), np.zeros((3, 2), dtype=int))
