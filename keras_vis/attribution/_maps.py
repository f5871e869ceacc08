"""Post-processing shared by every attribution map: channel reduction, resizing, normalisation."""

import numpy as np
import tensorflow as tf

from keras_vis._checks import check_choice
from keras_vis.blank import check_maps

REDUCTIONS = ("max_abs", "abs_sum", "sum", "l2")

def check_reduce(reduce):
    """Returns `reduce` if it names a channel reduction, else raises `ValueError`."""
    return check_choice(reduce, "reduce", REDUCTIONS)


def reduce_channels(values, reduce):
    """Collapses the last (channel) axis of `values`.

    Args:
        values: array `(..., C)`.
        reduce: `"max_abs"` (largest absolute value), `"abs_sum"` (sum of absolute values),
            `"sum"` (signed sum) or `"l2"` (Euclidean norm).

    Returns:
        float32 array `values.shape[:-1]`.
    """
    check_reduce(reduce)
    if reduce == "max_abs":
        reduced = np.max(np.abs(values), axis=-1)
    elif reduce == "abs_sum":
        reduced = np.sum(np.abs(values), axis=-1)
    elif reduce == "sum":
        reduced = np.sum(values, axis=-1)
    else:
        reduced = np.sqrt(np.sum(np.square(values), axis=-1))
    return reduced.astype(np.float32, copy=False)


def resize(maps, size):
    """Bilinear resize of a batch of maps `(N, h, w)` to `(N, *size)` in one batched call."""
    if tuple(maps.shape[1:3]) == tuple(size):
        return maps
    resized = tf.image.resize(maps[..., None], size, method="bilinear")
    return resized.numpy()[..., 0]


def normalize(maps):
    """Scales each map of a batch `(N, ...)` to [0, 1].

    A map with no negative value is divided by its maximum, so zero stays zero and the strongest
    point is 1; a map with negative values is min-max scaled. Only a map with no range at all (all
    zeros, or a negative constant) is left as zeros, so maps of tiny gradients (1e-13 in untrained
    deep networks) still span [0, 1], and nothing is ever NaN.
    """
    maps = np.asarray(maps, np.float32)
    axes = tuple(range(1, maps.ndim))
    low = np.minimum(maps.min(axis=axes, keepdims=True), 0.0)
    span = maps.max(axis=axes, keepdims=True) - low
    shifted = maps - low
    return np.divide(shifted, span, out=np.zeros_like(shifted), where=span > 0)


def center(maps):
    """Scales each signed map of a batch `(N, ...)` into [0, 1] with zero at 0.5: `m / (2 max|m|)
    + 0.5`, so the same colour means the same sign and share of the strongest value on either
    side (a map of zeros stays at 0.5)."""
    maps = np.asarray(maps, np.float32)
    peak = np.abs(maps).max(axis=tuple(range(1, maps.ndim)), keepdims=True)
    return 0.5 + np.divide(maps, 2 * peak, out=np.zeros_like(maps), where=peak > 0)


def finish(maps, size, normalize_maps, *, evidence=False, blank=None, target=None):
    """Resizes `maps` `(N, h, w)` to `size` and, if asked, normalises each to [0, 1] (float32).

    With `evidence`, the maps are signed contributions (relevance, DeepLIFT, SHAP), whose zero
    means "no contribution": normalising keeps their positive part, the evidence for the target,
    divided by its maximum, so zero stays zero.

    `blank`, a `(method name, reason)` pair, warns (`keras_vis.attribution.BlankMapWarning`) for
    the maps with no variation, with the reason, worded for the `target` explained.
    """
    if blank is not None:
        check_maps(*blank, maps, target)
    maps = resize(np.asarray(maps, np.float32), size)
    if not normalize_maps:
        return maps.astype(np.float32, copy=False)
    return normalize(np.maximum(maps, 0.0) if evidence else maps)
