"""Layer-wise relevance propagation (Bach et al., 2015; Montavon et al., 2019)."""

from keras_vis import engine
from keras_vis._checks import check_positive_int
from keras_vis.attribution import _defaults
from keras_vis.attribution._inputs import check_flag, head, prepare
from keras_vis.attribution._maps import check_reduce, finish, reduce_channels
from keras_vis.rules import relevance_composite
from keras_vis.rules.by_name import LRP_RULES, layer_rules


def lrp(model, images, target=None, *, composite=_defaults.LRP_COMPOSITE,
        epsilon=_defaults.LRP_EPSILON, gamma=_defaults.LRP_GAMMA, low=None, high=None,
        rules=None, reduce=_defaults.RELEVANCE_REDUCE, logits=True, normalize=True,
        batch_size=_defaults.BATCH_SIZE):
    """Layer-wise relevance propagation: the target's logit redistributed, layer by layer, onto
    the pixels.

    The relevance starts as the target score (the pre-softmax logit) and each layer passes it to
    its inputs with the rule the composite gives it; what reaches the input is each pixel's share.
    With conserving rules (ε without biases, z⁺, αβ, flat, w², zᴮ), the input relevance sums to
    the score. Convolutions and dense layers get the composite's rules; max-pooling is
    winner-take-all, average pooling and `Add` proportional, `BatchNormalization` after a linear
    layer is folded into it (canonized, the model is not changed), other normalization gets ε,
    activations, dropout, reshaping and preprocessing layers pass relevance through. A layer kind
    no rule covers is an error naming it, never a silent gradient.

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
        batch_size: images per compiled call.

    Returns:
        float32 array `(N, H, W)`; with `normalize=False` and `reduce="sum"`, the relevance of
        each pixel summed over its channels (signed).

    Raises:
        ValueError, TypeError: for bad arguments, a subclassed model, or a layer no rule covers.
    """
    images, target = prepare(model, images, target)
    check_reduce(reduce)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    chosen = relevance_composite(composite, epsilon=epsilon, gamma=gamma, low=low, high=high,
                                 rules=layer_rules(rules, LRP_RULES))
    result = engine.run(model, images, target, head=head(logits), composite=chosen,
                        batch_size=batch_size)
    return finish(reduce_channels(result.input_grads[0], reduce), images.shape[1:3], normalize,
                  evidence=True)
