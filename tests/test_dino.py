"""DINO region embeddings on a tiny random ViT saved to disk and loaded by the real
``from_pretrained`` code (no weights can be downloaded in the tests)."""
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skdynaguide import RegionClassifier
from skdynaguide._image import check_image
from skdynaguide.family.embedding import DINOEmbedder, resolve_embedder
from skdynaguide.guidance import WeightsNotFoundError

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=32, image_size=32, patch_size=8)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-vit")
    ViTModel(config, add_pooling_layer=False).save_pretrained(path)
    return str(path)


def tiny(checkpoint, **params):
    return DINOEmbedder(checkpoint=checkpoint, local_files_only=True, **params)


def reference_tokens(checkpoint, image, size):
    """The documented pipeline written out: resize, ImageNet-normalise, ViT, patch tokens."""
    from transformers import ViTModel

    model = ViTModel.from_pretrained(checkpoint, local_files_only=True, add_pooling_layer=False)
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        hidden = model(pixel_values=(x - mean) / std, interpolate_pos_encoding=True).last_hidden_state
    return hidden[0, 1:]


def test_region_vectors_are_area_weighted_means_of_the_patch_tokens(tiny_vit):
    image = check_image(np.random.default_rng(0).random((20, 30, 3)))
    regions = np.zeros((20, 30), dtype=np.int64)
    regions[:, 17:] = 1
    regions[3, 4] = 2  # a one-pixel region still gets the token of its patch
    embedder = tiny(tiny_vit, resolution=16, normalize=False)
    tokens = embedder.patch_tokens(image)
    assert tokens.shape == (2, 3, 16)  # 20x30 -> 16x24 pixels -> 2x3 patches of 8
    np.testing.assert_allclose(tokens.reshape(6, 16), reference_tokens(tiny_vit, image, (16, 24)),
                               rtol=1e-5, atol=1e-5)
    # nearest-exact upsampling of the token grid to the pixels, then a mean per region
    grid = torch.from_numpy(tokens).permute(2, 0, 1)[None]
    per_pixel = F.interpolate(grid, size=(20, 30), mode="nearest-exact")[0].permute(1, 2, 0).numpy()
    expected = np.stack([per_pixel[regions == r].mean(0) for r in range(3)])
    features = embedder.embed(image, regions)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features[2], tokens[0, 0], rtol=1e-6)
    unit = tiny(tiny_vit, resolution=16).embed(image, regions)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(unit, features / np.linalg.norm(features, axis=1, keepdims=True),
                               rtol=1e-5)


def test_the_classifier_runs_on_dino_vectors_and_stays_light(tiny_vit):
    rng = np.random.default_rng(1)
    images = [rng.random((16, 24, 3)), rng.random((24, 16, 3))]
    maps = [np.repeat(np.arange(4), 6)[None].repeat(16, axis=0),
            np.repeat(np.arange(3), 8)[:, None].repeat(16, axis=1)]
    model = RegionClassifier(n_classes=3, embedder=tiny(tiny_vit, resolution=16), random_state=0)
    labels = model.fit_predict(images, maps)
    assert [lab.shape for lab in labels] == [(16, 24), (24, 16)]
    assert model.cluster_centers_.shape == (3, 16)
    assert set(np.concatenate(model.region_labels_)) == {0, 1, 2}
    again = RegionClassifier(n_classes=3, embedder=tiny(tiny_vit, resolution=16), random_state=0)
    for a, b in zip(labels, again.fit_predict(images, maps)):
        np.testing.assert_array_equal(a, b)
    assert len(pickle.dumps(model.embedder)) < 1000
    assert b"torch" not in pickle.dumps(model)


def test_missing_weights_are_explained(tmp_path):
    image, regions = np.zeros((8, 8, 3)), np.zeros((8, 8), dtype=int)
    with pytest.raises(WeightsNotFoundError, match="does not exist") as info:
        RegionClassifier(n_classes=1, embedder=tiny(str(tmp_path / "nowhere"))).fit(image, regions)
    assert "hf download" in str(info.value) and "local_files_only=True" in str(info.value)
    embedder = DINOEmbedder(local_files_only=True, cache_dir=str(tmp_path / "hf"))
    with pytest.raises(WeightsNotFoundError, match="hf download facebook/dino-vits8"):
        RegionClassifier(n_classes=1, embedder=embedder).fit(image, regions)


def test_the_name_resolves_to_the_defaults_and_parameters_are_checked():
    embedder = resolve_embedder("dino")
    assert type(embedder) is DINOEmbedder and embedder.checkpoint == "facebook/dino-vits8"
    with pytest.raises(ValueError, match="resolution must be >= 1"):
        resolve_embedder(DINOEmbedder(resolution=0))
    with pytest.raises(TypeError, match="normalize must be a bool"):
        resolve_embedder(DINOEmbedder(normalize="yes"))
