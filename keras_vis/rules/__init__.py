"""Backward rules per layer, and the composites that assign them to a model.

One mechanism carries every modified-backward technique: guided backprop and deconvnet rectify the
ReLUs' backward pass, layer-wise relevance propagation (LRP) gives each convolution and dense
layer a relevance rule, DeepLIFT gives each non-linearity its rescale multiplier. A `Composite`
says which layer gets which `Rule`; the graph runner applies them while it traces, without ever
touching the user's layers.

    >>> from keras_vis import rules
    >>> composite = rules.Composite([(rules.DENSE, rules.Epsilon(0.01)),
    ...                              (rules.CONV, rules.Gamma(0.25))],
    ...                             first=rules.ZBox(low=0.0, high=255.0))
    >>> relevance = keras_vis.lrp(model, images, composite=composite, normalize=False)

Layer kinds for selectors: `CONV` (every convolution), `DENSE`, `LINEAR` (both), activation names
such as `RELU`, and `ACTIVATIONS` (every activation). A new rule is a `Rule` subclass whose
`__call__(forward, inputs, site)` returns `forward(*inputs)` with another backward pass (see
`with_backward`).
"""

from keras_vis.rules.base import Rule, Site, stabilize, with_backward
from keras_vis.rules.composite import ACTIVATIONS, Composite, Plan
from keras_vis.rules.deeplift import DEEPLIFT, Product, Rescale
from keras_vis.rules.gradient import DECONVNET, GUIDED, RELU, Deconvnet, Gradient, Guided, Pass
from keras_vis.rules.kinds import CONV, DENSE, LINEAR
from keras_vis.rules.linear import LinearMap, linear_map
from keras_vis.rules.lrp import (
    COMPOSITES,
    AlphaBeta,
    Epsilon,
    Flat,
    Gamma,
    Gate,
    Norm,
    WSquare,
    Zero,
    ZBox,
    ZPlus,
    relevance_composite,
    structure_rules,
)

__all__ = [
    "ACTIVATIONS", "COMPOSITES", "CONV", "DECONVNET", "DEEPLIFT", "DENSE", "GUIDED", "LINEAR",
    "RELU", "AlphaBeta", "Composite", "Deconvnet", "Epsilon", "Flat", "Gamma", "Gate", "Gradient",
    "Guided", "LinearMap", "Norm", "Pass", "Plan", "Product", "Rescale", "Rule", "Site",
    "WSquare", "ZBox", "ZPlus", "Zero", "linear_map", "relevance_composite", "stabilize",
    "structure_rules", "with_backward",
]
