"""Random transforms applied to the image at every step, so features survive small changes.

Each transform draws its parameters per image from that image's own random stream (before the
optimisation starts, on the host), and applies them to the whole batch inside the compiled step: a
batch of K images is transformed exactly as K single runs would be. Consecutive geometric transforms
(`jitter`, `scale`, `rotate`) are merged into one affine resampling per step
(`keras.ops.image.affine_transform`), so the image is interpolated once, not once per transform.

A plain callable `f(images) -> images` (deterministic, on `(K, H, W, C)` tensors) can be mixed in.
"""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_vis._checks import check_number, check_positive_int, describe, expected


class Transform:
    """A random per-image transform: `sample` its parameters, then `apply` them in the graph."""

    #: Number of parameters drawn per image and step.
    size = 0

    def key(self):
        return (type(self).__name__,)

    def sample(self, rng, steps):
        """`(steps, size)` float32 parameters for one image, drawn from `rng`."""
        raise NotImplementedError

    def matrix(self, params, height, width):
        """`(K, 3, 3)` matrices mapping output pixel coordinates `(x, y, 1)` to input ones."""
        raise NotImplementedError


def _centred(matrix, height, width):
    # Conjugate by a translation so the transform acts about the image centre.
    cx = (tf.cast(width, tf.float32) - 1.0) / 2.0
    cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
    to_centre = tf.convert_to_tensor([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    back = tf.convert_to_tensor([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    return back @ matrix @ to_centre


def _affine(a, b, c, d, e, f):
    """`(K, 3, 3)` from the six per-image entries of the top two rows."""
    zeros, ones = tf.zeros_like(a), tf.ones_like(a)
    rows = [tf.stack([a, b, c], -1), tf.stack([d, e, f], -1), tf.stack([zeros, zeros, ones], -1)]
    return tf.stack(rows, axis=1)


def _choices(values, name):
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        return None
    try:
        array = np.asarray(values, np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(
            expected(name, "a number or a non-empty list of numbers", values)
        ) from error
    if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(expected(name, "a number or a non-empty list of finite numbers", values))
    return array


class Jitter(Transform):
    """Shifts the image by a random whole number of pixels in [-pixels, pixels] on each axis."""

    size = 2

    def __init__(self, pixels):
        self.pixels = check_positive_int(pixels, "pixels", minimum=0)

    def key(self):
        return ("Jitter",)

    def sample(self, rng, steps):
        return rng.integers(-self.pixels, self.pixels + 1, (steps, 2)).astype(np.float32)

    def matrix(self, params, height, width):
        ones, zeros = tf.ones_like(params[:, 0]), tf.zeros_like(params[:, 0])
        return _affine(ones, zeros, -params[:, 1], zeros, ones, -params[:, 0])

    def __repr__(self):
        return f"jitter({self.pixels})"


class Scale(Transform):
    """Zooms about the centre by a factor drawn from `factors` (a list) or [1/f... f] (a number)."""

    size = 1

    def __init__(self, factors):
        choices = _choices(factors, "factors")
        if choices is None:
            factor = check_number(factors, "factors", low=1.0)
            self.low, self.high, self.choices = 1.0 / factor, factor, None
        else:
            if np.any(choices <= 0):
                raise ValueError(expected("factors", "positive zoom factors", factors))
            self.low = self.high = None
            self.choices = choices

    def sample(self, rng, steps):
        if self.choices is not None:
            return rng.choice(self.choices, (steps, 1)).astype(np.float32)
        return np.exp(rng.uniform(math.log(self.low), math.log(self.high), (steps, 1))).astype(
            np.float32
        )

    def matrix(self, params, height, width):
        inverse = 1.0 / params[:, 0]
        zeros = tf.zeros_like(inverse)
        return _centred(_affine(inverse, zeros, zeros, zeros, inverse, zeros), height, width)

    def __repr__(self):
        what = list(self.choices) if self.choices is not None else self.high
        return f"scale({what})"


class Rotate(Transform):
    """Rotates about the centre by an angle in degrees drawn from `degrees` (a list) or from
    [-degrees, degrees] (a number)."""

    size = 1

    def __init__(self, degrees):
        choices = _choices(degrees, "degrees")
        if choices is None:
            self.limit = check_number(degrees, "degrees", low=0)
        self.choices = choices

    def sample(self, rng, steps):
        if self.choices is not None:
            return rng.choice(self.choices, (steps, 1)).astype(np.float32)
        return rng.uniform(-self.limit, self.limit, (steps, 1)).astype(np.float32)

    def matrix(self, params, height, width):
        angle = params[:, 0] * (math.pi / 180.0)
        cos, sin = tf.cos(angle), tf.sin(angle)
        zeros = tf.zeros_like(cos)
        return _centred(_affine(cos, -sin, zeros, sin, cos, zeros), height, width)

    def __repr__(self):
        what = list(self.choices) if self.choices is not None else self.limit
        return f"rotate({what})"


def jitter(pixels):
    """Random shift by up to `pixels` in each direction (whole pixels)."""
    return Jitter(pixels)


def scale(factors):
    """Random zoom: a factor from the list `factors`, or log-uniform in [1/factors, factors]."""
    return Scale(factors)


def rotate(degrees):
    """Random rotation: an angle from the list `degrees`, or uniform in [-degrees, degrees]."""
    return Rotate(degrees)


def standard():
    """Lucid's robustness transforms, merged into one affine resampling per step."""
    return (
        jitter(8),
        scale([1 + (i - 5) / 50.0 for i in range(11)]),
        rotate(list(range(-10, 11)) + 5 * [0]),
        jitter(4),
    )


class Pipeline:
    """The transforms of one render: checks them, samples their parameters and applies them.

    Args:
        transforms: a sequence of `Transform`s and plain callables `f(images) -> images`.
    """

    def __init__(self, transforms):
        if transforms is None:
            transforms = ()
        if isinstance(transforms, Transform) or callable(transforms):
            transforms = (transforms,)
        if not isinstance(transforms, (list, tuple)):
            raise TypeError(expected("transforms", "a sequence of transforms", transforms))
        for item in transforms:
            if not (isinstance(item, Transform) or callable(item)):
                raise TypeError(
                    expected("transforms", "a sequence of `keras_vis.maximization.transforms` objects "
                             "or callables", transforms, f"{describe(item)} is neither.")
                )
        self.transforms = tuple(transforms)
        self.random = [t for t in self.transforms if isinstance(t, Transform)]

    def key(self):
        return tuple(t.key() if isinstance(t, Transform) else t for t in self.transforms)

    def sample(self, rng, steps):
        """One image's parameters: a list with one `(steps, size)` array per random transform."""
        return [t.sample(rng, steps) for t in self.random]

    def __call__(self, images, params):
        """Applies the transforms to `(K, H, W, C)` images with per-image `params` (a list with one
        `(K, size)` tensor per random transform)."""
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        params = iter(params)
        matrix = None
        for item in self.transforms:
            if isinstance(item, Transform):
                step = item.matrix(next(params), height, width)
                matrix = step if matrix is None else matrix @ step
                continue
            images = _resample(images, matrix)
            matrix = None
            images = item(images)
        return _resample(images, matrix)


def _resample(images, matrix):
    if matrix is None:
        return images
    flat = tf.reshape(matrix, (-1, 9))[:, :8]
    return keras.ops.image.affine_transform(
        images, flat, interpolation="bilinear", fill_mode="reflect", data_format="channels_last"
    )
