"""Rules for particular layers, by name: how a user covers a layer no composite knows.

A user says what the layer computes (its role), in Python (`lrp(..., rules={"doubling":
"elementwise"})`) or on the command line (`--rule doubling=elementwise`), and each relevance
method gives it the rule that fits that computation; a `Rule` object can be given instead.
"""

from keras_vis._checks import expected
from keras_vis.rules.base import Rule
from keras_vis.rules.deeplift import Product, Rescale
from keras_vis.rules.neutral import Gradient, Pass
from keras_vis.rules.lrp import Gate, Norm
from keras_vis.rules.roles import ROLES

# Relevance passes through an element-wise map and is shared in proportion through a sum...
LRP_RULES = {"elementwise": Pass(), "linear": Norm(), "routing": Gradient(), "gate": Gate()}
"""The LRP rule of each role."""

# ... while DeepLIFT rescales a non-linearity and keeps a linear map's gradient.
DEEPLIFT_RULES = {"elementwise": Rescale(), "linear": Gradient(), "routing": Gradient(),
                  "gate": Product()}
"""The DeepLIFT rule of each role."""


def layer_rules(rules, by_role):
    """`{layer name: Rule}` from `{layer name: role or Rule}`.

    Args:
        rules: `None`, or a dict of layer (or operation) names to a role of `ROLES` or a
            `keras_vis.rules.Rule` (or its `(name, rule)` pairs).
        by_role: the rule each role stands for (`LRP_RULES` or `DEEPLIFT_RULES`).

    Raises:
        TypeError, ValueError: for anything else.
    """
    if rules is None:
        return {}
    if isinstance(rules, (list, tuple)) and all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in rules):
        rules = dict(rules)
    if not isinstance(rules, dict):
        raise TypeError(expected("rules", "a dict of layer names to a role "
                                 f"({', '.join(map(repr, ROLES))}) or a keras_vis.rules.Rule",
                                 rules))
    found = {}
    for name, rule in rules.items():
        if not isinstance(name, str):
            raise TypeError(expected("rules", "a dict keyed by layer names", rules))
        if isinstance(rule, str) and rule in ROLES:
            rule = by_role[rule]
        if not isinstance(rule, Rule):
            raise ValueError(expected(
                f"rules[{name!r}]", f"one of {', '.join(map(repr, ROLES))} (what the layer "
                "computes) or a keras_vis.rules.Rule", rule))
        found[name] = rule
    return found
