"""Region classification across a dataset (DCN's second stage) on synthetic images whose
classes are known: red, green and blue patches in different layouts, with arbitrary ids."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_estimator_repr,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
)

from skdynaguide import RegionClassifier, repeated_scores
from skdynaguide.family.embedding import ColourTextureEmbedder, RegionEmbedder
from skdynaguide.metrics import hungarian_miou
from skdynaguide.family.regions import cluster_regions

RED, GREEN, BLUE = 0, 1, 2


def render(layout, rng, shade=0.0):
    """An image from a map of colour classes: shaded primaries with a little noise."""
    colours = np.array([[0.85, 0.15, 0.1], [0.15, 0.8, 0.2], [0.1, 0.2, 0.85]]) + shade
    image = colours[layout] + rng.normal(0, 0.02, layout.shape + (3,))
    return np.clip(image, 0, 1)


def blocks(grid, size):
    return np.kron(np.asarray(grid), np.ones((size, size), dtype=np.int64))


def make_dataset(seed=0):
    """Images of several layouts and sizes; truth = colour class; ids arbitrary per image."""
    rng = np.random.default_rng(seed)
    layouts = [
        blocks([[RED, GREEN, BLUE]], 8),                       # stripes
        blocks([[BLUE], [RED]], 7),                            # two bands
        blocks([[GREEN, RED], [BLUE, GREEN]], 6),              # quadrants, green twice
        blocks([[RED, BLUE, RED], [BLUE, GREEN, BLUE]], 5),    # a checkerboard
    ]
    images, maps = [], []
    for i, layout in enumerate(layouts):
        images.append(render(layout, rng, shade=0.05 * (i % 2)))
        # ids: one per block (the two green quadrants are two regions), scrambled
        rows, cols = np.indices(layout.shape)
        block = (rows // 5) * 100 + cols // 5 if i == 3 else (rows // 6) * 10 + cols // 6
        if i < 2:
            block = layout
        ids = np.unique(block)
        scramble = dict(zip(ids, rng.permutation(len(ids)) * 7 - 3))
        maps.append(np.vectorize(scramble.get)(block))
    return images, maps, layouts


def test_regions_of_the_same_colour_share_a_class_in_every_image():
    images, maps, truth = make_dataset()
    originals = [m.copy() for m in maps], [im.copy() for im in images]
    model = RegionClassifier(n_classes=3, random_state=0)
    labels = model.fit_predict(images, maps)
    assert [lab.shape for lab in labels] == [t.shape for t in truth]
    assert all(lab.dtype == np.int64 for lab in labels)
    assert hungarian_miou(truth, labels, accumulate=True) == pytest.approx(1.0)
    # the same colour maps onto the same id in every image
    pairs = {(int(t), int(p)) for tr, lab in zip(truth, labels) for t, p in zip(tr.ravel(), lab.ravel())}
    assert len(pairs) == 3 and len({p for _, p in pairs}) == 3
    # the per-image ids alone score low at the dataset level
    assert hungarian_miou(truth, maps, accumulate=True) < 0.6
    for kept, given in zip(originals[0] + originals[1], maps + images):
        np.testing.assert_array_equal(kept, given)


def test_fitted_attributes():
    images, maps, _ = make_dataset()
    model = RegionClassifier(n_classes=3, random_state=0).fit(images, maps)
    assert model.n_regions_ == [3, 2, 4, 6]
    assert [len(r) for r in model.region_labels_] == model.n_regions_
    assert model.cluster_centers_.shape == (3, 32) and isinstance(model.cluster_centers_, np.ndarray)
    # region_labels_ follow the sorted ids of each map
    for classes, ids, labels in zip(model.region_labels_, maps, model.labels_):
        for region, label_id in enumerate(np.unique(ids)):
            assert np.all(labels[ids == label_id] == classes[region])
    assert model.inertia_ >= 0 and model.n_iter_ >= 1
    assert len(pickle.dumps(model)) < 20000


def test_predict_classifies_new_images_with_the_fitted_classes():
    images, maps, truth = make_dataset()
    model = RegionClassifier(n_classes=3, random_state=0).fit(images, maps)
    for got, expected in zip(model.predict(images, maps), model.labels_):
        np.testing.assert_array_equal(got, expected)
    colour_class = {int(t): int(p) for t, p in zip(truth[0].ravel(), model.labels_[0].ravel())}
    new_layout = blocks([[BLUE, GREEN], [GREEN, RED]], 4)
    new = model.predict(render(new_layout, np.random.default_rng(5)), 1 - new_layout)
    assert new.shape == (8, 8)  # one image in, one map out
    np.testing.assert_array_equal(new, np.vectorize(colour_class.get)(new_layout))


def test_split_connected_separates_the_pieces_of_one_label():
    layout = blocks([[RED, BLUE, RED]], 6)
    image = render(layout, np.random.default_rng(1))
    two_ids = np.where(layout == BLUE, 0, 1)  # id 1 covers both red pieces
    mixed = np.zeros_like(layout)  # one id for everything
    whole = RegionClassifier(n_classes=1).fit(image, two_ids)
    assert whole.n_regions_ == 2
    split = RegionClassifier(n_classes=2, split_connected=True, random_state=0)
    labels = split.fit_predict([image, image], [two_ids, mixed])
    assert split.n_regions_ == [3, 1]
    assert hungarian_miou(layout, labels[0]) == pytest.approx(1.0)


def test_the_same_random_state_gives_the_same_result():
    images, maps, _ = make_dataset()
    a = RegionClassifier(n_classes=4, n_init=1, random_state=3).fit(images, maps)
    b = RegionClassifier(n_classes=4, n_init=1, random_state=3).fit(images, maps)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    for x, y in zip(a.labels_, b.labels_):
        np.testing.assert_array_equal(x, y)


def test_area_weighting_fits_the_pixels_rather_than_the_region_count():
    # two large regions of different colours and twenty one-pixel specks of a third colour:
    # counted per region the specks claim a class and the two large regions share one
    rng = np.random.default_rng(0)
    features = np.concatenate([[[0.0], [1.0]], rng.normal(3.0, 0.01, (20, 1))])
    areas = np.array([1000.0, 1000.0] + [1.0] * 20)
    weighted = cluster_regions(features, 2, sample_weight=areas, random_state=0)
    plain = cluster_regions(features, 2, random_state=0)
    assert weighted.labels_[0] != weighted.labels_[1]
    assert plain.labels_[0] == plain.labels_[1]


def test_repeated_scores_report_every_run_and_their_mean_and_std():
    images, maps, truth = make_dataset()
    model = RegionClassifier(n_classes=3, random_state=7)
    scores = repeated_scores(model, images, maps, truth, n_repeats=4)
    assert scores.miou.shape == scores.accuracy.shape == scores.seeds.shape == (4,)
    np.testing.assert_allclose(scores.miou, 1.0)
    assert scores.miou_mean == pytest.approx(1.0) and scores.miou_std == pytest.approx(0.0)
    assert "±" in str(scores)
    assert not hasattr(model, "labels_")  # the classifier itself is left alone
    # the first run is the one fit() makes with the same random_state
    hard = RegionClassifier(n_classes=2, n_init=1, embedder=ColourTextureEmbedder(n_bins=2),
                            random_state=11)
    runs = repeated_scores(hard, images, maps, truth, n_repeats=6)
    first = hungarian_miou(truth, clone(hard).fit_predict(images, maps), accumulate=True)
    assert runs.miou[0] == pytest.approx(first)
    assert runs.miou_std == pytest.approx(np.std(runs.miou, ddof=1))
    again = repeated_scores(hard, images, maps, truth, n_repeats=6)
    np.testing.assert_array_equal(runs.miou, again.miou)
    assert runs.miou.max() <= 2 / 3 + 1e-9  # two classes for three colours


class _Broken(RegionEmbedder):
    def embed(self, image, regions):
        return np.zeros((1, 2))


def test_invalid_input_is_reported():
    images, maps, truth = make_dataset()
    model = RegionClassifier(n_classes=3)
    with pytest.raises(ValueError, match="4 images but 3 label maps"):
        model.fit(images, maps[:3])
    with pytest.raises(ValueError, match=r"label_maps\[1\] has shape \(14, 8\), expected \(14, 7\)"):
        model.fit(images, [maps[0], np.zeros((14, 8), dtype=int), *maps[2:]])
    with pytest.raises(ValueError, match="n_classes=16 exceeds the number of regions, 15"):
        RegionClassifier(n_classes=16).fit(images, maps)
    with pytest.raises(ValueError, match="whole numbers"):
        model.fit(images[0], maps[0] + 0.5)
    with pytest.raises(TypeError, match="label_maps must be a list"):
        model.fit(images, 3)
    with pytest.raises(TypeError, match="embedder must be one of"):
        RegionClassifier(embedder=3).fit(images, maps)
    with pytest.raises(ValueError, match="unknown embedder 'sift'"):
        RegionClassifier(embedder="sift").fit(images, maps)
    with pytest.raises(ValueError, match="n_init must be >= 1"):
        RegionClassifier(n_init=0).fit(images, maps)
    with pytest.raises(TypeError, match="split_connected must be a bool"):
        RegionClassifier(split_connected="yes").fit(images, maps)
    with pytest.raises(ValueError, match=r"shape \(1, 2\) for the 3 regions of image 0"):
        RegionClassifier(embedder=_Broken()).fit(images, maps)
    with pytest.raises(ValueError, match="every block weight"):
        RegionClassifier(embedder=ColourTextureEmbedder(colour_weight=0, histogram_weight=0,
                                                        texture_weight=0)).fit(images, maps)
    with pytest.raises(NotFittedError):
        model.predict(images, maps)
    fitted = RegionClassifier(n_classes=3).fit(images, maps)
    with pytest.raises(ValueError, match="embedded in 35 dimensions but the classifier was fitted in 32"):
        fitted.set_params(embedder=ColourTextureEmbedder(position_weight=1.0)).predict(images, maps)
    with pytest.raises(ValueError, match="y has 3 maps for 4 images"):
        repeated_scores(model, images, maps, truth[:3])


def test_colour_statistics_are_what_the_docstring_says():
    image = np.zeros((6, 9, 3), dtype=np.float32)
    image[:, 3:6] = [1.0, 0.0, 0.0]
    image[:, 6:] = [0.0, 0.0, 1.0]
    regions = np.repeat([[0, 0, 0, 1, 1, 1, 2, 2, 2]], 6, axis=0)
    features = ColourTextureEmbedder(n_bins=4, position_weight=1.0).embed(image, regions)
    assert features.shape == (3, 6 + 12 + 2 + 3)
    np.testing.assert_allclose(features[1, :3], [0.5324, 0.8001, 0.6722], atol=2e-3)  # red in Lab/100
    np.testing.assert_allclose(features[:, 3:6], 0, atol=1e-6)  # constant colours
    histograms = features[:, 6:18].reshape(3, 3, 4) * np.sqrt(3)
    np.testing.assert_allclose(histograms.sum(axis=2), 1.0)
    # a region's interior has no gradient even though its border with the next one has
    np.testing.assert_allclose(features[:, 18:20], 0, atol=1e-9)
    np.testing.assert_allclose(features[:, 20], 1 / 3)
    np.testing.assert_allclose(features[:, 22], [1.5 / 9, 4.5 / 9, 7.5 / 9])
    # texture: a noisy region has a larger gradient than a flat one
    noisy = image.copy()
    noisy[:, :3] = np.random.default_rng(0).random((6, 3, 3))
    textured = ColourTextureEmbedder().embed(noisy, regions)
    assert textured[0, -2] > 0.5 and textured[1, -2] == 0


@pytest.mark.parametrize("check", [check_no_attributes_set_in_init, check_estimator_repr,
                                   check_get_params_invariance, check_mixin_order,
                                   check_parameters_default_constructible])
def test_scikit_learn_conventions(check):
    check("RegionClassifier", RegionClassifier())
