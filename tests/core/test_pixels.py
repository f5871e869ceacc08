"""The uint8 conversions (strict by dtype, by the batch's range, each image alone) and tiling."""

import keras
import numpy as np
import pytest

from keras_vis import io, pixels
from keras_vis.pixels import scale_each_to_uint8, tile, to_uint8, to_uint8_by_range


def test_to_uint8_reads_integers_as_0_255_and_floats_as_0_1():
    integers = np.array([[0, 7, 255]], np.int32)
    np.testing.assert_array_equal(to_uint8(integers), [[0, 7, 255]])
    assert to_uint8(integers).dtype == np.uint8
    floats = np.array([0.0, 0.5, 1.0, -0.0005, 1.0005], np.float32)
    np.testing.assert_array_equal(to_uint8(floats), [0, 128, 255, 0, 255])


def test_to_uint8_keeps_uint8_and_accepts_tensors():
    image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert to_uint8(image) is image
    np.testing.assert_array_equal(to_uint8(keras.ops.convert_to_tensor(image / 255.0)), image)


@pytest.mark.parametrize(
    "image, error, message",
    [
        (np.zeros((2, 2), bool), TypeError, "numeric image"),
        (np.array([["a"]]), TypeError, "numeric image"),
        (np.array([-1, 4]), ValueError, "[0, 255]"),
        (np.array([0.0, np.nan]), ValueError, "finite"),
        (np.full((2, 2), 200.0), ValueError, "/ 255"),
        (np.array([-0.01, 0.5]), ValueError, "[0, 1]"),
    ],
)
def test_to_uint8_refuses_what_it_cannot_read(image, error, message):
    with pytest.raises(error, match="`picture`") as raised:
        to_uint8(image, "picture")
    assert message in str(raised.value)


def test_io_offers_the_same_to_uint8():
    assert io.to_uint8 is pixels.to_uint8


def test_to_uint8_by_range_picks_one_mapping_for_the_batch():
    np.testing.assert_array_equal(to_uint8_by_range([[0.0, 0.5], [1.0, 0.25]]),
                                  [[0, 128], [255, 64]])
    np.testing.assert_array_equal(to_uint8_by_range([0.0, 2.0, 255.0]), [0, 2, 255])
    # Outside [0, 255] (here [-1, 1] preprocessing) the whole batch is min-max scaled together.
    np.testing.assert_array_equal(to_uint8_by_range([[-1.0, 0.0], [0.0, 1.0]]),
                                  [[0, 128], [128, 255]])
    np.testing.assert_array_equal(to_uint8_by_range(np.full((2, 3), -4.0)), np.zeros((2, 3)))


def test_scale_each_to_uint8_scales_every_image_on_its_own():
    images = np.array([[[-2.0, 0.0, 2.0]], [[10.0, 11.0, 12.0]]], np.float32)
    np.testing.assert_array_equal(scale_each_to_uint8(images), [[[0, 128, 255]], [[0, 128, 255]]])


def test_scale_each_to_uint8_maps_a_constant_image_to_zero():
    # The projection of a dead unit is all zeros; it must not divide by a zero range.
    scaled = scale_each_to_uint8(np.zeros((1, 4, 4, 3)))
    assert scaled.dtype == np.uint8
    np.testing.assert_array_equal(scaled, np.zeros((1, 4, 4, 3), np.uint8))


def test_tile_lays_images_out_row_by_row():
    images = np.stack([np.full((2, 3, 1), value, np.uint8) for value in (10, 20, 30, 40, 50)])
    grid = tile(images, pad=1, fill=0)
    assert grid.shape == (2 * 2 + 1, 3 * 3 + 2, 1)  # ceil(sqrt(5)) = 3 columns, so 2 rows
    for index, value in enumerate((10, 20, 30, 40, 50)):
        top, left = (index // 3) * 3, (index % 3) * 4
        assert np.all(grid[top:top + 2, left:left + 3] == value)
    assert np.all(grid[2] == 0) and np.all(grid[:, 3] == 0)  # padding
    assert np.all(grid[3:5, 8:11] == 0)  # the empty cell after the last image


def test_tile_with_fixed_columns_and_white_padding():
    images = np.zeros((4, 2, 2, 3), np.uint8)
    grid = tile(images, cols=4)
    assert grid.shape == (2, 4 * 2 + 3 * 2, 3)
    assert np.all(grid[:, 2:4] == 255)
