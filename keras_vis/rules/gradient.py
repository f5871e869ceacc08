"""Rules that reshape the gradient: guided backprop, deconvnet, and the two neutral rules.

- `Guided` (Springenberg et al.): the activation's gradient applied to the positive part of the
  upstream gradient — the forward mask and the backward mask together.
- `Deconvnet` (Zeiler & Fergus): the positive part of the upstream gradient, whatever the forward
  input was.
- `Pass`: the upstream signal goes through unchanged (relevance through activations).
- `Gradient`: the layer's own gradient, said explicitly (max-pooling's winner-take-all, reshapes).
"""

import tensorflow as tf

from keras_vis.rules.base import Rule, recorded, with_backward
from keras_vis.rules.composite import Composite

RELU = frozenset({"relu", "relu6", "leaky_relu"})
"""The ReLU family: the activations guided backprop and deconvnet rectify."""


class Guided(Rule):
    """Guided backprop: `d activation / dx` times the positive part of the upstream gradient."""

    def __call__(self, forward, inputs, site):
        (x,) = inputs
        tape, y = recorded(forward, inputs)

        def backward(upstream):
            return [tape.gradient(y, x, output_gradients=tf.nn.relu(upstream))]

        return with_backward([x], y, backward)


class Deconvnet(Rule):
    """Deconvnet backprop: the positive part of the upstream gradient, ignoring the input."""

    def __call__(self, forward, inputs, site):
        (x,) = inputs
        return with_backward([x], forward(x), lambda upstream: [tf.nn.relu(upstream)])


class Pass(Rule):
    """Passes the upstream signal through unchanged (for shape-preserving computations)."""

    def __call__(self, forward, inputs, site):
        (x,) = inputs
        return with_backward([x], forward(x), lambda upstream: [upstream])


class Gradient(Rule):
    """The computation's own gradient: no change, named so a strict composite covers it."""

    def __call__(self, forward, inputs, site):
        return forward(*inputs)


GUIDED = Composite([(RELU, Guided())], name="guided")
"""Guided backprop: every ReLU-family activation gets the `Guided` rule."""

DECONVNET = Composite([(RELU, Deconvnet())], name="deconvnet")
"""Deconvnet backprop: every ReLU-family activation gets the `Deconvnet` rule."""
