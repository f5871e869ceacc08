"""Layer-wise relevance propagation (Bach et al., 2015; Montavon et al., 2019)."""

import dataclasses

import numpy as np

from keras_vis import engine
from keras_vis._checks import check_positive_int
from keras_vis import blank
from keras_vis.attribution import _defaults
from keras_vis.attribution._inputs import check_flag, head, prepare
from keras_vis.attribution._maps import check_reduce, finish, reduce_channels
from keras_vis.rules import relevance_composite
from keras_vis.rules.by_name import LRP_RULES, layer_rules
from keras_vis.rules.linear import has_linear_map
from keras_vis.rules.dataflow import DataFlow


@dataclasses.dataclass(frozen=True)
class RelevanceLayers:
    """How much relevance each layer's output holds: where a composite keeps or loses it.

    Attributes:
        names: the layers with a linear map (convolutions, dense layers), in forward order, then
            `"input"`; the relevance at each is the relevance of its output (after a
            normalization folded into it and its activation, which pass relevance through).
        sums: float64 `(N, len(names))`: each image's relevance summed over a layer's output.
        score: float64 `(N,)`: the explained score the relevance started from.
    """

    names: tuple
    sums: np.ndarray
    score: np.ndarray

    @property
    def shares(self):
        """`sums / score`: 1 where a layer's output holds all the relevance the score started
        with, less where relevance was absorbed (biases, ε) or dropped (outputs without a
        contribution of the rule's sign), more where the rule added some (αβ's β part)."""
        score = self.score[:, None]
        return np.divide(self.sums, score, out=np.full_like(self.sums, np.nan),
                         where=score != 0)

    def __str__(self):
        shares = self.shares
        width = max(len(name) for name in self.names)
        lines = [f"{'layer':<{width}}  share of the score (mean, min, max over images)"]
        for index, name in enumerate(self.names):
            column = shares[:, index]
            lines.append(f"{name:<{width}}  {np.nanmean(column):8.4f}  {np.nanmin(column):8.4f}  "
                         f"{np.nanmax(column):8.4f}")
        return "\n".join(lines)


def lrp(model, images, target=None, *, composite=_defaults.LRP_COMPOSITE,
        epsilon=_defaults.LRP_EPSILON, gamma=_defaults.LRP_GAMMA, low=None, high=None,
        rules=None, zennit_biases=False, reduce=_defaults.RELEVANCE_REDUCE, logits=True,
        normalize=True, return_layers=False, batch_size=_defaults.BATCH_SIZE):
    """Layer-wise relevance propagation: the target's logit redistributed, layer by layer, onto
    the pixels.

    The relevance starts as the target score (the pre-softmax logit) and each layer passes it to
    its inputs with the rule the composite gives it; what reaches the input is each pixel's share.
    Convolutions and dense layers get the composite's rules; max-pooling is winner-take-all,
    average pooling, sums (`Add`, a residual `inputs + x`) and resampling proportional,
    `BatchNormalization` after a linear layer is folded into it (canonized, the model is not
    changed), other normalization gets ε; activations, dropout, reshaping, preprocessing (layers,
    or `preprocess_input`'s arithmetic) and per-channel scales pass relevance through. A layer
    kind no rule covers is an error naming it, never a silent gradient.

    Whether the input relevance sums to the score depends on the rules and on the model (see
    `keras_vis.rules.lrp`): flat, w², zᴮ and the structure rules conserve; ε and γ let biases
    absorb their share; z⁺ and αβ (biases left out) drop the relevance of outputs that have no
    contribution of their sign, which on batch-normalized networks such as MobileNetV2 leaves a
    small fraction of the logit at the input. `return_layers=True` shows where it goes.

    Args:
        model: a built single-input, channels-last functional or sequential `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: as in `keras_vis.saliency`.
        composite: which rules the convolutions and dense layers get:
            `"epsilon_plus_flat"` (flat for the first layer, z⁺ for convolutions, ε for dense
            layers), `"epsilon_plus"`, `"epsilon"` (ε everywhere), `"epsilon_gamma_box"` (zᴮ for
            the first layer, γ for convolutions), `"epsilon_alpha2_beta1"`, `"alpha1_beta0"`, or
            a `keras_vis.rules.Composite` of your own.
        epsilon: ε of the ε rules.
        gamma: γ of the γ rule.
        low, high: for the zᴮ rule, the smallest and largest value a model input can take, in
            the model's input units (a number or one per channel); `None` for each image's own
            minimum and maximum.
        zennit_biases: keep the biases in the z⁺ and αβ rules of a named composite as zennit
            does (they then absorb relevance), to reproduce zennit's composites exactly.
        rules: rules for particular layers or operations, by name, before the composite's:
            `{"doubling": "elementwise"}` says what a custom layer computes (`"elementwise"`,
            `"linear"`, `"routing"` or `"gate"`, see `keras_vis.rules.by_name`), or give a
            `keras_vis.rules.Rule` (`{"add": keras_vis.rules.Pass()}`).
        reduce: how the colour axis is collapsed: `"sum"` (signed relevance), `"abs_sum"`,
            `"max_abs"` or `"l2"`.
        logits: start from the pre-softmax logit (True); False starts from the model's output
            (a probability after a softmax or sigmoid), passed through the output activation.
        normalize: scale each map's positive relevance (the evidence for the target) to
            [0, 1] by its maximum; False returns the raw, signed relevance.
        return_layers: also return a `RelevanceLayers`: the relevance each convolution's and
            dense layer's output holds, image by image, against the score.
        batch_size: images per compiled call.

    Returns:
        float32 array `(N, H, W)`; with `normalize=False` and `reduce="sum"`, the relevance of
        each pixel summed over its channels (signed). With `return_layers`, `(maps, layers)`.

    Raises:
        ValueError, TypeError: for bad arguments, a subclassed model, or a layer no rule covers.
    """
    images, target = prepare(model, images, target)
    check_reduce(reduce)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    return_layers = check_flag(return_layers, "return_layers")
    chosen = relevance_composite(composite, epsilon=epsilon, gamma=gamma, low=low, high=high,
                                 rules=layer_rules(rules, LRP_RULES), zennit_biases=zennit_biases)
    taps = _linear_layers(model) if return_layers else []
    result = engine.run(model, images, target, head=head(logits), composite=chosen,
                        taps=taps, tap_grads=return_layers, batch_size=batch_size)
    relevance = result.input_grads[0]
    maps = finish(reduce_channels(relevance, reduce), images.shape[1:3], normalize,
                  evidence=True, blank=("lrp", blank.RELEVANCE), target=target)
    if not return_layers:
        return maps
    sums = [g.reshape(len(g), -1).sum(1, dtype=np.float64) for g in result.tap_grads]
    sums.append(relevance.reshape(len(relevance), -1).sum(1, dtype=np.float64))
    layers = RelevanceLayers(tuple(layer.name for layer in taps) + ("input",),
                             np.stack(sums, axis=1), result.scores.astype(np.float64))
    return maps, layers


def _linear_layers(model):
    """The convolutions and dense layers the forward pass calls once, in its order."""
    flow = DataFlow(model)
    return [layer for layer in flow.layers()
            if has_linear_map(layer) and len(flow.calls_of(layer)) == 1]
