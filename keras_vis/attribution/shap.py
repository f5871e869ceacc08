"""GradientSHAP (Lundberg & Lee, 2017): expected gradients over a set of baselines."""

import numpy as np

from keras_vis._checks import check_flag, check_number, check_positive_int, expected
from keras_vis import blank
from keras_vis.attribution import _defaults
from keras_vis.attribution._copies import mean_input_gradients
from keras_vis.attribution._inputs import check_flag, head, prepare, resolve_classes
from keras_vis.attribution._maps import check_reduce, finish, reduce_channels


def baseline_set(baselines, images):
    """The baselines as a float32 set `(B, H, W, C)` to sample from.

    Raises:
        ValueError: for anything but `None`, one baseline broadcastable to an image (a number,
            per-channel values, `(H, W, C)`) or a set `(B, H, W, C)`, or non-finite values.
    """
    shape = images.shape[1:]
    what = f"None, a number, per-channel values, an image {shape} or a set of them (B, *{shape})"
    try:
        values = np.asarray(0.0 if baselines is None else baselines, np.float32)
        if values.ndim < images.ndim:
            values = np.broadcast_to(values, shape)[None]
    except (TypeError, ValueError) as error:
        raise ValueError(expected("baselines", what, baselines)) from error
    if values.shape[1:] != shape or not len(values):
        raise ValueError(expected("baselines", what, baselines))
    if not np.all(np.isfinite(values)):
        raise ValueError(expected("baselines", "finite values (no NaN or inf)", baselines))
    return values


def gradient_shap(model, images, target=None, *, baselines=None, samples=_defaults.SHAP_SAMPLES,
                  noise=0.0, seed=None, reduce=_defaults.RELEVANCE_REDUCE, logits=True,
                  normalize=True, batch_size=_defaults.BATCH_SIZE, progress=True):
    """GradientSHAP: gradients at random points between baselines and the image, times the
    image minus the baseline, averaged — an estimate of SHAP values.

    For each sample, a baseline `b` is drawn from `baselines`, optional Gaussian noise is added to
    the image (`x̃`), and the gradient at `b + α (x̃ - b)` with `α ~ U(0, 1)` is multiplied by
    `x̃ - b`. On average each map sums to `f(x) - E[f(b)]`, closer as `samples` grows. All samples
    of all images run in batched passes; the same `seed` gives the same maps.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: as in `keras_vis.saliency`; the predicted class is that of the image.
        baselines: the reference inputs, in the model's input units: `None` for zeros (black
            for a model taking 0–255 or 0–1 pixels), a number, per-channel values, an image
            `(H, W, C)`, or a set `(B, H, W, C)` sampled for every image (a background sample of the data gives SHAP
            values with respect to the data).
        samples: samples per image; the default is `keras_vis.registry.DEFAULTS`'s, one
            setting for the API, the report and the command line.
        noise: standard deviation of the noise added to the image, as a fraction of each image's
            `max - min` (0 for none).
        seed: seed of the baselines, points and noise drawn.
        reduce: how the colour axis is collapsed: `"sum"` (signed), `"abs_sum"`, `"max_abs"`
            or `"l2"`.
        logits: explain the pre-softmax logit (True) or the model's output probability (False).
        normalize: scale each map's positive attributions (the evidence for the target) to
            [0, 1] by their maximum; False returns the raw, signed attributions.
        batch_size: samples per compiled call.
        progress: show a progress bar on stderr if the job runs more than a couple of seconds
            (see `keras_vis.progress`).

    Returns:
        float32 array `(N, H, W)`.
    """
    images, target = prepare(model, images, target)
    backgrounds = baseline_set(baselines, images)
    samples = check_positive_int(samples, "samples")
    noise = check_number(noise, "noise", low=0)
    if seed is not None:
        check_positive_int(seed, "seed", minimum=0)
    check_reduce(reduce)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")
    classes = resolve_classes(model, images, target, batch_size=batch_size)
    rng = np.random.default_rng(seed)
    chosen = rng.integers(0, len(backgrounds), size=(len(images), samples))
    fractions = rng.random((len(images), samples), dtype=np.float32)
    sigma = noise * (images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3)))

    def path_points(image_index, sample_index):
        start = backgrounds[chosen[image_index, sample_index]]
        end = images[image_index]
        if noise:
            shape = (len(image_index),) + images.shape[1:]
            end = end + rng.standard_normal(shape, dtype=np.float32) * sigma[
                image_index, None, None, None]
        delta = end - start
        return start + fractions[image_index, sample_index, None, None, None] * delta, delta

    attributions = mean_input_gradients(model, target, classes, len(images), samples,
                                        path_points, batch_size=batch_size, head=head(logits),
                                        label="GradientSHAP", progress=progress)
    return finish(reduce_channels(attributions, reduce), images.shape[1:3], normalize,
                  evidence=True, blank=("gradient_shap", blank.GRADIENT), target=target)
