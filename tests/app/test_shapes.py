"""The generated shapes dataset: arrays, determinism, ground-truth masks and argument checks."""

import time

import numpy as np
import pytest

import keras_vis
from keras_vis.demo import MIN_SIZE, SHAPE_CLASSES, shapes


@pytest.fixture(scope="module")
def sample():
    return shapes(200, size=64, seed=3)


def test_shapes_and_dtypes(sample):
    images, labels, masks = sample
    assert images.shape == (200, 64, 64, 3) and images.dtype == np.uint8
    assert labels.shape == (200,) and labels.dtype == np.int64
    assert masks.shape == (200, 64, 64) and masks.dtype == bool


def test_other_sizes():
    images, labels, masks = shapes(3, size=MIN_SIZE, seed=1)
    assert images.shape == (3, MIN_SIZE, MIN_SIZE, 3) and masks.shape == (3, MIN_SIZE, MIN_SIZE)
    images, _, masks = shapes(2, size=97)
    assert images.shape == (2, 97, 97, 3) and masks.any(axis=(1, 2)).all()


def test_same_seed_same_data_and_different_seed_different_data(sample):
    again = shapes(200, size=64, seed=3)
    for first, second in zip(sample, again):
        np.testing.assert_array_equal(first, second)
    other = shapes(200, size=64, seed=4)
    assert not np.array_equal(sample[0], other[0])
    assert not np.array_equal(sample[2], other[2])


def test_seed_accepts_numpy_integers():
    np.testing.assert_array_equal(shapes(2, seed=np.int64(5))[0], shapes(2, seed=5)[0])


def test_labels_cover_every_class(sample):
    labels = sample[1]
    assert len(SHAPE_CLASSES) == 5 and len(set(SHAPE_CLASSES)) == 5
    assert set(labels.tolist()) == set(range(len(SHAPE_CLASSES)))
    assert np.bincount(labels).min() >= 20


def test_masks_hold_a_whole_object_inside_the_image(sample):
    masks = sample[2]
    area = masks.sum(axis=(1, 2))
    assert area.min() >= 0.03 * 64 * 64
    assert area.max() <= 0.5 * 64 * 64
    # The object never touches the border, so none of it is cut off.
    border = masks[:, 0].any(axis=1) | masks[:, -1].any(axis=1)
    border |= masks[:, :, 0].any(axis=1) | masks[:, :, -1].any(axis=1)
    assert not border.any()


def test_object_stands_out_from_the_background(sample):
    images, _, masks = sample
    pixels = images.astype(np.float64)
    for image, mask in zip(pixels[:50], masks[:50]):
        inside = image[mask].mean(axis=0)
        ring = np.zeros_like(mask)
        rows, cols = np.nonzero(mask)
        ring[max(rows.min() - 4, 0):rows.max() + 5, max(cols.min() - 4, 0):cols.max() + 5] = True
        outside = np.median(image[ring & ~mask], axis=0)
        assert np.linalg.norm(inside - outside) > 60


def test_background_is_cluttered(sample):
    images, _, masks = sample
    # Away from the object the background still varies: gradients, strokes and noise.
    spread = [image[~mask].std(axis=0).max() for image, mask in zip(images[:50], masks[:50])]
    assert min(spread) > 3


def test_fast_enough():
    start = time.perf_counter()
    shapes(500, seed=9)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "Expected `n` to be a positive integer. Received: n=0"),
        ({"n": -3}, "Received: n=-3"),
        ({"n": 2.5}, "Received: n=2.5"),
        ({"n": True}, "Received: n=True"),
        ({"n": 2, "size": 15},
         f"Expected `size` to be an integer of at least {MIN_SIZE}. Received: size=15"),
        ({"n": 2, "size": 64.0}, "Received: size=64.0"),
        ({"n": 2, "seed": -1}, "Expected `seed` to be a non-negative integer. Received: seed=-1"),
        ({"n": 2, "seed": "a"}, "Received: seed='a'"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    n = kwargs.pop("n")
    with pytest.raises(ValueError) as info:
        shapes(n, **kwargs)
    assert message in str(info.value)


def test_former_home_still_imports():
    from keras_vis import datasets  # resolved by the lazy top-level names

    assert keras_vis.__getattr__("datasets") is datasets
    assert (datasets.shapes, datasets.SHAPE_CLASSES, datasets.MIN_SIZE) == (
        shapes, SHAPE_CLASSES, MIN_SIZE)
    assert keras_vis.demo.shapes is shapes
