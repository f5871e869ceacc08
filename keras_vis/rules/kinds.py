"""Keras layers and operations grouped by what their computation is, for composites to select by.

Each group of layers is a tuple of layer classes, so it works as a selector (`(rules.CONV, rule)`)
and in `isinstance`. Each group of operation nodes (`x + 1.0`, the arithmetic of
`preprocess_input`, a residual `inputs + x`) is an `OperationKind`, a selector function of the
node (see `keras_vis.operations`).
"""

import keras

from keras_vis import _keras, operations

_L = keras.layers

PLAIN_CONV = (_L.Conv1D, _L.Conv2D, _L.Conv3D)
TRANSPOSED_CONV = (_L.Conv1DTranspose, _L.Conv2DTranspose, _L.Conv3DTranspose)
DEPTHWISE_CONV = (_L.DepthwiseConv1D, _L.DepthwiseConv2D)
SEPARABLE_CONV = (_L.SeparableConv1D, _L.SeparableConv2D)

CONV = PLAIN_CONV + TRANSPOSED_CONV + DEPTHWISE_CONV + SEPARABLE_CONV
"""Every convolution layer kind."""

DENSE = (_L.Dense,)
"""Dense layers."""

LINEAR = CONV + DENSE
"""The layers whose linear map `keras_vis.rules.linear` writes out: convolutions and dense."""

WINNERS = (_L.MaxPooling1D, _L.MaxPooling2D, _L.MaxPooling3D, _L.GlobalMaxPooling1D,
           _L.GlobalMaxPooling2D, _L.GlobalMaxPooling3D, _L.Maximum, _L.Minimum)
"""Layers that pass on one of their inputs' values: max pooling, element-wise max and min."""

AVERAGE_POOLING = (_L.AveragePooling1D, _L.AveragePooling2D, _L.AveragePooling3D,
                   _L.GlobalAveragePooling1D, _L.GlobalAveragePooling2D,
                   _L.GlobalAveragePooling3D)
"""Average pooling, local and global."""

SUMS = (_L.Add, _L.Average, _L.Subtract)
"""Layers that add up (or average, or subtract) their inputs."""

ROUTING = (_L.Flatten, _L.Reshape, _L.Permute, _L.RepeatVector, _L.Concatenate,
           _L.ZeroPadding1D, _L.ZeroPadding2D, _L.ZeroPadding3D, _L.Cropping1D, _L.Cropping2D,
           _L.Cropping3D)
"""Layers that only move, copy or pad values."""

RESAMPLING = (_L.UpSampling1D, _L.UpSampling2D, _L.UpSampling3D, _L.Resizing)
"""Layers that resample a map by a fixed linear map of its values: upsampling (nearest or
bilinear) and resizing (with any interpolation)."""

CHANNEL_SCALES = _keras.application_layer_types("convnext.LayerScale")
"""Layers that scale each channel by a learned factor (ConvNeXt's `LayerScale`): a diagonal
linear map."""

WEIGHTED_SUMS = _keras.application_layer_types("inception_resnet_v2.CustomScaleLayer")
"""Layers that add their inputs with fixed weights (InceptionResNetV2's `inputs[0] + inputs[1] *
scale`)."""

INFERENCE_IDENTITY = (_L.Dropout, _L.SpatialDropout1D, _L.SpatialDropout2D, _L.SpatialDropout3D,
                      _L.GaussianDropout, _L.GaussianNoise, _L.AlphaDropout,
                      _L.ActivityRegularization, _L.Identity)
"""Layers that are the identity at inference."""

PREPROCESSING = (_L.Rescaling, _L.Normalization)
"""Element-wise affine preprocessing with fixed parameters."""

NORMALIZATIONS = (_L.LayerNormalization, _L.GroupNormalization, _L.UnitNormalization)
"""Normalizations by statistics of each example (not batch normalization)."""


class OperationKind:
    """A selector of the operation nodes that compute one `keras_vis.operations` kind.

    Args:
        kind: the kind (`keras_vis.operations.AFFINE`, ...).
        name: the selector's name, for messages.
    """

    def __init__(self, kind, name):
        self.kind = kind
        self.__name__ = name

    def __call__(self, layer):
        return operations.is_operation(layer) and operations.kind(layer) == self.kind

    def __repr__(self):
        return f"keras_vis.rules.{self.__name__}"

    def __eq__(self, other):
        return isinstance(other, OperationKind) and other.kind == self.kind

    def __hash__(self):
        return hash(("OperationKind", self.kind))


AFFINE_OPERATIONS = OperationKind(operations.AFFINE, "AFFINE_OPERATIONS")
"""Element-wise operations of one tensor with constants: `x + 1.0`, `x / 127.5 - 1`, `x * scale`,
`-x` — an affine map of each value."""

SUM_OPERATIONS = OperationKind(operations.SUM, "SUM_OPERATIONS")
"""Element-wise sums and differences of tensors: `inputs + x`."""

PRODUCT_OPERATIONS = OperationKind(operations.PRODUCT, "PRODUCT_OPERATIONS")
"""Element-wise products of two tensors: `x * gate`."""

EXTREME_OPERATIONS = OperationKind(operations.EXTREME, "EXTREME_OPERATIONS")
"""Element-wise maxima and minima of tensors."""

ROUTING_OPERATIONS = OperationKind(operations.ROUTING, "ROUTING_OPERATIONS")
"""Operations that move, copy, cast or pad values: slicing, stacking, concatenating, reshaping."""
