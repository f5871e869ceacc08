"""Turning projections and input images into uint8 pictures, and tiling them (numpy only)."""

import math

import numpy as np


def rescale(images):
    """Min-max scales each image of a batch to 0–255, as the deconvnet write-up displays projections.

    Args:
        images: float array `(N, ...)`.

    Returns:
        uint8 array of the same shape; an image with a single value (a projection of a dead unit)
        becomes 0.
    """
    images = np.asarray(images, np.float32)
    axes = tuple(range(1, images.ndim))
    low = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - low
    scaled = (images - low) / np.where(span > 0, span, 1)
    return np.round(scaled * 255).astype(np.uint8)


def to_uint8(images):
    """Input images as uint8 for display, one mapping for the whole batch.

    Values in [0, 1] are multiplied by 255, values in [0, 255] kept, anything else (mean-subtracted
    or [-1, 1] preprocessing) min-max scaled over the batch.
    """
    images = np.asarray(images, np.float32)
    low, high = float(images.min()), float(images.max())
    if low >= 0 and high <= 1:
        images = images * 255
    elif not (low >= 0 and high <= 255):
        images = (images - low) / ((high - low) or 1) * 255
    return np.round(images).astype(np.uint8)


def tile(images, *, cols=None, pad=2, fill=255):
    """Lays `(N, h, w, C)` uint8 images out in a grid (row-major), `pad` pixels of `fill` between.

    `cols` defaults to ceil(sqrt(N)), so 9 images make the classic 3×3 panel.
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
