"""Backward rules per layer, and the composites that assign them to a model.

One mechanism carries every modified-backward technique: guided backprop and deconvnet rectify the
backward pass of the rectifiers (ReLU, swish, GELU, ...: `RECTIFIERS`), layer-wise relevance
propagation (LRP) gives each convolution and dense layer a relevance rule, DeepLIFT gives each
non-linearity its rescale multiplier. A `Composite` says which layer gets which `Rule`; the graph
runner applies them while it traces, without ever touching the user's layers.

    >>> from keras_vis import rules
    >>> composite = rules.Composite([(rules.DENSE, rules.Epsilon(0.01)),
    ...                              (rules.CONV, rules.Gamma(0.25))],
    ...                             first=rules.ZBox(low=0.0, high=255.0))
    >>> relevance = keras_vis.lrp(model, images, composite=composite, normalize=False)

Layer kinds for selectors: `CONV` (every convolution), `DENSE`, `LINEAR` (both), sets of
activation names such as `RELU` and `RECTIFIERS`, and `ACTIVATIONS` (every activation);
`keras_vis.rules.kinds` also groups the operation nodes of functional models by what they compute
(`AFFINE_OPERATIONS` such as `x / 127.5 - 1`, `SUM_OPERATIONS` such as a residual `inputs + x`,
...). A layer no entry covers is given a rule by name: `lrp(..., rules={"doubling":
"elementwise"})` says what it computes (`keras_vis.rules.by_name`). A new rule is a `Rule`
subclass whose `__call__(forward, inputs, site)` returns `forward(*inputs)` with another backward
pass (see `with_backward`).
"""

from keras_vis.rules.base import Rule, Site, stabilize, with_backward
from keras_vis.rules.composite import ACTIVATIONS, Composite, NoRuleMatches, Plan
from keras_vis.rules.deeplift import DEEPLIFT, Product, Rescale
from keras_vis.rules.gradient import DECONVNET, GUIDED, RECTIFIERS, RELU, Deconvnet, Guided
from keras_vis.rules.kinds import CONV, DENSE, LINEAR
from keras_vis.rules.linear import LinearMap, linear_map
from keras_vis.rules.neutral import Gradient, Pass
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
    "RECTIFIERS", "RELU", "AlphaBeta", "Composite", "Deconvnet", "Epsilon", "Flat", "Gamma", "Gate",
    "Gradient", "Guided", "LinearMap", "NoRuleMatches", "Norm", "Pass", "Plan", "Product",
    "Rescale", "Rule", "Site",
    "WSquare", "ZBox", "ZPlus", "Zero", "linear_map", "relevance_composite", "stabilize",
    "structure_rules", "with_backward",
]
