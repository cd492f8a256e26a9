import numpy as np
import pytest

from skdynaguide._image import check_image, check_images, check_label_map


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.full((3, 4), 255, np.uint8), 1.0),
        (np.full((3, 4, 1), 65535, np.uint16), 1.0),
        (np.full((3, 4, 3), 0.5, np.float64), 0.5),
        (np.full((3, 4, 3), 0.25, np.float32), 0.25),
        (np.full((3, 4), 0.75, np.float16), 0.75),
    ],
)
def test_accepted_dtypes_and_layouts(array, expected):
    out = check_image(array)
    assert out.shape == (3, 4, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected)


def test_never_modifies_or_aliases_the_input():
    image = np.random.default_rng(0).random((5, 6, 3))
    before = image.copy()
    out = check_image(image)
    out[:] = 0
    np.testing.assert_array_equal(image, before)


def test_read_only_and_non_contiguous_inputs():
    image = np.random.default_rng(0).random((6, 8, 3))[:, ::2]
    image.flags.writeable = False
    assert check_image(image).shape == (6, 4, 3)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.zeros((4, 4), dtype=bool), TypeError, "dtype bool"),
        (np.zeros((4, 4), dtype=np.int32), TypeError, "accepted dtypes"),
        (np.zeros((4, 4), dtype=np.complex64), TypeError, "dtype complex"),
        ("image.png", TypeError, "must be an array"),
        (None, TypeError, "must be an array"),
        (np.zeros((4, 4, 4)), ValueError, "RGBA"),
        (np.zeros((4, 4, 2)), ValueError, "1 or 3 channels"),
        (np.zeros(5), ValueError, "1 dimension"),
        (np.zeros((2, 3, 4, 3, 1)), ValueError, "5 dimension"),
        (np.zeros((0, 4, 3)), ValueError, "at least 2 pixels"),
        (np.zeros((1, 1, 3)), ValueError, "at least 2 pixels"),
        (np.full((3, 3), np.nan), ValueError, "NaN"),
        (np.full((3, 3), np.inf), ValueError, "NaN or infinite"),
        (np.full((3, 3), -0.1), ValueError, r"\[0, 1\]"),
        (np.full((3, 3), 255.0), ValueError, "divide by 255"),
    ],
)
def test_bad_images_are_refused_clearly(bad, error, match):
    with pytest.raises(error, match=match):
        check_image(bad)


def test_check_images_distinguishes_single_and_batches():
    single, is_batch = check_images(np.zeros((4, 5, 3)))
    assert not is_batch and len(single) == 1
    batch, is_batch = check_images(np.zeros((2, 4, 5, 3)))
    assert is_batch and len(batch) == 2
    mixed, is_batch = check_images([np.zeros((4, 5)), np.zeros((6, 7, 3), np.uint8)])
    assert is_batch and [m.shape for m in mixed] == [(4, 5, 3), (6, 7, 3)]
    with pytest.raises(ValueError, match="empty list"):
        check_images([])
    with pytest.raises(ValueError, match="image 1"):
        check_images([np.zeros((4, 5)), np.zeros((4, 5, 4))])


def test_check_label_map():
    assert check_label_map([[1.0, 2.0]]).dtype == np.int64
    with pytest.raises(ValueError, match="whole numbers"):
        check_label_map([[1.5, 2.0]])
    with pytest.raises(TypeError, match="integers"):
        check_label_map(np.zeros((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="expected"):
        check_label_map(np.zeros((2, 2)), shape=(3, 3))
