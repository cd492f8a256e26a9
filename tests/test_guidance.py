import pickle

import numpy as np
import pytest
from sklearn.base import clone

from skdynaguide.guidance import (
    DiffSegGuidance,
    FelzenszwalbGuidance,
    GuidanceProvider,
    KMeansGuidance,
    PrecomputedGuidance,
    SegFormerGuidance,
    SLICGuidance,
    resolve_guidance,
)

from helpers import make_quadrants
from skdynaguide._image import check_image
from skdynaguide.metrics import hungarian_miou


@pytest.mark.parametrize(
    "provider",
    [FelzenszwalbGuidance(), SLICGuidance(n_segments=4, compactness=1),
     KMeansGuidance(n_clusters=4, random_state=0)],
    ids=["felzenszwalb", "slic", "kmeans"],
)
def test_weight_free_providers_find_the_four_quadrants(provider):
    image, truth = make_quadrants()
    labels = provider(image)
    assert labels.shape == truth.shape and labels.dtype == np.int64
    assert labels.max() + 1 == 4
    # (Felzenszwalb's pre-smoothing moves a few boundary pixels to a neighbour)
    assert hungarian_miou(truth, labels) > 0.85


def test_providers_accept_any_validated_input_and_do_not_modify_it():
    image, _ = make_quadrants()
    before = image.copy()
    a = FelzenszwalbGuidance(min_size=10)(image)
    b = FelzenszwalbGuidance(min_size=10)(image.astype(np.float64) / 255)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(image, before)
    with pytest.raises(ValueError, match="RGBA"):
        FelzenszwalbGuidance()(np.zeros((4, 4, 4)))


def test_kmeans_seed_and_few_colours():
    image, _ = make_quadrants()
    a = KMeansGuidance(n_clusters=8)(image, random_state=1)
    b = KMeansGuidance(n_clusters=8)(image, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert a.max() + 1 == 4  # only four distinct colours exist


def test_invalid_provider_parameters_are_reported():
    image, _ = make_quadrants()
    with pytest.raises(ValueError, match="scale must be > 0"):
        FelzenszwalbGuidance(scale=0)(image)
    with pytest.raises(TypeError, match="n_segments must be an int"):
        SLICGuidance(n_segments=2.5)(image)


def test_strings_resolve_and_unknown_names_are_explained():
    assert isinstance(resolve_guidance("felzenszwalb"), FelzenszwalbGuidance)
    assert isinstance(resolve_guidance("SLIC"), SLICGuidance)
    assert resolve_guidance(None) is None and resolve_guidance("none") is None
    provider = KMeansGuidance()
    assert resolve_guidance(provider) is provider
    # pretrained providers resolve without loading anything (weights load at first use)
    assert isinstance(resolve_guidance("segformer"), SegFormerGuidance)
    assert isinstance(resolve_guidance("DiffSeg"), DiffSegGuidance)
    with pytest.raises(ValueError, match="unknown guidance 'watershed'"):
        resolve_guidance("watershed")
    with pytest.raises(TypeError, match="GuidanceProvider instance"):
        resolve_guidance(42)


def test_a_new_provider_is_one_class_and_its_output_is_checked():
    class Halves(GuidanceProvider, name="halves-test"):
        def segment(self, image, random_state=None):
            labels = np.zeros(image.shape[:2], dtype=np.int32)
            labels[:, image.shape[1] // 2:] = 7
            return labels

    labels = resolve_guidance("halves-test")(np.zeros((4, 6)))
    assert labels.tolist() == [[0, 0, 0, 1, 1, 1]] * 4  # relabelled consecutively

    class Broken(GuidanceProvider):
        def segment(self, image, random_state=None):
            return np.zeros((2, 2))

    with pytest.raises(ValueError, match="shape"):
        Broken()(np.zeros((4, 6)))


def test_providers_are_light_clonable_and_picklable():
    provider = FelzenszwalbGuidance(scale=50, min_size=5)
    copy = clone(provider)
    assert copy.get_params() == provider.get_params()
    assert pickle.loads(pickle.dumps(provider)).get_params() == provider.get_params()


def test_precomputed_single_map_list_and_content_matching():
    image_a, _ = make_quadrants(8, 8)
    image_b = image_a[::-1].copy()
    map_a = np.repeat([[3, 3, 3, 3, 9, 9, 9, 9]], 8, axis=0)
    map_b = map_a.T.copy()
    assert PrecomputedGuidance(map_a)(image_a).max() == 1

    by_position = PrecomputedGuidance([map_a, map_b])
    out = by_position.segment_batch([check_image(image_a), check_image(image_b)], [None, None])
    np.testing.assert_array_equal(out[1], map_b)
    with pytest.raises(ValueError, match="2 label maps but 1 images"):
        by_position.segment_batch([check_image(image_a)], [None])

    by_content = PrecomputedGuidance([map_a, map_b], images=[image_a, image_b])
    np.testing.assert_array_equal(by_content(image_b), (map_b == 9).astype(int))
    np.testing.assert_array_equal(by_content(image_b.astype(float) / 255), (map_b == 9).astype(int))
    with pytest.raises(ValueError, match="not one of the images"):
        by_content(np.zeros((8, 8, 3)))

    with pytest.raises(ValueError, match="has shape"):
        PrecomputedGuidance(map_a)(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="needs labels"):
        PrecomputedGuidance()(image_a)
    with pytest.raises(TypeError, match="must hold integers"):
        PrecomputedGuidance(np.zeros((8, 8), dtype=bool))(image_a)


def test_precomputed_does_not_modify_the_maps():
    guide = np.array([[5, 5], [2, 2]])
    before = guide.copy()
    PrecomputedGuidance(guide)(np.zeros((2, 2)))
    np.testing.assert_array_equal(guide, before)
