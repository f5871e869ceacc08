"""A layer's linear part as an explicit function of its input and weights: `z = W x + b`.

Relevance rules recompute a layer with modified weights (only the positive ones, `W + γW⁺`,
`W²`, ...), so they need the layer's computation as a function of a kernel they choose. For the
convolution and dense layers, `LinearMap` reads the layer's weights at trace time (never writing
them) and evaluates its linear map on any input and kernel. A `BatchNormalization` layer that
directly follows the layer can be folded in (canonization): the map then computes the layer
followed by the normalization, `W' = W · a`, `b' = b · a + c` per output channel, with the model
left as it is.
"""

import keras
import tensorflow as tf

_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_CONV_TRANSPOSE = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                   keras.layers.Conv3DTranspose)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)

CONV = _CONV + _CONV_TRANSPOSE + _DEPTHWISE + _SEPARABLE
"""Every convolution layer kind."""
DENSE = (keras.layers.Dense,)
"""Dense layers."""
LINEAR = CONV + DENSE
"""The layer kinds whose linear map can be written out: convolutions and dense layers."""


class LinearMapError(ValueError):
    """The layer's linear map cannot be written out (an unsupported kind, a quantized layer)."""


def has_linear_map(layer):
    """True for layers `linear_map` supports: channels-last convolutions of every kind and
    unquantized dense layers."""
    return (isinstance(layer, LINEAR)
            and getattr(layer, "quantization_mode", None) is None
            and getattr(layer, "data_format", "channels_last") == "channels_last")


class LinearMap:
    """The linear part of a layer, `z = apply(x, kernel) + bias`, with the layer's weights.

    Attributes:
        kernel: float32 tensor, the layer's kernel (folded with a following normalization).
        bias: float32 tensor `(channels,)`, or `None` for a layer without bias and fold.
    """

    def __init__(self, apply, kernel, bias, scale_kernel):
        self._apply = apply
        self.kernel = kernel
        self.bias = bias
        self._scale_kernel = scale_kernel

    def __call__(self, x, kernel=None, bias=None):
        """The map of `x` with `kernel` (default the layer's) plus `bias` (default none)."""
        z = self._apply(tf.cast(x, tf.float32), self.kernel if kernel is None else kernel)
        return z if bias is None else z + bias

    def scaled(self, scale, shift):
        """This map followed by `z * scale + shift` per output channel."""
        bias = shift if self.bias is None else self.bias * scale + shift
        return LinearMap(self._apply, self._scale_kernel(self.kernel, scale), bias,
                         self._scale_kernel)


def _scale_last(kernel, scale):
    return kernel * scale


def _scale_transposed(kernel, scale):  # (window, out, in)
    return kernel * scale[:, None]


def _scale_depthwise(kernel, scale):  # output channel = input channel × multiplier
    return kernel * tf.reshape(scale, kernel.shape[-2:])


def _read(variable):
    return tf.cast(keras.ops.convert_to_tensor(variable), tf.float32)


def _bias(layer):
    bias = getattr(layer, "bias", None)
    use = getattr(layer, "use_bias", bias is not None)
    return _read(bias) if use and bias is not None else None


def _unfolded(layer):
    if isinstance(layer, keras.layers.Dense):
        return LinearMap(keras.ops.matmul, _read(layer.kernel), _bias(layer), _scale_last)
    if isinstance(layer, _SEPARABLE):
        depthwise, pointwise = _read(layer.depthwise_kernel), _read(layer.pointwise_kernel)
        *window, channels, multiplier = depthwise.shape
        # The depthwise and pointwise steps as one convolution kernel (window, in, out).
        pointwise = tf.reshape(pointwise, (channels, multiplier, pointwise.shape[-1]))
        kernel = tf.einsum("...im,imo->...io", depthwise, pointwise)
        return LinearMap(lambda x, k: keras.ops.conv(
            x, k, strides=layer.strides, padding=layer.padding, dilation_rate=layer.dilation_rate,
            data_format="channels_last"), kernel, _bias(layer), _scale_last)
    if isinstance(layer, _DEPTHWISE):
        return LinearMap(lambda x, k: keras.ops.depthwise_conv(
            x, k, strides=layer.strides, padding=layer.padding, dilation_rate=layer.dilation_rate,
            data_format="channels_last"), _read(layer.kernel), _bias(layer), _scale_depthwise)
    if isinstance(layer, _CONV_TRANSPOSE):
        return LinearMap(lambda x, k: keras.ops.conv_transpose(
            x, k, strides=list(layer.strides), padding=layer.padding,
            output_padding=layer.output_padding, dilation_rate=layer.dilation_rate,
            data_format="channels_last"), _read(layer.kernel), _bias(layer), _scale_transposed)
    # Conv1D/2D/3D: the layer's own convolution op (it handles causal padding and groups).
    return LinearMap(layer.convolution_op, _read(layer.kernel), _bias(layer), _scale_last)


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


def linear_map(layer, folded=None):
    """The `LinearMap` of `layer`, with the `BatchNormalization` layer `folded` merged in.

    Raises:
        LinearMapError: for a layer kind `has_linear_map` rejects.
    """
    if not has_linear_map(layer):
        raise LinearMapError(
            f"Expected a channels-last convolution or an unquantized dense layer. Received: layer "
            f"'{layer.name}' ({type(layer).__name__}), whose weights the rule cannot recompute."
        )
    linear = _unfolded(layer)
    return linear if folded is None else linear.scaled(*batchnorm_affine(folded))
