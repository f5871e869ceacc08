"""A layer's linear part as an explicit function of its input and weights: `z = W x + b`.

Relevance rules recompute a layer with modified weights (only the positive ones, `W + γW⁺`,
`W²`, ...), so they need the layer's computation as a function of a kernel they choose. For the
convolution and dense layers, `LinearMap` reads the layer's weights at trace time (never writing
them) and evaluates its linear map on any input and kernel. An inference-mode `BatchNormalization`
`y = a x + c` directly before or after the layer can be folded in (canonization), with the model
left as it is: after it, `W' = W · a` and `b' = b · a + c` per output channel; before it,
`W' = W · a` per input channel and the shift becomes part of the bias.
"""

import keras
import tensorflow as tf

from keras_vis.rules.kinds import DEPTHWISE_CONV, LINEAR, SEPARABLE_CONV, TRANSPOSED_CONV

class LinearMapError(ValueError):
    """The layer's linear map cannot be written out (an unsupported kind, a quantized layer)."""


def has_linear_map(layer):
    """True for layers `linear_map` supports: channels-last convolutions of every kind and
    unquantized dense layers."""
    return (isinstance(layer, LINEAR)
            and getattr(layer, "quantization_mode", None) is None
            and getattr(layer, "data_format", "channels_last") == "channels_last")


class LinearMap:
    """The linear part of a layer, `z = apply(x, kernel) + bias`, with the layer's weights, and
    the normalizations folded into it: `z = s · layer(a · x + c) + t` per channel.

    Attributes:
        kernel: float32 tensor, the layer's kernel with the folded scales `a` and `s` merged in.
    """

    def __init__(self, apply, kernel, bias, axes, *, before=None, after=None):
        self._apply = apply
        self._kernel = kernel
        self._bias = bias
        self._axes = axes  # the kernel's (output, input) channel axes; "depthwise" for both
        self._before = before
        self._after = after
        if before is not None:
            kernel = _scale(kernel, before[0], axes[1])
        self.kernel = kernel if after is None else _scale(kernel, after[0], axes[0])

    def __call__(self, x, kernel=None, bias=None):
        """The map of `x` with `kernel` (default the layer's) plus `bias` (default none)."""
        z = self._apply(tf.cast(x, tf.float32), self.kernel if kernel is None else kernel)
        return z if bias is None else z + bias

    def bias_for(self, x):
        """The bias (folds included) for inputs shaped like `x`, or `None`.

        A shift folded in before the layer has a position-dependent effect (the layer's zero
        padding does not see it), so it is computed for `x`'s shape.
        """
        bias = self._bias
        if self._before is not None:
            shift = tf.ones_like(x[:1], tf.float32) * self._before[1]
            moved = self._apply(shift, self._kernel)
            bias = moved if bias is None else moved + bias
        if self._after is not None:
            scale, shift = self._after
            bias = shift if bias is None else bias * scale + shift
        return bias

    def folded(self, before=None, after=None):
        """This map with `(scale, shift)` normalizations folded in before and after it."""
        return LinearMap(self._apply, self._kernel, self._bias, self._axes, before=before,
                         after=after)


def _scale(kernel, scale, axis):
    """`kernel` times `scale` along the channel `axis` (`"depthwise"`: channel × multiplier)."""
    if axis == "depthwise":
        return kernel * tf.reshape(scale, kernel.shape[-2:])
    shape = [1] * kernel.shape.rank
    shape[axis] = -1
    return kernel * tf.reshape(scale, shape)


def _read(variable):
    return tf.cast(keras.ops.convert_to_tensor(variable), tf.float32)


def _bias(layer):
    bias = getattr(layer, "bias", None)
    use = getattr(layer, "use_bias", bias is not None)
    return _read(bias) if use and bias is not None else None


def _unfolded(layer):
    if isinstance(layer, keras.layers.Dense):
        return LinearMap(keras.ops.matmul, _read(layer.kernel), _bias(layer), (-1, -2))
    if isinstance(layer, SEPARABLE_CONV):
        depthwise, pointwise = _read(layer.depthwise_kernel), _read(layer.pointwise_kernel)
        channels, multiplier = depthwise.shape[-2:]
        # The depthwise and pointwise steps as one convolution kernel (window, in, out).
        pointwise = tf.reshape(pointwise, (channels, multiplier, pointwise.shape[-1]))
        kernel = tf.einsum("...im,imo->...io", depthwise, pointwise)
        return LinearMap(lambda x, k: keras.ops.conv(
            x, k, strides=layer.strides, padding=layer.padding, dilation_rate=layer.dilation_rate,
            data_format="channels_last"), kernel, _bias(layer), (-1, -2))
    if isinstance(layer, DEPTHWISE_CONV):
        return LinearMap(lambda x, k: keras.ops.depthwise_conv(
            x, k, strides=layer.strides, padding=layer.padding, dilation_rate=layer.dilation_rate,
            data_format="channels_last"), _read(layer.kernel), _bias(layer),
            ("depthwise", -2))
    if isinstance(layer, TRANSPOSED_CONV):
        return LinearMap(lambda x, k: keras.ops.conv_transpose(
            x, k, strides=list(layer.strides), padding=layer.padding,
            output_padding=layer.output_padding, dilation_rate=layer.dilation_rate,
            data_format="channels_last"), _read(layer.kernel), _bias(layer), (-2, -1))
    # Conv1D/2D/3D: the layer's own convolution op (it handles causal padding and groups).
    return LinearMap(layer.convolution_op, _read(layer.kernel), _bias(layer), (-1, -2))


def batchnorm_affine(layer):
    """`(scale, shift)` of an inference-mode `BatchNormalization`: `y = x * scale + shift`."""
    variance = _read(layer.moving_variance)
    scale = tf.math.rsqrt(variance + layer.epsilon)
    if layer.scale:
        scale = scale * _read(layer.gamma)
    shift = -_read(layer.moving_mean) * scale
    if layer.center:
        shift = shift + _read(layer.beta)
    return scale, shift


def linear_map(layer, before=None, after=None):
    """The `LinearMap` of `layer`, with the `BatchNormalization` layers right `before` and
    `after` it merged in.

    Raises:
        LinearMapError: for a layer kind `has_linear_map` rejects.
    """
    if not has_linear_map(layer):
        raise LinearMapError(
            f"Expected a channels-last convolution or an unquantized dense layer. Received: layer "
            f"'{layer.name}' ({type(layer).__name__}), whose weights the rule cannot recompute."
        )
    return _unfolded(layer).folded(
        before=None if before is None else batchnorm_affine(before),
        after=None if after is None else batchnorm_affine(after))
