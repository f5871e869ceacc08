"""The value hidden pixels take: one vocabulary for occlusion, Score-CAM, RISE and the metrics.

A `fill` is `None` (the caller's default), a number in the model's input units, one number per
channel, an array broadcastable to the images (one image `(H, W, C)` or one per image
`(N, H, W, C)`), `"mean"` (each image's own channel means) or `"blur"` (a Gaussian-blurred copy of
each image). `fill_images` turns any of them into the `(N, H, W, C)` images the hidden pixels are
taken from; `seen_through` shows each image through a soft mask over its fill.
"""

import numbers

import keras
import numpy as np
import scipy.ndimage

from keras_vis._checks import check_number, expected

FILL_NAMES = ("mean", "blur")

FILL_FORMS = ("a number, one number per channel (C,), an array broadcastable to the images "
              "((H, W, C) or (N, H, W, C)), 'mean' or 'blur'")
"""The accepted forms, as error messages and docstrings word them."""


def _blurred(images, blur_sigma):
    if blur_sigma is None:
        blur_sigma = max(images.shape[1:3]) / 16
    blur_sigma = check_number(blur_sigma, "blur_sigma", low=0, low_inclusive=False)
    return scipy.ndimage.gaussian_filter(images, sigma=(0, blur_sigma, blur_sigma, 0),
                                         mode="nearest").astype(np.float32)


def check_fill(fill, name="fill"):
    """Returns `fill` if it has one of the accepted forms (`None` included), whatever the images;
    a tensor comes back as a numpy array. `fill_images` checks that an array fits the images.

    Raises:
        TypeError: for a value of none of the forms (a bool, a dict, ...).
        ValueError: for an unknown name or non-finite values.
    """
    if fill is None:
        return None
    if isinstance(fill, str):
        if fill not in FILL_NAMES:
            raise ValueError(expected(name, FILL_FORMS, fill))
        return fill
    if keras.ops.is_tensor(fill):
        fill = keras.ops.convert_to_numpy(fill)
    if isinstance(fill, bool) or not isinstance(fill, (numbers.Real, np.ndarray, list, tuple)):
        raise TypeError(expected(name, FILL_FORMS, fill))
    try:
        values = np.asarray(fill)
        if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
            raise TypeError(values.dtype)
        values = values.astype(np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(expected(name, FILL_FORMS, fill)) from error
    if not np.all(np.isfinite(values)):
        raise ValueError(expected(name, f"finite ({FILL_FORMS})", fill))
    return fill


def fill_images(fill, images, *, name="fill", default="mean", blur_sigma=None):
    """The images hidden pixels take their values from: float32 `(N, H, W, C)`.

    Args:
        fill: `None` (for `default`), a number in the model's input units, one number per channel
            `(C,)`, an array broadcastable to the images (`(H, W, C)` or `(N, H, W, C)`), `"mean"`
            (each image's own channel means) or `"blur"` (a Gaussian-blurred copy of each image).
        images: float `(N, H, W, C)` images.
        name: the argument's name in error messages.
        default: the fill `None` stands for.
        blur_sigma: the standard deviation in pixels of `"blur"`; `None` for a sixteenth of the
            image side.

    Returns:
        float32 `(N, H, W, C)`: a read-only broadcast view for a number, per-channel values or
        `"mean"`, a new array for `"blur"`.

    Raises:
        TypeError: for a value of none of the accepted forms (a bool, a dict, ...).
        ValueError: for an unknown name, non-finite values, or an array that does not broadcast to
            the images.
    """
    images = np.asarray(images, np.float32)
    fill = check_fill(default if fill is None else fill, name)
    if isinstance(fill, str):
        if fill == "blur":
            return _blurred(images, blur_sigma)
        return np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), images.shape)
    values = np.asarray(fill, np.float32)
    try:
        return np.broadcast_to(values, images.shape)
    except ValueError as error:
        raise ValueError(
            expected(name, f"{FILL_FORMS}; for images of shape {images.shape}", fill,
                     f"Give one value, {images.shape[-1]} channel values, one image "
                     f"{images.shape[1:]} or one per image {images.shape}.")
        ) from error


def seen_through(images, masks, fill_values):
    """The images seen through soft masks: `fill + m (x - fill)`, float32 (`x m` exactly for a
    fill of 0).

    Args:
        images: `(B, H, W, C)`.
        masks: `(B, H, W)` values in [0, 1]: 1 shows the image, 0 its fill.
        fill_values: `(B, H, W, C)`, the hidden pixels' values (contiguous rows: numpy
            broadcasts a `(B, 1, 1, C)` fill over the colour axis about twice as slowly).
    """
    seen = np.subtract(images, fill_values, dtype=np.float32)
    seen *= np.asarray(masks, np.float32)[..., None]
    seen += fill_values
    return seen
