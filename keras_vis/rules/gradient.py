"""Rules that reshape the gradient: guided backprop and deconvnet (the neutral `Pass` and
`Gradient` are in `keras_vis.rules.neutral`).

- `Guided` (Springenberg et al.): the activation's own gradient applied to the positive part of
  the upstream gradient, and only where the activation's input was positive — the forward mask and
  the backward mask together.
- `Deconvnet` (Zeiler & Fergus): the positive part of the upstream gradient, whatever the forward
  input was.

`GUIDED` and `DECONVNET` give their rule to every rectifier (`RECTIFIERS`): an element-wise
activation that passes positive inputs on about as they are and suppresses negative ones — the
ReLU family and its leaky, exponential and smooth variants (swish/SiLU in EfficientNet, GELU in
ConvNeXt, hard swish in MobileNetV3). For an activation `f` with input `x` and upstream gradient
`g`, guided backprop sends back `f'(x) · max(g, 0) · [x > 0]`. On the positive side every
rectifier's `f'(x)` is positive, so the guided signal is never negative, as through a ReLU; for a
ReLU `f'(x) = [x > 0]` and the rule is Springenberg's `[x > 0] · max(g, 0)`. Deconvnet sends back
`max(g, 0)` whatever `f` and `x`. Squashing activations (sigmoid, tanh, softmax) are no
rectifiers and keep their plain gradient, as does a gate assembled from several layers (a
`Multiply` of a tensor and its sigmoid): only the activations, fused or as layers, are rectified.
"""

import tensorflow as tf

from keras_vis.rules.base import Rule, recorded, with_backward
from keras_vis.rules.composite import Composite

RELU = frozenset({"relu", "relu6", "leaky_relu"})
"""The ReLU family, a part of `RECTIFIERS`."""

RECTIFIERS = RELU | frozenset({
    "prelu", "elu", "selu", "celu",  # negative inputs leak or saturate
    "silu", "swish", "hard_silu", "hard_swish", "gelu", "mish",  # self-gated: x · gate(x)
    "softplus", "squareplus", "sparse_plus",  # smooth ReLUs
})
"""The activations guided backprop and deconvnet rectify, by every name Keras and TensorFlow give
them (`Activation("swish")` computes `silu`, `"hard_swish"` `hard_silu`, `tf.nn.silu` is named
`swish`; `PReLU` layers are `"prelu"`)."""


class Guided(Rule):
    """Guided backprop: `d activation / dx` times the positive part of the upstream gradient,
    where the input `x` is positive."""

    def __call__(self, forward, inputs, site):
        (x,) = inputs
        tape, y = recorded(forward, inputs)

        def backward(upstream):
            local = tape.gradient(y, x, output_gradients=tf.nn.relu(upstream))
            return [tf.where(x > 0, local, tf.zeros_like(local))]

        return with_backward([x], y, backward)


class Deconvnet(Rule):
    """Deconvnet backprop: the positive part of the upstream gradient, ignoring the input."""

    def __call__(self, forward, inputs, site):
        (x,) = inputs
        return with_backward([x], forward(x), lambda upstream: [tf.nn.relu(upstream)])


GUIDED = Composite([(RECTIFIERS, Guided())], name="guided")
"""Guided backprop: every rectifier gets the `Guided` rule."""

DECONVNET = Composite([(RECTIFIERS, Deconvnet())], name="deconvnet")
"""Deconvnet backprop: every rectifier gets the `Deconvnet` rule."""
