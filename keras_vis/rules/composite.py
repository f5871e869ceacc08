"""Composites: which backward rule each layer of a model gets.

A `Composite` is an ordered list of `(selector, rule)` entries (the first match wins), an optional
rule for the first linear layers, and rules by layer name — the vocabulary of zennit's composites.
A selector picks either layers or activations:

- a Keras layer class, or a tuple of them (`keras.layers.Conv2D`, `keras_vis.rules.CONV`): the
  layer's main computation (its linear part, if it has a fused activation);
- an activation name or a set of them (`"relu"`, `keras_vis.rules.RELU`), or
  `keras_vis.rules.ACTIVATIONS` for every activation: the activation a layer applies, fused
  (`Conv2D(activation="relu")`) or as a layer of its own (`ReLU()`, `Activation("relu")`);
  `ACTIVATIONS.excluding("softmax")` for all but some;
- an activation layer class (`keras.layers.ReLU`): that layer's activation;
- a function `f(layer) -> bool`: the layers for which it is true.

`Composite.plan(model)` resolves the entries for every layer once; the graph runner then applies
the plan while it traces. A strict composite (every relevance method) refuses a model with a layer
that no rule covers, naming it, instead of silently falling back to the plain gradient; one that
requires a match (guided backprop and deconvnet saliency) refuses a model none of whose layers it
gives a rule, whose result would be the plain gradient under another name.
"""

import difflib

import keras

from keras_vis import operations
from keras_vis._checks import NotApplicable, check_layer_graph, expected
from keras_vis.graph import (ACTIVATION_LAYER_TYPES, SQUASH_ACTIVATIONS, activation_name,
                             head_layers, is_activation_layer)
from keras_vis.layers import is_model
from keras_vis.rules.base import Rule, Site
from keras_vis.rules.dataflow import DataFlow
from keras_vis.rules.linear import has_linear_map
from keras_vis.rules.neutral import Pass
from keras_vis.rules.roles import suggestion


class _AnyActivation:
    """The selector matching every activation function (but those it excludes)."""

    def __init__(self, excluded=frozenset()):
        self.excluded = frozenset(excluded)

    def excluding(self, *names):
        """The selector of every activation but `names`."""
        return _AnyActivation(self.excluded | set(names))

    def matches(self, name):
        return name not in self.excluded

    def __eq__(self, other):
        return isinstance(other, _AnyActivation) and other.excluded == self.excluded

    def __hash__(self):
        return hash(("ACTIVATIONS", tuple(sorted(self.excluded))))

    def __repr__(self):
        if not self.excluded:
            return "ACTIVATIONS"
        return f"ACTIVATIONS.excluding({', '.join(map(repr, sorted(self.excluded)))})"


ACTIVATIONS = _AnyActivation()


def _is_class_selector(selector):
    classes = selector if isinstance(selector, tuple) else (selector,)
    return bool(classes) and all(isinstance(c, type) and issubclass(c, keras.layers.Layer)
                                 for c in classes)


def _selects_activations(selector):
    if isinstance(selector, (_AnyActivation, str)):
        return True
    if isinstance(selector, (set, frozenset)):
        return all(isinstance(name, str) for name in selector)
    if _is_class_selector(selector):
        classes = selector if isinstance(selector, tuple) else (selector,)
        return all(issubclass(c, ACTIVATION_LAYER_TYPES) for c in classes)
    return False


def _check_selector(selector):
    if (isinstance(selector, (_AnyActivation, str)) or _is_class_selector(selector)
            or (isinstance(selector, (set, frozenset)) and _selects_activations(selector))
            or (callable(selector) and not isinstance(selector, type))):
        return selector
    raise TypeError(expected(
        "selector", "a layer class or tuple of classes, an activation name or set of names, "
        "keras_vis.rules.ACTIVATIONS, or a function of the layer", selector))


def _describe(selector):
    """A selector in words, for messages."""
    if isinstance(selector, (set, frozenset)):
        return "an activation named " + ", ".join(map(repr, sorted(selector)))
    if isinstance(selector, str):
        return f"activation {selector!r}"
    if isinstance(selector, _AnyActivation):
        excluded = ", ".join(map(repr, sorted(selector.excluded)))
        return f"any activation but {excluded}" if excluded else "any activation"
    if _is_class_selector(selector):
        classes = selector if isinstance(selector, tuple) else (selector,)
        return "a " + " or ".join(c.__name__ for c in classes) + " layer"
    return f"a layer that {getattr(selector, '__name__', repr(selector))} selects"


def _check_rule(rule, name="rule"):
    if rule is not None and not isinstance(rule, Rule):
        raise TypeError(expected(name, "a `keras_vis.rules.Rule`", rule))
    return rule


def _selector_key(selector):
    if isinstance(selector, (set, frozenset)):
        return ("names", tuple(sorted(selector)))
    return selector


class NoRuleMatches(NotApplicable):
    """Raised by `Composite.plan` with `require_match` for a model none of whose layers or
    activations the composite gives a rule: a method that cannot apply to that model."""


class NoRuleCovers(NotApplicable):
    """Raised by `Composite.plan` for a strict composite and a layer (or activation) no entry
    covers, naming it and saying how to give it a rule."""


class Assignment:
    """The rules one layer gets: for its main computation and for its activation.

    Args:
        layer: the user's layer.
        layer_rule: the rule of its main computation, or `None`.
        activation_rule: the rule of its fused activation, or `None`.
        **site_facts: what its `Site` knows of it before any trace: `folded`,
            `nonnegative_input`, `prefix`, `gates`.
    """

    def __init__(self, layer, layer_rule, activation_rule, **site_facts):
        self.layer = layer
        self.layer_rule = layer_rule
        self.activation_rule = activation_rule
        self._site_facts = site_facts

    def site(self, model_inputs, layer_inputs):
        """The `Site` its rules see in a trace with these model inputs and `{id(layer): input
        tensors}` of the layers computed so far."""
        return Site(self.layer, model_inputs=model_inputs, layer_inputs=layer_inputs,
                    **self._site_facts)


class Plan:
    """A composite resolved for one model: an `Assignment` per layer that has a rule."""

    def __init__(self, assignments, *, needs_reference):
        self._assignments = assignments
        self.needs_reference = needs_reference

    def get(self, layer):
        """The layer's `Assignment`, or `None` if it keeps its plain gradient."""
        return self._assignments.get(id(layer))


class Composite:
    """Chooses a backward rule for each layer of a model.

    Example:
        >>> from keras_vis import rules
        >>> composite = rules.Composite(
        ...     [(rules.CONV, rules.Gamma(0.25)), (rules.DENSE, rules.Epsilon(1e-6))],
        ...     first=rules.ZBox(low=0.0, high=255.0))
        >>> maps = keras_vis.lrp(model, images, composite=composite)

    Args:
        rules: `(selector, rule)` pairs; the first whose selector matches a layer (or its
            activation) gives the rule. See the module docstring for selectors.
        first: the rule of the first linear layers (convolutions or dense layers no other such
            layer precedes on a path from the input), before `rules` are consulted.
        names: `{layer name: rule}` for particular layers, consulted before everything else.
        strict: refuse models with a layer (or activation) no entry covers; otherwise such
            layers keep their plain gradient.
        canonize: fold each `BatchNormalization` into the rule of the linear layer it directly
            follows (or else of the one it alone feeds); the normalization itself then passes
            relevance through.
        seed_with_score: start the backward pass from the target's score instead of 1, so the
            propagated quantity is relevance that sums to the score (layer-wise relevance
            propagation).
        require_match: refuse a model to none of whose layers or activations the composite gives
            a rule, raising `NoRuleMatches`: its gradient would be the plain one.
        name: a name for messages and method descriptions.
    """

    def __init__(self, rules=(), *, first=None, names=None, strict=False, canonize=False,
                 seed_with_score=False, require_match=False, name=None):
        if isinstance(rules, (str, bytes)) or not isinstance(rules, (list, tuple)):
            raise TypeError(expected("rules", "a list of (selector, rule) pairs", rules))
        entries = []
        for entry in rules:
            if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                raise TypeError(expected("rules", "a list of (selector, rule) pairs", rules,
                                         f"The entry {entry!r} is not a pair."))
            entries.append((_check_selector(entry[0]), _check_rule(entry[1])))
        self.rules = tuple(entries)
        self.first = _check_rule(first, "first")
        names = dict(names or {})
        for layer_name, rule in names.items():
            if not isinstance(layer_name, str):
                raise TypeError(expected("names", "a dict of layer names to rules", names))
            _check_rule(rule, f"names[{layer_name!r}]")
        self.names = names
        self.strict = bool(strict)
        self.canonize = bool(canonize)
        self.seed_with_score = bool(seed_with_score)
        self.require_match = bool(require_match)
        self.name = name

    def extended(self, rules=(), **options):
        """A copy with `rules` appended after this composite's own (which take precedence) and
        `options` (`strict`, `canonize`, `seed_with_score`, `require_match`, `first`, `name`)
        replaced."""
        settings = {"first": self.first, "names": self.names, "strict": self.strict,
                    "canonize": self.canonize, "seed_with_score": self.seed_with_score,
                    "require_match": self.require_match, "name": self.name}
        settings.update(options)
        return Composite(list(self.rules) + list(rules), **settings)

    def key(self):
        """A hashable key: composites with equal keys assign the same rules."""
        return (
            tuple((_selector_key(s), rule.key()) for s, rule in self.rules),
            None if self.first is None else self.first.key(),
            tuple(sorted((n, r.key()) for n, r in self.names.items())),
            self.strict, self.canonize, self.seed_with_score, self.require_match,
        )

    @property
    def needs_reference(self):
        rules = [rule for _, rule in self.rules] + list(self.names.values()) + [self.first]
        return any(rule is not None and rule.needs_reference for rule in rules)

    def __repr__(self):
        return f"Composite({self.name!r})" if self.name else f"Composite({list(self.rules)!r})"

    def _layer_rule(self, layer, is_first):
        if layer.name in self.names:
            return self.names[layer.name], True
        if is_first and self.first is not None:
            return self.first, True
        for selector, rule in self.rules:
            if _selects_activations(selector):
                continue
            if (_is_class_selector(selector) and isinstance(layer, selector)) or (
                    not _is_class_selector(selector) and selector(layer)):
                return rule, True
        return None, False

    def _activation_rule(self, layer, name):
        for selector, rule in self.rules:
            if not _selects_activations(selector):
                continue
            if ((isinstance(selector, _AnyActivation) and selector.matches(name))
                    or selector == name
                    or (isinstance(selector, (set, frozenset)) and name in selector)
                    or (_is_class_selector(selector) and isinstance(layer, selector))):
                return rule, True
        return None, False

    def plan(self, model, *, linear_head=False):
        """Resolves the composite for every layer of `model` (nested models included).

        Args:
            model: a built functional or sequential model.
            linear_head: the output softmax/sigmoid is dropped (scores are logits), so it needs
                no rule.

        Raises:
            ValueError: for a strict composite and a layer or activation no entry covers, or a
                rule that needs the weights of a layer whose linear map cannot be written out.
            NoRuleMatches: for a composite that requires a match and a model it gives no rule.
        """
        check_layer_graph(model)
        flow = DataFlow(model)
        first = {id(layer) for layer in flow.first_linear_layers()}
        before, after = flow.batchnorm_folds() if self.canonize else ({}, {})
        folded = {id(bn) for bn in [*before.values(), *after.values()]}
        dropped = {id(layer) for layer in head_layers(model)} if linear_head else set()
        self._check_names(model, flow.layers())
        assignments, activations, opaque = {}, [], []
        for layer in flow.layers():
            if is_model(layer):  # a subclassed model nested in a functional one runs as is
                if self.strict:
                    self._refuse(layer, model, "a subclassed model, whose layers cannot be read")
                opaque.append(layer.name)
                continue
            layer_rule = activation_rule = None
            if id(layer) in folded:
                layer_rule = Pass()
            elif not is_activation_layer(layer):
                layer_rule, found = self._layer_rule(layer, id(layer) in first)
                if not found and self.strict:
                    noun = "operation" if operations.is_operation(layer) else "layer"
                    self._refuse(layer, model, f"a {type(layer).__name__} {noun}")
            name = activation_name(layer)
            activations.append(name)
            if id(layer) in dropped and name in SQUASH_ACTIVATIONS:
                name = None
            if name is not None:
                activation_rule, found = self._activation_rule(layer, name)
                if not found and self.strict:
                    self._refuse(layer, model, f"activation {name!r}")
            if layer_rule is not None and layer_rule.needs_linear_map and not has_linear_map(
                    layer):
                raise ValueError(
                    f"Expected rule {layer_rule!r} to be given to a convolution or dense layer, "
                    f"whose weights it recomputes. Received: layer '{layer.name}' "
                    f"({type(layer).__name__}). Give that layer another rule, e.g. with "
                    f"`names={{{layer.name!r}: keras_vis.rules.Epsilon()}}`."
                )
            if layer_rule is None and activation_rule is None:
                continue
            assignments[id(layer)] = Assignment(
                layer, layer_rule, activation_rule,
                folded=(before.get(id(layer)), after.get(id(layer))),
                nonnegative_input=flow.nonnegative_input(before.get(id(layer), layer)),
                prefix=flow.prefix(layer) if id(layer) in first else None,
                gates=flow.gate_inputs(layer) if getattr(layer_rule, "reads_gates", False)
                else None)
        if self.require_match and not assignments:
            self._refuse_unmatched(model, activations, opaque)
        return Plan(assignments, needs_reference=self.needs_reference)

    def _label(self):
        return f"composite '{self.name}'" if self.name else "the composite"

    def _wanted(self):
        """What the composite gives rules to, in words."""
        wanted = [_describe(selector) for selector, _ in self.rules]
        if self.first is not None:
            wanted.insert(0, "the first linear layers")
        if self.names:
            wanted.insert(0, "layers " + ", ".join(map(repr, sorted(self.names))))
        return "; ".join(wanted) or "nothing"

    def _refuse_unmatched(self, model, activations, opaque):
        names = [name for name in dict.fromkeys(activations) if name is not None]
        found = (f"a model whose activations are {names}, none of which it covers" if names
                 else "a model whose layers compute no activation")
        if opaque:
            found += f" (nested subclassed model(s) {opaque}, whose layers cannot be read)"
        raise NoRuleMatches(
            f"Expected model '{model.name}' to have at least one layer or activation that "
            f"{self._label()} gives a backward rule to: {self._wanted()}. Received: {found}, so "
            "its result would be the plain gradient. Use the plain gradient for this model "
            "(method='vanilla')."
        )

    def _check_names(self, model, layers):
        """Raises `ValueError` for a name in `names` that no layer or operation of the model has
        (a typo would otherwise leave the layer it meant without its rule)."""
        known = [layer.name for layer in layers]
        for name in self.names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
                hint = f" Did you mean: {', '.join(map(repr, close))}?" if close else ""
                raise ValueError(expected(
                    "rules", f"names of layers or operations of model '{model.name}'", name,
                    f"No layer it calls has that name.{hint} `keras_vis.summary(model)` lists "
                    "them."))

    def _refuse(self, layer, model, what):
        raise NoRuleCovers(
            f"Expected every layer of model '{model.name}' to have a backward rule in "
            f"{self._label()}. Received: layer '{layer.name}', {what}, which no rule covers. "
            f"{suggestion(layer.name)}"
        )
