"""Image parameterisations: how the optimized variable becomes an image.

Every parameterisation maps a variable `z` to a batch of images in [0, 1] units (mid-grey is 0.5),
which `maximize` then maps to the model's input units. Each one can also go back from an image to
its variable (`from_image`), which is how the multi-scale recipe carries an image to the next size.

- `Pixel`: the image is the variable itself, `mean + z` (the classic recipes; no squashing, so
  gradient ascent acts on pixels directly).
- `Fourier`: the variable is a spectrum scaled by 1/frequency, turned into pixels by an inverse FFT
  and squashed by a sigmoid (Olah et al., "Feature Visualization"): low frequencies move first,
  which gives smoother, less noisy images.

`decorrelate=True` additionally expresses colours in a decorrelated basis (the square root of the
ImageNet colour covariance), so the optimizer moves along natural colour directions.
"""

import numpy as np
import tensorflow as tf

from keras_vis._checks import check_number, expected

# Square root of the colour correlation of ImageNet images (lucid's `color_correlation_svd_sqrt`),
# normalised so its largest column has unit norm.
_COLOR_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32
)
COLOR_BASIS = _COLOR_SQRT / np.max(np.linalg.norm(_COLOR_SQRT, axis=0))


class Param:
    """Base class: a variable for a batch of images and the way back and forth.

    Args:
        decorrelate: express colours in the decorrelated ImageNet basis (RGB images only).
    """

    def __init__(self, decorrelate=False):
        if not isinstance(decorrelate, bool):
            raise TypeError(expected("decorrelate", "True or False", decorrelate))
        self.decorrelate = decorrelate

    def key(self):
        """Hashable description of what the compiled step computes."""
        return (type(self).__name__, self.decorrelate)

    def check(self, channels):
        if self.decorrelate and channels != 3:
            raise ValueError(
                expected("decorrelate", "False for a model whose input has "
                         f"{channels} channel(s)", self.decorrelate,
                         "Colour decorrelation needs RGB images (3 channels).")
            )

    def spec(self, channels):
        """The `tf.TensorSpec` of a batch of variables of any size."""
        raise NotImplementedError

    def init(self, rng, height, width, channels):
        """The starting variable of one image, drawn from `rng` (a `numpy.random.Generator`)."""
        raise NotImplementedError

    def to_image(self, z, size):
        """`(K, H, W, C)` float32 images in [0, 1] units from the variable `z`.

        Args:
            z: the batched variable.
            size: `(2,)` int32 tensor `(H, W)`.
        """
        raise NotImplementedError

    def from_image(self, image):
        """The variable that gives `image` (`(K, H, W, C)` float32), up to clipping."""
        raise NotImplementedError

    def project(self, z, size):
        """`z` moved back to where its image is valid, after each optimisation step."""
        return z

    def _colour(self, image):
        if not self.decorrelate:
            return image
        return tf.einsum("...c,dc->...d", image, tf.constant(COLOR_BASIS))

    def _uncolour(self, image):
        if not self.decorrelate:
            return image
        inverse = np.linalg.inv(COLOR_BASIS).astype(np.float32)
        return tf.einsum("...c,dc->...d", image, tf.constant(inverse))


class Pixel(Param):
    """The image is `mean + colour(z)`; it starts as `mean` plus uniform noise.

    Args:
        mean: the starting grey level in [0, 1] units (0.5 is mid-grey).
        noise: width of the uniform noise added at the start (`0.125` is the Keras recipe's
            `(uniform - 0.5) * 0.25` in [-1, 1] units).
        clip: after every step, clip the image to [0, 1] (projected gradient ascent), so the
            returned image is exactly what the model saw; `False` lets pixels leave the range, as
            the classic recipes do before their deprocessing.
        decorrelate: express colours in the decorrelated ImageNet basis.
    """

    def __init__(self, mean=0.5, noise=0.1, clip=True, decorrelate=False):
        super().__init__(decorrelate)
        self.mean = check_number(mean, "mean")
        self.noise = check_number(noise, "noise", low=0)
        if not isinstance(clip, bool):
            raise TypeError(expected("clip", "True or False", clip))
        self.clip = clip

    def key(self):
        return super().key() + (self.mean, self.clip)

    def project(self, z, size):
        if not self.clip:
            return z
        return self.from_image(tf.clip_by_value(self.to_image(z, size), 0.0, 1.0))

    def spec(self, channels):
        return tf.TensorSpec((None, None, None, channels), tf.float32)

    def init(self, rng, height, width, channels):
        noise = (rng.random((height, width, channels), dtype=np.float32) - 0.5) * self.noise
        if self.decorrelate:
            noise = noise @ np.linalg.inv(COLOR_BASIS).T
        return noise.astype(np.float32)

    def to_image(self, z, size):
        return self.mean + self._colour(z)

    def from_image(self, image):
        return self._uncolour(image - self.mean)


class Fourier(Param):
    """The image is `sigmoid(colour(irfft2d(spectrum / frequency**decay_power)))`.

    Args:
        sd: standard deviation of the random starting spectrum.
        decay_power: how strongly high frequencies are damped (1 is the 1/f of natural images).
        decorrelate: express colours in the decorrelated ImageNet basis.
    """

    def __init__(self, sd=0.01, decay_power=1.0, decorrelate=False):
        super().__init__(decorrelate)
        self.sd = check_number(sd, "sd", low=0)
        self.decay_power = check_number(decay_power, "decay_power", low=0)

    def key(self):
        return super().key() + (self.decay_power,)

    def spec(self, channels):
        return tf.TensorSpec((None, 2, channels, None, None), tf.float32)

    def init(self, rng, height, width, channels):
        shape = (2, channels, height, width // 2 + 1)
        return (self.sd * rng.standard_normal(shape)).astype(np.float32)

    def _scale(self, size):
        height, width = size[0], size[1]
        fy = tf.range(height)
        fy = tf.cast(tf.where(fy < (height + 1) // 2, fy, fy - height), tf.float32)
        fy = fy / tf.cast(height, tf.float32)
        fx = tf.cast(tf.range(width // 2 + 1), tf.float32) / tf.cast(width, tf.float32)
        frequencies = tf.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
        lowest = 1.0 / tf.cast(tf.maximum(height, width), tf.float32)
        scale = tf.maximum(frequencies, lowest) ** -self.decay_power
        return scale * tf.sqrt(tf.cast(height * width, tf.float32))

    def to_image(self, z, size):
        spectrum = tf.complex(z[:, 0], z[:, 1]) * tf.cast(self._scale(size), tf.complex64)
        planes = tf.signal.irfft2d(spectrum, fft_length=size)  # (K, C, H, W)
        image = tf.transpose(planes, [0, 2, 3, 1]) / 4.0
        return tf.sigmoid(self._colour(image))

    def from_image(self, image):
        image = tf.clip_by_value(tf.convert_to_tensor(image, tf.float32), 1e-4, 1 - 1e-4)
        planes = self._uncolour(tf.math.log(image / (1.0 - image))) * 4.0
        size = tf.shape(image)[1:3]
        spectrum = tf.signal.rfft2d(tf.transpose(planes, [0, 3, 1, 2]), fft_length=size)
        spectrum = spectrum / tf.cast(self._scale(size), tf.complex64)
        return tf.stack([tf.math.real(spectrum), tf.math.imag(spectrum)], axis=1)


PARAMS = {"pixel": Pixel, "fourier": Fourier}


def get_param(param, decorrelate=False):
    """Returns the `Param` for `"pixel"`, `"fourier"` or a `Param` object.

    Raises:
        ValueError: for an unknown name, or `decorrelate=True` with a `Param` object (set it on
            the object instead).
        TypeError: for anything else.
    """
    if isinstance(param, Param):
        if decorrelate:
            raise ValueError(
                expected("decorrelate", "False when `param` is a Param object", decorrelate,
                         f"Pass `decorrelate=True` to the object instead, e.g. "
                         f"`params.{type(param).__name__}(decorrelate=True)`.")
            )
        return param
    if isinstance(param, str):
        if param not in PARAMS:
            raise ValueError(expected("param", f"one of {', '.join(map(repr, PARAMS))} or a "
                                      "`keras_vis.maximization.params.Param`", param))
        return PARAMS[param](decorrelate=decorrelate)
    raise TypeError(expected("param", "'pixel', 'fourier' or a Param object", param))
