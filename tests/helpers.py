"""Plain helpers shared by the test modules (and by a few benchmarks): synthetic images whose
right answer is known, small settings, and tiny models saved to disk.

Fixtures and hooks live in ``conftest.py`` files; everything importable lives here, so that a
test module says where its helpers come from (``from helpers import FAST, make_quadrants``).
pytest puts this folder on ``sys.path`` (``tests/`` is not a package), which makes the import
work from any working directory.
"""
import numpy as np

# Four constant quadrants of clearly different colours: the right answer is known.
QUADRANT_COLOURS = np.array(
    [[230, 40, 40], [40, 200, 60], [40, 60, 220], [240, 230, 60]], dtype=np.uint8
)

#: Small, fast settings for tests that exercise the API rather than quality.
FAST = dict(n_features=16, n_clusters=12, max_iter=15, random_state=0)


def make_quadrants(height=32, width=32):
    """An RGB image of four constant quadrants (``QUADRANT_COLOURS``) and its label map 0-3."""
    image = np.empty((height, width, 3), dtype=np.uint8)
    truth = np.empty((height, width), dtype=np.int64)
    h, w = height // 2, width // 2
    for k, (rows, cols) in enumerate(
        [(slice(0, h), slice(0, w)), (slice(0, h), slice(w, None)),
         (slice(h, None), slice(0, w)), (slice(h, None), slice(w, None))]
    ):
        image[rows, cols] = QUADRANT_COLOURS[k]
        truth[rows, cols] = k
    return image, truth


def save_tiny_segformer(path, size=32):
    """A random two-stage SegFormer (output stride 4 → 8) and its processor, saved to ``path``
    so that the real ``from_pretrained`` code loads it (needs ``transformers``)."""
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    config = SegformerConfig(
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
        hidden_sizes=[8, 16], num_attention_heads=[1, 2], patch_sizes=[7, 3], strides=[4, 2],
        mlp_ratios=[2, 2], decoder_hidden_size=16, num_labels=5,
    )
    torch.manual_seed(0)
    SegformerForSemanticSegmentation(config).save_pretrained(path)
    SegformerImageProcessor(size={"height": size, "width": size}).save_pretrained(path)
    return str(path)
