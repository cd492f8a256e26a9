"""Boundary hierarchies: construction, cuts, the clusters' weights, the provider and the
estimators' ``output="hierarchy"``."""
import pickle

import numpy as np
import pytest
from scipy import ndimage
from sklearn.exceptions import NotFittedError

from skdynaguide import DynaGuideSegmenter
from skdynaguide.guidance import HierarchyGuidance
from skdynaguide.hierarchy import (BoundaryHierarchy, build_hierarchy, hierarchy_from_map,
                                   region_adjacency)
from skdynaguide.output import HierarchyCut, OutputContext, output_steps


def _blocks(seed=0, shape=(48, 64)):
    """An image of four flat blocks of different colours with a little noise."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape + (3,), np.float32)
    image[:24, :32] = (0.9, 0.1, 0.1)
    image[:24, 32:] = (0.1, 0.8, 0.1)
    image[24:, :32] = (0.1, 0.1, 0.9)
    image[24:, 32:] = (0.85, 0.85, 0.2)
    return np.clip(image + rng.normal(0, 0.03, image.shape), 0, 1).astype(np.float32)


def _noisy_map(seed=0, shape=(40, 60)):
    rng = np.random.default_rng(seed)
    prob = rng.random(shape) * 0.1
    prob[:, 20] += 0.8
    prob[25, :] += 0.4
    return prob


@pytest.mark.parametrize("method", ["dynamics", "mean"])
def test_cuts_are_nested_connected_and_respect_min_area(method):
    prob = _noisy_map()
    tree = BoundaryHierarchy.from_boundaries(prob, method=method, min_area=30)
    previous = None
    for threshold in (0.0, 0.05, 0.2, 0.3, 0.6, 1.0):
        labels = tree.cut(threshold=threshold)
        assert labels.shape == prob.shape and labels.dtype == np.int64
        sizes = np.bincount(labels.ravel())
        assert sizes.min() >= 30
        for k in range(len(sizes)):  # every region is one connected piece
            assert ndimage.label(labels == k)[1] == 1
        if previous is not None:  # a higher cut only merges regions of a lower one
            pairs = np.unique(np.stack([previous.ravel(), labels.ravel()]), axis=1)
            assert len(np.unique(pairs[0])) == pairs.shape[1]
        previous = labels
    assert previous.max() == 0


def test_threshold_cut_keeps_the_strong_boundary_and_counts_are_exact():
    prob = np.zeros((30, 40))
    prob[:, 20] = 0.9
    prob[15, :20] = 0.3
    tree = BoundaryHierarchy.from_boundaries(prob, method="mean")
    labels = tree.cut(threshold=0.2)
    assert labels.max() + 1 == 2  # the weak boundary (0.15 on edges) merges, the strong stays
    assert labels[0, 0] == 0 and labels[0, -1] == 1  # numbered in raster order
    assert tree.cut(n_segments=3).max() + 1 == 3
    assert tree.cut(n_segments=100).max() + 1 == tree.n_regions


def test_ucm_is_zero_inside_regions_and_marks_the_boundaries():
    prob = np.zeros((30, 40))
    prob[:, 20] = 0.9
    tree = BoundaryHierarchy.from_boundaries(prob)
    ucm = tree.ucm()
    assert ucm.shape == prob.shape
    assert ucm[:, :15].max() == 0 and ucm[:, 25:].max() == 0
    assert ucm[:, 18:23].max(axis=1).min() > 0.4


def test_region_adjacency_lists_each_pair_once():
    regions = np.array([[0, 0, 1], [2, 2, 1], [2, 3, 3]])
    sources, targets = region_adjacency(regions)
    assert list(zip(sources.tolist(), targets.tolist())) == [(0, 1), (0, 2), (1, 2), (1, 3),
                                                           (2, 3)]


def test_informed_by_keeps_apart_what_the_clusters_separate():
    prob = np.zeros((20, 30))
    prob[:, 10] = 0.6
    prob[:, 20] = 0.6
    tree = BoundaryHierarchy.from_boundaries(prob)
    clusters = np.zeros((20, 30), int)
    clusters[:, 20:] = 1
    assert tree.informed_by(clusters, 0.0) is tree
    assert len(np.unique(tree.cut(threshold=0.2))) == 3
    assert len(np.unique(tree.cut(threshold=0.5))) == 1
    informed = tree.informed_by(clusters, 0.5).cut(threshold=0.5)
    assert informed[0, 0] == informed[0, 15] != informed[0, 25]
    # boundaries inside one cluster keep their strength: one cluster changes no cut
    one = tree.informed_by(np.zeros((20, 30), int), 0.5)
    for threshold in (0.2, 0.5):
        np.testing.assert_array_equal(one.cut(threshold=threshold), tree.cut(threshold=threshold))
    # clusters that split every column apart keep every boundary even at a high threshold
    apart = np.repeat(np.arange(30)[None] // 10, 20, axis=0)
    assert len(np.unique(tree.informed_by(apart, 0.5).cut(threshold=0.8))) == 3


def test_bad_input_gets_specific_errors():
    tree = BoundaryHierarchy.from_boundaries(_noisy_map())
    with pytest.raises(ValueError, match="exactly one of threshold and n_segments"):
        tree.cut()
    with pytest.raises(ValueError, match="exactly one"):
        tree.cut(threshold=0.1, n_segments=3)
    with pytest.raises(ValueError, match="n_segments"):
        tree.cut(n_segments=0)
    with pytest.raises(ValueError, match="clusters of shape"):
        tree.informed_by(np.zeros((3, 3), int), 0.5)
    with pytest.raises(ValueError, match=r"weight must lie in \[0, 1\)"):
        tree.informed_by(np.zeros((40, 60), int), 1.0)
    with pytest.raises(ValueError, match="2-D map"):
        hierarchy_from_map(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        BoundaryHierarchy.from_boundaries(np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="method must be one of"):
        hierarchy_from_map(np.zeros((5, 5)), method="ward")
    with pytest.raises(ValueError, match="min_area"):
        hierarchy_from_map(np.zeros((5, 5)), min_area=1.5)


def test_build_hierarchy_reuses_the_hierarchy_of_the_same_image_and_settings():
    image = _blocks()
    original = image.copy()
    first = build_hierarchy(image, "gradient", min_area=20)
    assert build_hierarchy(image, "gradient", min_area=20) is first
    assert build_hierarchy(image, "gradient", min_area=40) is not first
    np.testing.assert_array_equal(image, original)
    labels = first.cut(n_segments=4)
    # the four blocks
    assert len({labels[5, 5], labels[5, 60], labels[40, 5], labels[40, 60]}) == 4


def test_hierarchy_guidance_cuts_the_image_at_its_blocks():
    image = _blocks()
    guide = HierarchyGuidance(boundaries="gradient", threshold=0.1, min_area=20)(image)
    assert len(np.unique(guide)) == 4
    assert HierarchyGuidance(boundaries="gradient", n_segments=2)(image).max() + 1 == 2
    with pytest.raises(ValueError, match="threshold"):
        HierarchyGuidance(threshold=-1)(image)
    with pytest.raises(ValueError, match="method"):
        HierarchyGuidance(method="ward")(image)


def test_learned_boundaries_build_a_hierarchy_too():
    labels = HierarchyGuidance()(_blocks())  # the shipped model, the default
    assert 2 <= labels.max() + 1 <= 12


def test_output_steps_hierarchy_and_context_keeps_the_informed_tree():
    steps = output_steps(min_size=20, output="hierarchy", threshold=0.1, network_weight=0.0)
    assert steps == [HierarchyCut(0.1, None, 0.0, min_area=20)]
    image = _blocks()
    context = OutputContext(image=image, boundaries="gradient")
    labels = steps[0](np.zeros(image.shape[:2], int), context)
    np.testing.assert_array_equal(labels, context.hierarchy.cut(threshold=0.1))
    with pytest.raises(ValueError, match="output must be one of"):
        output_steps(min_size=20, output="clusters")


SMALL = dict(n_features=8, n_clusters=6, max_iter=10, boundaries="gradient", random_state=0)


def test_segmenter_default_output_is_a_cut_that_segments_at_recuts():
    seg = DynaGuideSegmenter(**SMALL).fit(_blocks())
    labels = seg.labels_
    assert isinstance(seg.hierarchies_, BoundaryHierarchy)
    np.testing.assert_array_equal(labels, seg.hierarchies_.cut(threshold=seg.threshold))
    for k in (1, 2, 4):
        assert seg.segments_at(n_segments=k).max() + 1 == k
    assert seg.segments_at(threshold=10.0).max() == 0
    again = pickle.loads(pickle.dumps(seg))
    np.testing.assert_array_equal(again.segments_at(n_segments=4), seg.segments_at(n_segments=4))
    batch = DynaGuideSegmenter(**SMALL).fit([_blocks(0), _blocks(1)])
    assert [m.max() + 1 for m in batch.segments_at(n_segments=3)] == [3, 3]


def test_network_weight_zero_is_the_guides_hierarchy_cut():
    image = _blocks()
    seg = DynaGuideSegmenter(**SMALL, guidance="hierarchy", network_weight=0.0)
    labels = seg.fit_predict(image)
    tree = build_hierarchy(image, "gradient", min_area=seg.min_size)
    np.testing.assert_array_equal(labels, tree.cut(threshold=seg.threshold))
    assert seg.n_iter_ == 0  # no network trained
    # by default that cut is the guide: both cut at the same threshold
    assert DynaGuideSegmenter().threshold == HierarchyGuidance().threshold


def test_segments_at_needs_a_hierarchy_fit():
    with pytest.raises(NotFittedError):
        DynaGuideSegmenter(**SMALL).segments_at(n_segments=3)
    seg = DynaGuideSegmenter(**SMALL, output="redraw").fit(_blocks())
    assert seg.hierarchies_ is None
    with pytest.raises(ValueError, match="output='hierarchy'"):
        seg.segments_at(n_segments=3)


@pytest.mark.parametrize("params, match", [
    (dict(output="clusters"), "output"),
    (dict(threshold=-0.1), "threshold"),
    (dict(n_segments=0), "n_segments"),
    (dict(network_weight=1.0), "network_weight"),
    (dict(boundaries="sobel"), "sobel"),
])
def test_segmenter_refuses_bad_hierarchy_parameters(params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        DynaGuideSegmenter(**{**SMALL, **params}).fit(_blocks())


@pytest.mark.parametrize("shape", [(1, 5, 3), (2, 2, 3), (3, 1, 3)])
def test_tiny_images_get_a_hierarchy_from_the_learned_map(shape):
    image = np.random.default_rng(0).random(shape)
    seg = DynaGuideSegmenter(n_features=4, n_clusters=3, max_iter=3, random_state=0)
    labels = seg.fit_predict(image)
    assert labels.shape == shape[:2]
    assert seg.segments_at(n_segments=2).shape == shape[:2]


def test_thread_workers_share_the_hierarchy_cache_and_give_the_serial_result():
    import joblib

    images = [_blocks(seed) for seed in range(4)]
    serial = DynaGuideSegmenter(**SMALL).fit_predict(images)
    with joblib.parallel_backend("threading"):
        threaded = DynaGuideSegmenter(**SMALL, n_jobs=2).fit_predict(images)
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
