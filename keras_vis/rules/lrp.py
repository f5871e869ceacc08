"""Layer-wise relevance propagation rules and composites (Montavon et al., "Layer-wise relevance
propagation: an overview", 2019; the composites of zennit).

Every rule maps the relevance `R_k` of a layer's outputs to its inputs `j` as

    R_j = sum_k  z_jk / stab(sum_j z_jk) · R_k,

differing in the contributions `z_jk` (`x_j w_jk` for LRP-0 and ε), with `stab(z) = z + ε·sign(z)`
(sign(0) = +1) keeping the ratio finite. It is computed with the gradient of the layer's linear
map (`R_j = x_j · (Wᵀ s)_j` with `s = R / stab(z)`), so a rule costs about one extra pass of its
layer.

What each rule conserves (the inputs' relevance summing to the outputs'), and when:

- LRP-0, ε and γ count the bias in `z`: a bias (and a batch normalization's shift folded into
  it) absorbs the share `b_k / z_k` of its output's relevance, and ε the share `ε / (z_k + ε)`.
  With zero biases and ε → 0 they conserve.
- z⁺ and αβ leave biases out: an output passes on all its relevance *if it has a contribution of
  the kept sign*. An output that only its bias makes positive (a depthwise convolution switched
  on by a folded batch-norm shift) has no positive contribution, and its relevance is dropped.
  Compounded over the blocks of a batch-normalized network this can leave well under a percent
  of the logit at the input (a pretrained MobileNetV2); `lrp(..., return_layers=True)` shows
  where it goes, layer by layer, and `benchmarks/results/lrp_conservation.md` measures it. With
  zero biases z⁺ conserves wherever relevance only reaches rectified outputs (VGG16 to 1e-3);
  an output added to a residual stream without a rectifier (MobileNetV2's linear bottlenecks)
  can hold relevance with only negative contributions and loses it. αβ with `β > 0` conserves
  only where each output has contributions of both signs: otherwise it passes on `α·R` (or
  `-β·R`) alone.
- Flat and w² spread relevance by weights alone over the receptive field: they conserve.
- zᴮ conserves for inputs within its bounds (its denominator is then positive).
- Pass-through, winner-take-all and the plain gradient of layers that only move values conserve;
  the proportional rule of pooling, sums and resampling conserves where its sum is not zero.

zennit keeps biases in z⁺ and αβ (clamped to the kept sign: `b⁺` with the positive
contributions, `b⁻` with the negative ones) and in w² (`b²`), so there the bias absorbs
relevance too. `zennit_biases=True` (on the rules, and on `keras_vis.lrp` for the named
composites) follows that convention, reproducing zennit's composites exactly; zᴮ cancels its
biases in either convention, and flat has none in zennit either.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_vis import _keras, registry
from keras_vis._checks import check_choice, check_flag, check_number, expected
from keras_vis.rules.base import Rule, recorded, stabilize, with_backward
from keras_vis.rules.composite import ACTIVATIONS, Composite
from keras_vis.rules.neutral import Gradient, Pass
from keras_vis.rules import kinds
from keras_vis.rules.kinds import CONV, DENSE, LINEAR

TINY = 1e-12
"""The least stabilizer, so LRP-0 never divides by zero."""
STABILIZER = 1e-6
"""The default stabilizer of the rules other than ε."""


def _float(tensor):
    return tf.cast(tensor, tf.float32)


class _Relevance(Rule):
    """A rule that maps output relevance to input relevance; subclasses define `relevance`."""

    def __call__(self, forward, inputs, site):
        tape, output = recorded(forward, inputs)

        def backward(relevance):
            found = self.relevance(inputs, output, _float(relevance), tape, site)
            return [tf.cast(r, x.dtype) for r, x in zip(found, inputs)]

        return with_backward(inputs, output, backward)

    def relevance(self, inputs, output, relevance, tape, site):
        """The relevance of each input, float32, from the output `relevance`."""
        raise NotImplementedError


def proportional(inputs, output, relevance, tape, epsilon):
    """Each input's share of the output relevance in proportion to its contribution to the
    output, through the layer's own computation: `x · d(z · R / stab(z)) / dx`."""
    scaled = relevance / stabilize(_float(output), epsilon)
    gradients = tape.gradient(output, inputs, output_gradients=tf.cast(scaled, output.dtype))
    return [_float(x) * _float(g) for x, g in zip(inputs, gradients)]


def redistribute(linear, terms, relevance, epsilon):
    """`sum_t sign_t · x_t · Wₜᵀ s` with `s = R / stab(sum_t sign_t · linear(x_t, W_t, b_t))`.

    Args:
        linear: the layer's `LinearMap`.
        terms: `(input, kernel, bias, sign)` tuples; an input may be the layer input, a part of
            it (`x⁺`), ones or a bound.
        relevance: the output relevance.
        epsilon: the stabilizer.
    """
    with tf.GradientTape(persistent=len(terms) > 1) as tape:
        for term in terms:
            tape.watch(term[0])
        parts = [linear(x, kernel, bias) for x, kernel, bias, _ in terms]
    total = tf.add_n([sign * part for (_, _, _, sign), part in zip(terms, parts)])
    scaled = relevance / stabilize(total, epsilon)
    return tf.add_n([sign * x * tape.gradient(part, x, output_gradients=scaled)
                     for (x, _, _, sign), part in zip(terms, parts)])


def _positive(tensor):
    return tf.maximum(tensor, 0.0)


def _negative(tensor):
    return tf.minimum(tensor, 0.0)


def _signed_terms(x, kernel, same_sign, nonnegative, bias=None):
    """The terms of the positive (`same_sign`) or negative contributions `x_j w_jk`, with the
    bias's part of that sign if a bias is given (zennit's convention)."""
    first, second = (_positive, _negative) if same_sign else (_negative, _positive)
    bias = None if bias is None else first(bias)
    if nonnegative:
        return [(x, first(kernel), bias, 1.0)]
    return [(_positive(x), first(kernel), bias, 1.0),
            (_negative(x), second(kernel), None, 1.0)]


class Epsilon(_Relevance):
    """LRP-ε: `z_jk = x_j w_jk`, biases included, `stab(z) = z + ε·sign(z)`.

    Args:
        epsilon: the stabilizer; larger values keep only the strongest, most consistent
            explanation factors (and absorb relevance).
    """

    def __init__(self, epsilon=1e-6):
        self.epsilon = check_number(epsilon, "epsilon", low=0)

    def relevance(self, inputs, output, relevance, tape, site):
        epsilon = max(self.epsilon, TINY)
        if site is None or not site.is_folded:
            return proportional(inputs, output, relevance, tape, epsilon)
        linear, x = site.linear, site.linear_input(inputs)
        return [redistribute(linear, [(x, None, linear.bias_for(x), 1.0)], relevance, epsilon)]


class Zero(Epsilon):
    """LRP-0: `z_jk = x_j w_jk`, biases included, no stabilizer beyond 1e-12 (for a ReLU network
    without biases, the same as gradient × input)."""

    def __init__(self):
        super().__init__(0.0)


class Gamma(_Relevance):
    """LRP-γ: the contributions that agree with the output's sign favoured by `γ`.

    For an output `z_k > 0`, `z_jk = x_j⁺ (w_jk + γ w_jk⁺) + x_j⁻ (w_jk + γ w_jk⁻)` and bias
    `b_k + γ b_k⁺`; for `z_k <= 0` the same with the signs of the favoured parts swapped. For
    non-negative inputs (after a ReLU) and positive outputs this is Montavon et al.'s
    `x_j (w_jk + γ w_jk⁺)`; favouring the output's own sign (as zennit does) keeps the
    denominator away from zero for the outputs a ReLU does not gate (before an `Add`).

    Args:
        gamma: how much positive contributions are favoured (0 is LRP-0).
        stabilizer: the stabilizer ε.
    """

    needs_linear_map = True

    def __init__(self, gamma=0.25, stabilizer=STABILIZER):
        self.gamma = check_number(gamma, "gamma", low=0)
        self.stabilizer = check_number(stabilizer, "stabilizer", low=0)

    def _terms(self, x, kernel, bias, favour, nonnegative):
        """The terms favouring positive (`favour=_positive`) or negative contributions."""
        against = _negative if favour is _positive else _positive
        towards, away = kernel + self.gamma * favour(kernel), kernel + self.gamma * against(kernel)
        bias = None if bias is None else bias + self.gamma * favour(bias)
        if nonnegative:
            return [(x, towards, bias, 1.0)]
        return [(_positive(x), towards, bias, 1.0), (_negative(x), away, None, 1.0)]

    def relevance(self, inputs, output, relevance, tape, site):
        linear, x = site.linear, site.linear_input(inputs)
        bias = linear.bias_for(x)
        z = linear(x, None, bias) if site.is_folded else _float(output)
        positive = tf.cast(z > 0, tf.float32)
        found = redistribute(linear, self._terms(x, linear.kernel, bias, _positive,
                                                 site.nonnegative_input),
                             relevance * positive, self.stabilizer)
        return [found + redistribute(linear, self._terms(x, linear.kernel, bias, _negative,
                                                         site.nonnegative_input),
                                     relevance * (1.0 - positive), self.stabilizer)]


class AlphaBeta(_Relevance):
    """LRP-αβ: `α` times the relevance of the positive contributions minus `β` times that of the
    negative ones, each normalised on its own.

    Args:
        alpha, beta: the weights, with `alpha - beta == 1` so relevance is conserved.
        stabilizer: the stabilizer ε.
        zennit_biases: count the bias's positive part with the positive contributions and its
            negative part with the negative ones, as zennit does (the bias then absorbs
            relevance); by default biases are left out.
    """

    needs_linear_map = True

    def __init__(self, alpha=1.0, beta=0.0, stabilizer=STABILIZER, zennit_biases=False):
        self.alpha = check_number(alpha, "alpha", low=1)
        self.beta = check_number(beta, "beta", low=0)
        if abs(self.alpha - self.beta - 1.0) > 1e-9:
            raise ValueError(expected("alpha", f"beta + 1 = {self.beta + 1:g}, so relevance is "
                                      "conserved", alpha))
        self.stabilizer = check_number(stabilizer, "stabilizer", low=0)
        self.zennit_biases = check_flag(zennit_biases, "zennit_biases")

    def relevance(self, inputs, output, relevance, tape, site):
        linear, x = site.linear, site.linear_input(inputs)
        bias = linear.bias_for(x) if self.zennit_biases else None
        found = self.alpha * redistribute(
            linear, _signed_terms(x, linear.kernel, True, site.nonnegative_input, bias),
            relevance, self.stabilizer)
        if self.beta:
            found -= self.beta * redistribute(
                linear, _signed_terms(x, linear.kernel, False, site.nonnegative_input, bias),
                relevance, self.stabilizer)
        return [found]


class ZPlus(AlphaBeta):
    """LRP-z⁺: only positive contributions, `z_jk = (x_j w_jk)⁺`; relevance stays >= 0 where
    the output relevance is (the same as α1β0).

    Args:
        stabilizer: the stabilizer ε.
        zennit_biases: count the bias's positive part, as zennit does.
    """

    def __init__(self, stabilizer=STABILIZER, zennit_biases=False):
        super().__init__(1.0, 0.0, stabilizer, zennit_biases)


class _InputFree(_Relevance):
    """Relevance spread by weights alone, whatever the input: `z_jk = f(w_jk)` over each output's
    receptive field, biases left out."""

    needs_linear_map = True

    def __init__(self, stabilizer=STABILIZER):
        self.stabilizer = check_number(stabilizer, "stabilizer", low=0)

    @staticmethod
    def weights(kernel):
        raise NotImplementedError

    def bias(self, linear, x):
        """The bias term of `z` (none)."""
        return None

    def relevance(self, inputs, output, relevance, tape, site):
        linear, x = site.linear, site.linear_input(inputs)
        terms = [(tf.ones_like(x), self.weights(linear.kernel), self.bias(linear, x), 1.0)]
        return [redistribute(linear, terms, relevance, self.stabilizer)]


class Flat(_InputFree):
    """Flat: relevance spread evenly over each output's receptive field (`z_jk = 1`)."""

    weights = staticmethod(tf.ones_like)


class WSquare(_InputFree):
    """w²: relevance in proportion to the squared weights, whatever the input (`z_jk = w_jk²`).

    Args:
        stabilizer: the stabilizer ε.
        zennit_biases: count the squared bias in `z`, as zennit does (it then absorbs relevance).
    """

    weights = staticmethod(tf.square)

    def __init__(self, stabilizer=STABILIZER, zennit_biases=False):
        super().__init__(stabilizer)
        self.zennit_biases = check_flag(zennit_biases, "zennit_biases")

    def bias(self, linear, x):
        bias = linear.bias_for(x) if self.zennit_biases else None
        return None if bias is None else tf.square(bias)


def _bound(value, name):
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return (check_number(value, name),)
    values = np.asarray(value, np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(expected(name, "None, a number or one number per channel", value))
    return tuple(float(v) for v in values)


class ZBox(_Relevance):
    """zᴮ (box) for the input layer, whose inputs lie in `[low, high]`:
    `z_jk = x_j w_jk - l_j w_jk⁺ - h_j w_jk⁻`, biases left out.

    Args:
        low, high: the smallest and largest value a model input can take, in the model's input
            units: a number or one number per channel, carried through the element-wise layers
            between the input and this layer (rescaling, normalization, padding); `None` for
            each image's own minimum and maximum as this layer sees it.
        stabilizer: the stabilizer ε.
    """

    needs_linear_map = True

    def __init__(self, low=None, high=None, stabilizer=STABILIZER):
        self.low = _bound(low, "low")
        self.high = _bound(high, "high")
        self.stabilizer = check_number(stabilizer, "stabilizer", low=0)

    def _bound(self, values, reduce, x, site):
        if values is None:  # the image's own extreme, as this layer sees it
            return reduce(x, axis=list(range(1, x.shape.rank)), keepdims=True) + tf.zeros_like(x)
        image = site.model_input
        bound = tf.cast(tf.constant(values, tf.float32) + tf.zeros_like(image, tf.float32),
                        image.dtype)
        return _float(site.to_layer_input(bound))

    def relevance(self, inputs, output, relevance, tape, site):
        linear, x = site.linear, site.linear_input(inputs)
        low = self._bound(self.low, tf.reduce_min, x, site)
        high = self._bound(self.high, tf.reduce_max, x, site)
        terms = [(x, linear.kernel, None, 1.0), (low, _positive(linear.kernel), None, -1.0),
                 (high, _negative(linear.kernel), None, -1.0)]
        return [redistribute(linear, terms, relevance, self.stabilizer)]


class Norm(_Relevance):
    """Proportional: each input's relevance in proportion to its contribution to the layer's
    linear output (average pooling, sums); the layer's own computation gives the weights.

    Args:
        stabilizer: the stabilizer ε.
    """

    def __init__(self, stabilizer=STABILIZER):
        self.stabilizer = check_number(stabilizer, "stabilizer", low=0)

    def relevance(self, inputs, output, relevance, tape, site):
        return proportional(inputs, output, relevance, tape, self.stabilizer)


class Gate(Rule):
    """A product of a signal and a gate (squeeze-and-excitation's `Multiply`, hard swish's
    `x * hard_sigmoid(x)`): all relevance goes to the signal, none to the gate (Arras et al.,
    2017). The gate is the input computed from the other one, read from the model's data flow;
    failing that, the signal is the one input of the output's shape and the gates are broadcast.
    """

    reads_gates = True

    def __call__(self, forward, inputs, site):
        output = forward(*inputs)
        signals = self._signals(inputs, output, site)
        if len(signals) != 1:
            raise _keras.pass_through_tracing(ValueError(
                f"Expected layer '{site.layer.name}' to multiply one signal by gates computed "
                f"from it or of smaller, broadcast shapes. Received: inputs of shapes "
                f"{[tuple(x.shape[1:]) for x in inputs]}, none of them computed from another. "
                f"Give it another rule with `names={{{site.layer.name!r}: rule}}`."
            ))

        def backward(relevance):
            return [relevance if i == signals[0] else tf.zeros_like(x)
                    for i, x in enumerate(inputs)]

        return with_backward(inputs, output, backward)

    @staticmethod
    def _signals(inputs, output, site):
        gates = site.gates if site is not None else None
        if gates:
            signals = [i for i in range(len(inputs)) if i not in gates]
            if len(signals) == 1 and inputs[signals[0]].shape[1:] == output.shape[1:]:
                return signals
        return [i for i, x in enumerate(inputs) if x.shape[1:] == output.shape[1:]]


def structure_rules(epsilon):
    """The rules every relevance composite gives the layers that are not convolutions or dense
    layers.

    - Winner-take-all for max pooling and element-wise maxima and minima.
    - Proportional (`Norm`) for what adds values up with fixed weights: average pooling, sums of
      tensors (`Add` layers, residual `inputs + x` operations, InceptionResNetV2's scaled sums)
      and resampling (`UpSampling2D` of any interpolation, `Resizing`), a fixed linear map.
    - ε for a batch normalization not folded into a linear layer.
    - Pass-through for what maps each value on its own: preprocessing (`Rescaling`,
      `Normalization`, and the `x / 127.5 - 1` or mean subtraction of `preprocess_input` written
      as operations), per-channel scales (ConvNeXt's `LayerScale`), the other normalizations and
      activations. Each output value has one input value as its only contribution, so every rule
      that leaves constants out (as z⁺ leaves out biases) gives it all of the output's relevance.
    - The signal of a gated product (`Multiply` layers and operations: squeeze-and-excitation,
      hard swish).
    - The plain gradient for what only moves values (reshapes, slicing, padding, concatenation).
    """
    return [
        (kinds.WINNERS, Gradient()),
        (kinds.EXTREME_OPERATIONS, Gradient()),
        (kinds.AVERAGE_POOLING + kinds.SUMS + kinds.WEIGHTED_SUMS + kinds.RESAMPLING, Norm()),
        (kinds.SUM_OPERATIONS, Norm()),
        (keras.layers.BatchNormalization, Epsilon(epsilon)),
        (kinds.PREPROCESSING + kinds.NORMALIZATIONS + kinds.CHANNEL_SCALES, Pass()),
        (kinds.AFFINE_OPERATIONS, Pass()),
        (keras.layers.Multiply, Gate()),
        (kinds.PRODUCT_OPERATIONS, Gate()),
        (kinds.ROUTING + kinds.INFERENCE_IDENTITY, Gradient()),
        (kinds.ROUTING_OPERATIONS, Gradient()),
        (ACTIVATIONS, Pass()),
    ]


COMPOSITES = registry.LRP_COMPOSITES
"""The named composites, the default first."""


def _named_rules(name, epsilon, gamma, low, high, zennit_biases):
    dense = (DENSE, Epsilon(epsilon))
    plus = ZPlus(zennit_biases=zennit_biases)
    return {
        "epsilon": ([(LINEAR, Epsilon(epsilon))], None),
        "epsilon_plus": ([dense, (CONV, plus)], None),
        "epsilon_plus_flat": ([dense, (CONV, plus)], Flat()),
        "epsilon_gamma_box": ([dense, (CONV, Gamma(gamma))], ZBox(low, high)),
        "epsilon_alpha2_beta1": ([dense, (CONV, AlphaBeta(2.0, 1.0, zennit_biases=zennit_biases))],
                                 None),
        "alpha1_beta0": ([(LINEAR, AlphaBeta(1.0, 0.0, zennit_biases=zennit_biases))], None),
    }[name]


def relevance_composite(composite="epsilon_plus_flat", *, epsilon=1e-6, gamma=0.25, low=None,
                        high=None, rules=None, zennit_biases=False):
    """The complete relevance composite for a name or a user's `Composite`.

    A user's composite chooses the rules of convolutions and dense layers (and whatever else it
    lists); `structure_rules` cover the other layers after it. The result is strict (a layer no
    rule covers is an error), canonizes batch normalization and seeds with the target score.

    Args:
        composite: a name from `COMPOSITES` or a `Composite`.
        epsilon: ε of the ε rules (dense layers, batch normalization not folded).
        gamma: γ of the γ rule (`"epsilon_gamma_box"`).
        low, high: the input bounds of the zᴮ rule (`"epsilon_gamma_box"`); see `ZBox`.
        rules: `{layer name: Rule}` for particular layers, before every other entry (see
            `keras_vis.rules.by_name`).
        zennit_biases: for a named composite, keep the biases in its z⁺ and αβ rules as zennit
            does (see the module docstring).

    Raises:
        ValueError, TypeError: for an unknown name or a bad parameter.
    """
    epsilon = check_number(epsilon, "epsilon", low=0)
    if isinstance(composite, Composite):
        if check_flag(zennit_biases, "zennit_biases"):
            raise ValueError(expected(
                "zennit_biases", "False with a composite of your own", zennit_biases,
                "Give its rules `zennit_biases=True` instead (`rules.ZPlus(zennit_biases=True)`)."))
        base = composite
    elif isinstance(composite, str):
        check_choice(composite, "composite", COMPOSITES)
        entries, first = _named_rules(composite, epsilon,
                                      check_number(gamma, "gamma", low=0), low, high,
                                      check_flag(zennit_biases, "zennit_biases"))
        base = Composite(entries, first=first, name=composite)
    else:
        raise TypeError(expected("composite", f"one of {', '.join(map(repr, COMPOSITES))} or a "
                                 "`keras_vis.rules.Composite`", composite))
    names = {**base.names, **(rules or {})}
    return base.extended(structure_rules(epsilon), strict=True, canonize=True,
                         seed_with_score=True, names=names)
