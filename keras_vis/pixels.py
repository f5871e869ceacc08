"""Pixel helpers: turning arrays into uint8 pictures, and laying pictures out in a grid.

Three conversions to uint8, for three kinds of input:

- `to_uint8`: an image whose dtype says its range (integers 0–255, floats 0–1); anything else is
  refused, so a wrongly scaled image fails loudly instead of being saved black or white.
- `to_uint8_by_range`: a batch of model inputs in whatever units the preprocessing used; one
  mapping, chosen from the batch's value range, keeps the images comparable.
- `scale_each_to_uint8`: a batch of signed, unitless arrays (deconvnet projections), each
  min-max scaled on its own.
"""

import math

import keras
import numpy as np

from keras_vis._checks import check_real, expected

# Float images may stray this far outside [0, 1] (rounding in preprocessing) and are clipped.
_FLOAT_TOLERANCE = 1e-3


def to_uint8(image, name="image"):
    """Converts an image to uint8 values 0–255, telling the two usual conventions apart by dtype.

    - integer arrays (uint8, or ints) are read as 0–255 and must lie in that range;
    - float arrays are read as 0–1 (values within 1e-3 outside are clipped), so a float image in
      0–255, such as `keras.utils.img_to_array` returns, must be converted first.

    Args:
        image: a numpy array or tensor, of any shape (one image or a batch).
        name: the argument name used in error messages.

    Returns:
        A uint8 numpy array of the same shape.

    Raises:
        TypeError: for non-numeric input.
        ValueError: for NaN/inf or values outside the range of the dtype's convention.
    """
    array = np.asarray(keras.ops.convert_to_numpy(image) if keras.ops.is_tensor(image) else image)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(
            expected(name, "a numeric image array (uint8 0–255 or float 0–1)", image)
        )
    check_real(array, name)
    if np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(
                expected(name, "an integer image with values in [0, 255]", array,
                         f"It holds values in [{array.min()}, {array.max()}]; scale it to 8 bits "
                         "first.")
            )
        return array.astype(np.uint8, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(expected(name, "an image with finite values (no NaN or inf)", array))
    if array.size and (array.min() < -_FLOAT_TOLERANCE or array.max() > 1 + _FLOAT_TOLERANCE):
        raise ValueError(
            expected(name, "a float image with values in [0, 1] (or a uint8 image in [0, 255])",
                     array,
                     f"It holds values in [{array.min():.4g}, {array.max():.4g}]. For a float "
                     "image in [0, 255] pass `image.astype('uint8')` or `image / 255`; a "
                     "preprocessed model input has to be turned back into an image first.")
        )
    return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_uint8_by_range(images):
    """Maps a batch of images of any units to uint8, with one mapping for the whole batch.

    Values all in [0, 1] are multiplied by 255, values all in [0, 255] kept, anything else
    (mean-subtracted or [-1, 1] preprocessing) min-max scaled over the batch.

    Args:
        images: a numeric array of any shape.

    Returns:
        A uint8 array of the same shape.
    """
    images = np.asarray(images, np.float32)
    low, high = float(images.min()), float(images.max())
    if low >= 0 and high <= 1:
        images = images * 255
    elif not (low >= 0 and high <= 255):
        images = (images - low) / ((high - low) or 1) * 255
    return np.round(images).astype(np.uint8)


def scale_each_to_uint8(images):
    """Min-max scales each image of a batch to 0–255 on its own, as the deconvnet write-up shows
    projections.

    Args:
        images: a float array `(N, ...)`.

    Returns:
        A uint8 array of the same shape; an image holding a single value (the projection of a dead
        unit) becomes 0.
    """
    images = np.asarray(images, np.float32)
    axes = tuple(range(1, images.ndim))
    low = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - low
    scaled = (images - low) / np.where(span > 0, span, 1)
    return np.round(scaled * 255).astype(np.uint8)


def tile(images, *, cols=None, pad=2, fill=255):
    """Lays images out in a grid, row by row, with `pad` pixels of `fill` between them.

    Args:
        images: a uint8 array `(N, h, w, C)`.
        cols: images per row; default ceil(sqrt(N)), so 9 images make the classic 3×3 panel.
        pad: pixels between neighbouring images.
        fill: value of the padding and of the empty cells after the last image.

    Returns:
        A uint8 array `(rows * (h + pad) - pad, cols * (w + pad) - pad, C)`.
    """
    count, height, width, channels = images.shape
    cols = cols or math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    grid = np.full(
        (rows * (height + pad) - pad, cols * (width + pad) - pad, channels), fill, np.uint8
    )
    for index, image in enumerate(images):
        top = (index // cols) * (height + pad)
        left = (index % cols) * (width + pad)
        grid[top:top + height, left:left + width] = image
    return grid


__all__ = ["scale_each_to_uint8", "tile", "to_uint8", "to_uint8_by_range"]
