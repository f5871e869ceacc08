"""DeepLIFT with the rescale rule (Shrikumar et al., 2017)."""

import numpy as np

from keras_vis import engine
from keras_vis._checks import check_positive_int
from keras_vis import blank
from keras_vis.attribution import _defaults
from keras_vis.attribution._inputs import broadcast_baseline, check_flag, head, prepare
from keras_vis.attribution._maps import check_reduce, finish, reduce_channels
from keras_vis.rules import DEEPLIFT
from keras_vis.rules.by_name import DEEPLIFT_RULES, layer_rules


def deeplift(model, images, target=None, *, baseline=0.0, rules=None,
             reduce=_defaults.RELEVANCE_REDUCE, logits=True, normalize=True,
             batch_size=_defaults.BATCH_SIZE):
    """DeepLIFT: each pixel's contribution to the difference of the score from the baseline's.

    The images and their baselines run through the model together; every non-linearity's
    gradient is replaced by its multiplier `Δoutput / Δinput` (rescale rule), products split their
    difference between their factors, linear layers keep their gradient. The multipliers times
    `image - baseline` sum to `f(image) - f(baseline)` (summation-to-delta) for networks of linear
    layers, element-wise activations and products; max-pooling keeps its gradient, as in the
    paper. A layer kind no rule covers is an error naming it.

    Args:
        model: a built single-input, channels-last functional or sequential `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: as in `keras_vis.saliency`.
        baseline: the reference input, in the model's input units: a number (0: black for a
            model taking 0–255 or 0–1 pixels), or an array broadcastable to `images`.
        rules: rules for particular layers or operations, by name: `{"doubling":
            "elementwise"}` says what a custom layer computes (`"elementwise"`: rescaled,
            `"linear"` and `"routing"`: its gradient, `"gate"`: the product rule; see
            `keras_vis.rules.by_name`), or give a `keras_vis.rules.Rule`.
        reduce: how the colour axis is collapsed: `"sum"` (signed), `"abs_sum"`, `"max_abs"`
            or `"l2"`.
        logits: explain the pre-softmax logit (True); False explains the model's output, which
            works for element-wise output activations such as a sigmoid (not a softmax).
        normalize: scale each map's positive contributions (the evidence for the target) to
            [0, 1] by their maximum; False returns the raw, signed contributions.
        batch_size: images per compiled call (each runs with its baseline, so twice as many rows).

    Returns:
        float32 array `(N, H, W)`; with `normalize=False` and `reduce="sum"`, each map sums to
        `f(image) - f(baseline)`.
    """
    images, target = prepare(model, images, target)
    check_reduce(reduce)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    references = np.ascontiguousarray(broadcast_baseline(baseline, images))
    named = layer_rules(rules, DEEPLIFT_RULES)
    composite = DEEPLIFT.extended(names={**DEEPLIFT.names, **named}) if named else DEEPLIFT
    result = engine.run(model, images, target, head=head(logits), composite=composite,
                        references=references, batch_size=batch_size)
    contributions = (images - references) * result.input_grads[0]
    return finish(reduce_channels(contributions, reduce), images.shape[1:3], normalize,
                  evidence=True, blank=("deeplift", blank.DIFFERENCE), target=target)
