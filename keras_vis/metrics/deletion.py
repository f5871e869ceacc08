"""Deletion and insertion curves (Petsiuk et al., RISE, 2018): is a map faithful to the model?

The pixels are ranked by map value, most important first. Deletion replaces the top `i / steps` of
them by a baseline and follows the target probability down; insertion starts from the baseline
(a blurred copy of the image by default) and reveals the top pixels, following the probability up.
A faithful map gives a steep drop (low deletion AUC) and a steep rise (high insertion AUC).

Every altered copy (all steps of all images) goes through the cached compiled forward pass in
chunks of `batch_size`; no more than `batch_size` copies exist at once.
"""

import dataclasses

import numpy as np

from keras_vis._checks import check_flag, check_positive_int
from keras_vis.attribution._copies import copy_scores
from keras_vis.attribution._inputs import prepare, resolve_classes
from keras_vis.metrics._arrays import class_codes, pixel_ranks, removal_fill, to_maps
from keras_vis.metrics.result import CurveAreaResult

DEFAULT_STEPS = 50


# Evenly spaced steps over [0, 1], as the RISE paper's AUC, whatever the pixel count's rounding
# does to `fractions`.
@dataclasses.dataclass(frozen=True)
class CurveResult(CurveAreaResult, x_field="fractions", direction_field="kind",
                  higher_when="insertion", even=True):
    """A deletion or insertion curve per image.

    Attributes:
        kind: `"deletion"` or `"insertion"`.
        fractions: float32 `(steps + 1,)`, the share of pixels removed (deletion) or revealed
            (insertion) at each step, from 0 to 1.
        curves: float32 `(N, steps + 1)`, the model output for the target (the class probability for
            a softmax model) at each step.
        classes: int32 `(N,)`, the class scored for each image (the class predicted for the
            unaltered image when `target=None`; `keras_vis.targets.NEGATIVE` where a binary
            classifier's negative label is scored); -1 for targets that are not classes.
        auc: float32 `(N,)`, the area under each curve over [0, 1] (trapezoid rule): `values`.
        mean_auc: the mean of `auc`: `score`; lower is more faithful for deletion, higher for
            insertion (`higher_is_better`).
        curve: `(fractions, curves)`.
    """

    kind: str
    fractions: np.ndarray
    curves: np.ndarray
    classes: np.ndarray


def _curves(kind, model, images, maps, target, *, steps, baseline, blur_sigma, batch_size,
            progress):
    images, target = prepare(model, images, target)
    maps = to_maps(maps, images.shape[:3])
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")
    fill = removal_fill(baseline, images, blur_sigma)
    count, height, width = maps.shape
    pixels = height * width
    rank = pixel_ranks(maps)
    changed = np.arange(steps + 1) * pixels // steps  # pixels removed/revealed at each step
    start, end = (images, fill) if kind == "deletion" else (fill, images)

    def altered_copies(image_index, step_index):
        swap = (rank[image_index] < changed[step_index, None]).reshape(-1, height, width, 1)
        return np.where(swap, end[image_index], start[image_index])

    classes = resolve_classes(model, images, target, batch_size=batch_size)
    curves = copy_scores(model, target, classes, count, steps + 1, altered_copies,
                         batch_size=batch_size, head="model", label=kind, progress=progress)
    return CurveResult(
        kind=kind,
        fractions=(changed / pixels).astype(np.float32),
        curves=curves,
        classes=class_codes(classes, count),
    )


def deletion(model, images, maps, target=None, *, steps=DEFAULT_STEPS, baseline=0.0,
             blur_sigma=None, batch_size=32, progress=True):
    """Deletion curve: the target probability as the most important pixels are removed.

    At step `i` of `steps`, the `i * H * W // steps` pixels with the highest map values (ties broken
    by position) are replaced, on all channels, by the baseline's pixels.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        maps: array or tensor `(N, H, W)`, one map per image at the image resolution (larger =
            more important).
        target: `None` (the class predicted for each unaltered image), a class index, one index
            per image, a callable `f(outputs) -> (N,)` on the model's outputs, or a `keras_vis`
            target. The model's own outputs are scored (probabilities for a softmax model).
        steps: number of steps; the curve has `steps + 1` points.
        baseline: what removed pixels become, in the model's input units: a number (0, as in the
            RISE paper; mind the model's input scale), one value per channel, an array
            broadcastable to the images, `"mean"` (each image's channel means) or `"blur"` (a
            Gaussian-blurred copy of the image).
        blur_sigma: standard deviation in pixels of the `"blur"` baseline; `None` for a sixteenth
            of the image side.
        batch_size: altered copies per forward pass (and at most in memory at once).
        progress: show a progress bar on stderr if the job runs more than a couple of seconds
            (see `keras_vis.progress`).

    Returns:
        A `CurveResult` with `curves` `(N, steps + 1)`, `auc` `(N,)` and `mean_auc`; lower AUC
        means a more faithful map.

    Raises:
        ValueError, TypeError: for maps whose shape is not `(N, H, W)` of the images, a bad
            `steps`, `baseline` or `batch_size`, or images the model cannot take.
    """
    return _curves("deletion", model, images, maps, target, steps=steps, baseline=baseline,
                   blur_sigma=blur_sigma, batch_size=batch_size, progress=progress)


def insertion(model, images, maps, target=None, *, steps=DEFAULT_STEPS, baseline="blur",
              blur_sigma=None, batch_size=32, progress=True):
    """Insertion curve: the target probability as the most important pixels are revealed.

    Starts from the baseline (a blurred copy of the image, as in the RISE paper) and, at step `i`
    of `steps`, puts back the `i * H * W // steps` original pixels with the highest map values.

    Args:
        model, images, maps, target, steps, blur_sigma, batch_size, progress: as in `deletion`.
        baseline: the starting image, as in `deletion`; default `"blur"`.

    Returns:
        A `CurveResult`; higher AUC means a more faithful map.

    Raises:
        ValueError, TypeError: as `deletion`.
    """
    return _curves("insertion", model, images, maps, target, steps=steps, baseline=baseline,
                   blur_sigma=blur_sigma, batch_size=batch_size, progress=progress)


__all__ = ["CurveResult", "deletion", "insertion"]
