"""Integrated gradients (Sundararajan et al., 2017)."""

import numpy as np

from keras_vis._checks import check_flag, check_positive_int
from keras_vis import blank
from keras_vis.attribution import _defaults
from keras_vis.attribution._copies import mean_input_gradients
from keras_vis.attribution._inputs import (broadcast_baseline, check_flag, head, prepare,
                                           resolve_classes)
from keras_vis.attribution._maps import check_reduce, finish, reduce_channels


def integrated_gradients(model, images, target=None, *, steps=_defaults.IG_STEPS, baseline=None,
                         reduce=_defaults.SIGNED_REDUCE, logits=True, normalize=True,
                         batch_size=_defaults.BATCH_SIZE, progress=True):
    """Integrated gradients: the gradient averaged along the straight path from a baseline to the
    image, times the image minus the baseline.

    The path integral is a midpoint Riemann sum over `steps` points `baseline + (k + 0.5) / steps *
    (image - baseline)`; all path points of all images go through batched passes. With
    `reduce="sum"` and `normalize=False`, each map sums to about `f(image) - f(baseline)`
    (completeness), closer as `steps` grows.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: as in `keras_vis.saliency`; the predicted class is that of the image, not of the
            path points.
        steps: number of path points (>= 1); the default is `keras_vis.registry.DEFAULTS`'s,
            one setting for the API, the report and the command line.
        baseline: the reference input, in the model's input units: `None` for all zeros (black for
            a model that takes 0–255 or 0–1 pixels), a number, or an array broadcastable to
            `images` (`(H, W, C)`, `(1, H, W, C)` or `(N, H, W, C)`).
        reduce: how the colour axis is collapsed: `"abs_sum"`, `"max_abs"`, `"sum"` or `"l2"`.
        logits: integrate the pre-softmax logit (True) or the model's output probability (False).
        normalize: scale each map to [0, 1]; False returns the raw reduced attributions.
        batch_size: path points per compiled call.
        progress: show a progress bar on stderr if the job runs more than a couple of seconds
            (see `keras_vis.progress`).

    Returns:
        float32 array `(N, H, W)`, in [0, 1] if `normalize`.
    """
    images, target = prepare(model, images, target)
    steps = check_positive_int(steps, "steps")
    check_reduce(reduce)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")
    baseline = broadcast_baseline(baseline, images)
    classes = resolve_classes(model, images, target, batch_size=batch_size)
    fractions = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
    delta = images - baseline

    def path_points(image_index, step_index):
        return baseline[image_index] + fractions[step_index, None, None, None] * delta[image_index]

    mean_gradients = mean_input_gradients(model, target, classes, len(images), steps, path_points,
                                          batch_size=batch_size, head=head(logits),
                                          label="integrated gradients", progress=progress)
    return finish(reduce_channels(delta * mean_gradients, reduce), images.shape[1:3], normalize,
                  blank=("integrated_gradients", blank.GRADIENT), target=target)
