"""Keras layers grouped by what their computation is, for composites to select by.

Each group is a tuple of layer classes, so it works as a selector (`(rules.CONV, rule)`) and in
`isinstance`.
"""

import keras

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
           _L.Cropping3D, _L.UpSampling1D, _L.UpSampling2D, _L.UpSampling3D)
"""Layers that only move, copy or pad values."""

INFERENCE_IDENTITY = (_L.Dropout, _L.SpatialDropout1D, _L.SpatialDropout2D, _L.SpatialDropout3D,
                      _L.GaussianDropout, _L.GaussianNoise, _L.AlphaDropout,
                      _L.ActivityRegularization, _L.Identity)
"""Layers that are the identity at inference."""

PREPROCESSING = (_L.Rescaling, _L.Normalization)
"""Element-wise affine preprocessing with fixed parameters."""

NORMALIZATIONS = (_L.LayerNormalization, _L.GroupNormalization, _L.UnitNormalization)
"""Normalizations by statistics of each example (not batch normalization)."""
