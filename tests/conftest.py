import numpy as np
import pytest

# Four constant quadrants of clearly different colours: the right answer is known.
QUADRANT_COLOURS = np.array(
    [[230, 40, 40], [40, 200, 60], [40, 60, 220], [240, 230, 60]], dtype=np.uint8
)


def make_quadrants(height=32, width=32):
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


@pytest.fixture
def quadrants():
    return make_quadrants()


#: Small, fast settings for tests that exercise the API rather than quality.
FAST = dict(n_features=16, n_clusters=12, max_iter=15, random_state=0)


@pytest.fixture
def fast_params():
    return dict(FAST)
