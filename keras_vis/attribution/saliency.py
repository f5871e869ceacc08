"""Gradient saliency: vanilla, guided backprop, deconvnet, SmoothGrad, and gradient × input."""

import numpy as np

from keras_vis import engine
from keras_vis._checks import check_choice, check_flag, check_number, check_positive_int
from keras_vis import blank
from keras_vis.attribution import _defaults
from keras_vis.attribution._copies import mean_input_gradients
from keras_vis.attribution._inputs import check_flag, head, prepare, resolve_classes
from keras_vis.attribution._maps import check_reduce, finish, reduce_channels
from keras_vis.rules import DECONVNET, GUIDED

# Saliency method -> the engine's composite of backward rules (None: the plain gradient). A model
# without a rectifier is refused: its guided or deconvnet map would be its plain gradient.
COMPOSITES = {"vanilla": None, "guided": GUIDED.extended(require_match=True),
              "deconvnet": DECONVNET.extended(require_match=True)}


def input_gradients(model, images, target, *, composite=None, logits=True, smooth_samples=0,
                    smooth_noise=_defaults.SMOOTH_NOISE, seed=None,
                    batch_size=_defaults.BATCH_SIZE, progress=True):
    """Gradients of the target score with respect to checked `images`, SmoothGrad-averaged if asked.

    Args:
        model: the model.
        images: a float32 batch from `prepare`.
        target: a `Target` from `prepare`.
        composite: the engine's backward rules (`None` or a value of `COMPOSITES`).
        logits: score the pre-softmax logit (True) or the model output (False).
        smooth_samples: noisy copies per image to average over (0: the plain gradient).
        smooth_noise: noise standard deviation as a fraction of each image's max - min.
        seed: seed of the noise.
        batch_size: images (or noisy copies) per compiled call.
        progress: show SmoothGrad's progress bar when it runs long (see `keras_vis.progress`).

    Returns:
        float32 array `(N, H, W, C)`.
    """
    if smooth_samples == 0:
        result = engine.run(model, images, target, head=head(logits), composite=composite,
                            batch_size=batch_size)
        return result.input_grads[0]
    classes = resolve_classes(model, images, target, batch_size=batch_size)
    sigma = smooth_noise * (images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3)))
    rng = np.random.default_rng(seed)

    def noisy_copies(image_index, _):
        noise = rng.standard_normal((len(image_index),) + images.shape[1:], dtype=np.float32)
        return images[image_index] + noise * sigma[image_index, None, None, None]

    return mean_input_gradients(model, target, classes, len(images), smooth_samples, noisy_copies,
                                batch_size=batch_size, head=head(logits), composite=composite,
                                label="SmoothGrad", progress=progress)


def saliency(model, images, target=None, *, method=_defaults.SALIENCY_METHOD,
             smooth_samples=_defaults.SMOOTH_SAMPLES, smooth_noise=_defaults.SMOOTH_NOISE,
             reduce=_defaults.SALIENCY_REDUCE, seed=None, logits=True, normalize=True,
             batch_size=_defaults.BATCH_SIZE, progress=True):
    """Saliency map: how strongly each pixel moves the target score.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: `None` (the predicted class), a class index, one index per image, a callable
            `f(outputs) -> (N,)`, or a `keras_vis` target (`Class`, `Region`, `Channel`,
            `Neuron`). For a binary classifier (one sigmoid unit), `None` explains the label it
            predicts for each image (the logit where p >= 0.5, its negation elsewhere), `0` the
            positive label and `Class(0, negative=True)` the negative one.
        method: `"vanilla"` (plain gradient, Simonyan et al.), `"guided"` (guided backprop,
            Springenberg et al.) or `"deconvnet"` (Zeiler & Fergus). Both change the backward pass
            of every rectifier `f` (`keras_vis.rules.RECTIFIERS`: ReLU, leaky ReLU, PReLU, ELU,
            SELU, swish/SiLU, hard swish, GELU, mish, softplus...): for an upstream gradient `g`
            at `f(x)`, guided sends back `f'(x) · max(g, 0)` where `x > 0` and zero elsewhere
            (for a ReLU: the positive gradient where the input was positive), deconvnet
            `max(g, 0)` whatever `x`. Sigmoid, tanh and softmax keep their plain gradient.
        smooth_samples: SmoothGrad: if > 0, average the gradients of this many noisy copies of each
            image (the copies are batched).
        smooth_noise: SmoothGrad noise standard deviation, as a fraction of each image's
            `max - min` (the SmoothGrad paper's convention).
        reduce: how the colour axis is collapsed: `"max_abs"`, `"abs_sum"`, `"sum"` or `"l2"`.
        seed: seed of the SmoothGrad noise, for reproducible maps.
        logits: score the pre-softmax logit (True) or the model's output probability (False).
        normalize: scale each map to [0, 1]; False returns the raw reduced gradients.
        batch_size: images (or noisy copies) per compiled call.
        progress: show SmoothGrad's progress bar when it runs long (see `keras_vis.progress`).

    Returns:
        float32 array `(N, H, W)`, in [0, 1] if `normalize`.

    Raises:
        ValueError, TypeError: for bad arguments (see the message for what was expected), and
            `keras_vis.rules.NoRuleMatches` (a `ValueError`) for `"guided"` or `"deconvnet"` on
            a model without a rectifier, whose map would be its plain gradient.
    """
    images, target = prepare(model, images, target)
    check_choice(method, "method", tuple(COMPOSITES))
    smooth_samples = check_positive_int(smooth_samples, "smooth_samples", minimum=0)
    smooth_noise = check_number(smooth_noise, "smooth_noise", low=0)
    check_reduce(reduce)
    if seed is not None:
        check_positive_int(seed, "seed", minimum=0)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    gradients = input_gradients(model, images, target, composite=COMPOSITES[method], logits=logits,
                                smooth_samples=smooth_samples, smooth_noise=smooth_noise, seed=seed,
                                batch_size=batch_size, progress=check_flag(progress, "progress"))
    return finish(reduce_channels(gradients, reduce), images.shape[1:3], normalize,
                  blank=(f"saliency (method={method!r})", blank.GRADIENT), target=target)


def gradient_input(model, images, target=None, *, reduce=_defaults.SIGNED_REDUCE, logits=True,
                   normalize=True, batch_size=_defaults.BATCH_SIZE):
    """Gradient × input: the gradient of the target score times the pixel values.

    For a linear model (no bias) the signed sum of the map is the score itself.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: as in `saliency`.
        reduce: how the colour axis is collapsed: `"abs_sum"`, `"max_abs"`, `"sum"` or `"l2"`.
        logits: score the pre-softmax logit (True) or the model's output probability (False).
        normalize: scale each map to [0, 1]; False returns the raw reduced products.
        batch_size: images per compiled call.

    Returns:
        float32 array `(N, H, W)`, in [0, 1] if `normalize`.
    """
    images, target = prepare(model, images, target)
    check_reduce(reduce)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    gradients = input_gradients(model, images, target, logits=logits, batch_size=batch_size)
    return finish(reduce_channels(gradients * images, reduce), images.shape[1:3], normalize,
                  blank=("gradient_input", blank.GRADIENT), target=target)
