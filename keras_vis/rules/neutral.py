"""The two neutral rules, which every composite may give a layer: `Pass` sends the upstream signal
through unchanged (relevance through an activation, a folded batch normalization), `Gradient`
keeps the computation's own gradient, named so that a strict composite covers a layer."""

from keras_vis import _keras
from keras_vis.rules.base import Rule, with_backward


class Pass(Rule):
    """Passes the upstream signal through unchanged (for shape-preserving computations of one
    tensor)."""

    def __call__(self, forward, inputs, site):
        if len(inputs) != 1:
            name = site.layer.name if site is not None else "this layer"
            raise _keras.pass_through_tracing(ValueError(
                f"Expected the layer given `Pass()` to compute from one tensor, whose relevance "
                f"it passes on unchanged. Received: '{name}', computing from {len(inputs)} "
                "tensors. Give it `keras_vis.rules.Norm()` if it sums them, "
                "`keras_vis.rules.Gate()` if it multiplies a signal by a gate."))
        (x,) = inputs
        return with_backward([x], forward(x), lambda upstream: [upstream])


class Gradient(Rule):
    """The computation's own gradient: no change, named so a strict composite covers it."""

    def __call__(self, forward, inputs, site):
        return forward(*inputs)
