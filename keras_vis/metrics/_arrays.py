"""What the metrics share: validation of the maps and masks they score, pixel ranks, class codes,
seeds, and the images removed pixels are taken from."""

import keras
import numpy as np

from keras_vis._checks import check_positive_int, check_real, expected
from keras_vis.attribution._fill import FILL_FORMS, fill_images


def _to_numpy(value, name, what):
    if value is None or isinstance(value, (str, bytes, dict)):
        raise TypeError(expected(name, what, value))
    try:
        if keras.ops.is_tensor(value):
            value = keras.ops.convert_to_numpy(value)
        array = np.asarray(value)
    except Exception as error:
        raise TypeError(expected(name, what, value)) from error
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(expected(name, what, array))
    check_real(array, name)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


def to_maps(maps, shape=None, name="maps", non_negative=False):
    """Returns `maps` as a float32 numpy batch `(N, H, W)`.

    Args:
        maps: array or tensor `(N, H, W)` (or `(N, H, W, 1)`).
        shape: the `(N, H, W)` the maps must have (that of the images or masks they go with).
        name: the argument name for error messages.
        non_negative: reject negative values (metrics that read a map as a mass).

    Raises:
        TypeError: if `maps` is not numeric array-like.
        ValueError: on a wrong rank or shape, an empty batch, non-finite or (if asked) negative
            values.
    """
    what = "an array or tensor of maps, shape (N, H, W)"
    array = _to_numpy(maps, name, what)
    if array.ndim != 3:
        hint = "To pass a single map, add a batch axis: `maps[None]`." if array.ndim == 2 else (
            "Collapse the colour axis first (attribution maps are (N, H, W))."
            if array.ndim == 4 else None)
        raise ValueError(expected(name, what, array, hint))
    if array.shape[0] == 0:
        raise ValueError(expected(name, "a non-empty batch of maps", array))
    if shape is not None and tuple(array.shape) != tuple(shape):
        raise ValueError(
            expected(name, f"maps of shape {tuple(shape)}", array,
                     "There must be one map per image, at the image resolution.")
        )
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(expected(name, "finite values (no NaN or inf)", array))
    if non_negative and np.any(array < 0):
        raise ValueError(
            expected(name, "non-negative maps", array,
                     "This metric reads a map as a mass; pass `np.abs(maps)` or maps normalized to "
                     "[0, 1] (the default of every attribution function).")
        )
    return array


def to_masks(masks, shape, name="masks"):
    """Returns `masks` as a bool numpy batch of the given `(N, H, W)` shape.

    Accepts booleans or 0/1 numbers, `(N, H, W)` or `(N, H, W, 1)`.

    Raises:
        TypeError: if `masks` is not numeric array-like.
        ValueError: on a shape other than `shape` or values other than 0 and 1.
    """
    what = "boolean masks, shape (N, H, W)"
    array = _to_numpy(masks, name, what)
    if tuple(array.shape) != tuple(shape):
        raise ValueError(expected(name, f"boolean masks of shape {tuple(shape)}", array,
                                  "There must be one mask per map, at the map resolution."))
    if array.dtype != np.bool_:
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(
                expected(name, "booleans or 0/1 values", array,
                         "Threshold soft masks first, e.g. `masks > 0.5`.")
            )
        array = array != 0
    return array


def pixel_ranks(maps, descending=True):
    """Each pixel's place when each map's pixels are sorted by value: int `(N, H * W)`, 0 for the
    highest value (the lowest with `descending=False`), ties broken by position."""
    flat = maps.reshape(len(maps), -1)
    order = np.argsort(-flat if descending else flat, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(flat.shape[1])[None, :], axis=1)
    return ranks


def class_codes(classes, count):
    """The per-image class codes a metric reports: int32 `(count,)`, -1 where the target is not a
    class (or scores regions rather than one class per image)."""
    if classes is None or np.ndim(classes) != 1:
        return np.full(count, -1, np.int32)
    return np.asarray(classes, np.int32)


def seed_entropy(seed):
    """`seed` checked (`None` or an int >= 0), as the int that seeds a metric's random streams;
    `None` draws a fresh one."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    return check_positive_int(seed, "seed", minimum=0)


def removal_fill(baseline, images, blur_sigma):
    """The `(N, H, W, C)` float32 images the removed pixels are taken from (the vocabulary of
    `keras_vis.attribution._fill`; `None` is refused: each metric names its default)."""
    if baseline is None:
        raise TypeError(expected("baseline", FILL_FORMS, baseline))
    return fill_images(baseline, images, name="baseline", blur_sigma=blur_sigma)
