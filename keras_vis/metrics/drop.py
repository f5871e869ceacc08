"""Average drop and increase in confidence (Chattopadhyay et al., Grad-CAM++, 2018).

The model sees each image through its map, the explanation map `x * m` (in general
`b + m * (x - b)` for a baseline `b`): a faithful map keeps what the model needs, so the
target's confidence should drop little, and sometimes rise. Both passes (the image and the
image seen through its map) run in batches of `batch_size` through the cached compiled step.
"""

import dataclasses

import numpy as np

from keras_vis._checks import check_flag, check_positive_int, expected
from keras_vis.attribution._copies import copy_scores
from keras_vis.attribution._inputs import prepare, resolve_classes
from keras_vis.metrics._arrays import class_codes, removal_fill, to_maps
from keras_vis.metrics.result import MetricResult


@dataclasses.dataclass(frozen=True)
class DropResult(MetricResult):
    """The target's confidence on each image and on the image seen through its map.

    Attributes:
        scores: float32 `(N,)`, the confidence `Y` on each image (the class probability for a
            softmax model).
        masked_scores: float32 `(N,)`, the confidence `O` on the image seen through its map.
        classes: int32 `(N,)`, the class scored for each image (the class predicted for the
            unaltered image when `target=None`); -1 for targets that are not classes.
        drops: float32 `(N,)`, `max(0, Y - O) / Y` in percent (0 where `Y` is 0).
        increased: bool `(N,)`, True where `O > Y`.
        average_drop: the mean of `drops`, in percent; lower is more faithful: `score`, with
            `drops` the `values`.
        increase_rate: the share of images whose confidence increased, in percent; higher is
            more faithful.
    """

    scores: np.ndarray
    masked_scores: np.ndarray
    classes: np.ndarray

    @property
    def drops(self):
        y, o = self.scores.astype(np.float64), self.masked_scores.astype(np.float64)
        lost = np.maximum(y - o, 0.0)
        return np.where(y > 0, 100 * lost / np.where(y > 0, y, 1.0), 0.0).astype(np.float32)

    @property
    def increased(self):
        return self.masked_scores > self.scores

    higher_is_better = False
    values_field = "drops"

    @property
    def average_drop(self):
        return self.score

    @property
    def increase_rate(self):
        return float(100 * np.mean(self.increased))

    def __str__(self):
        return (f"average drop: {self.average_drop:.2f}% (lower is more faithful), increase in "
                f"confidence: {self.increase_rate:.1f}% of {len(self.scores)} images (higher is "
                "more faithful)")


def average_drop(model, images, maps, target=None, *, baseline=0.0, blur_sigma=None,
                 batch_size=32, progress=True):
    """Average drop and rate of increase in confidence when each image is seen through its map.

    With `Y` the target's confidence on the image and `O` on `b + m * (x - b)` (the image times
    its map for the default baseline `b = 0`), the average drop is the mean over the images of
    `max(0, Y - O) / Y * 100` and the increase rate the share of images with `O > Y`, in percent.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        maps: array or tensor `(N, H, W)` of values in [0, 1], one map per image at the image
            resolution (the default output of every attribution function).
        target: `None` (the class predicted for each unaltered image), a class index, one index
            per image, a callable `f(outputs) -> (N,)` on the model's outputs, or a `keras_vis`
            target. The model's own outputs are scored and read as confidences: they must not
            be negative (probabilities for a softmax or sigmoid model).
        baseline: what the map fades the image to where it is 0, as in `deletion`: a number (0,
            as in the paper: the image times its map), one value per channel, an array
            broadcastable to the images, `"mean"` (each image's channel means) or `"blur"`.
        blur_sigma: standard deviation in pixels of the `"blur"` baseline; `None` for a sixteenth
            of the image side.
        batch_size: images per forward pass (and at most in memory at once).
        progress: show a progress bar on stderr if the job runs more than a couple of seconds
            (see `keras_vis.progress`).

    Returns:
        A `DropResult` with the per-image `drops` and `increased`, `average_drop` (lower is more
        faithful) and `increase_rate` (higher is more faithful).

    Raises:
        ValueError, TypeError: for maps whose shape is not `(N, H, W)` of the images or whose
            values leave [0, 1], a bad `baseline` or `batch_size`, images the model cannot take,
            or a target whose score is negative (not a confidence).
    """
    images, target = prepare(model, images, target)
    maps = to_maps(maps, images.shape[:3], non_negative=True)
    if np.any(maps > 1):
        raise ValueError(
            expected("maps", "maps with values in [0, 1]", maps,
                     f"Their largest value is {float(maps.max()):.4g}; the image is multiplied "
                     "by the map. Pass maps normalized to [0, 1] (the default of every "
                     "attribution function), e.g. `maps / maps.max(axis=(1, 2), keepdims=True)`.")
        )
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")
    fill = removal_fill(baseline, images, blur_sigma)
    count = len(images)

    def copies(image_index, copy_index):
        x, b = images[image_index], fill[image_index]
        seen = b + maps[image_index, ..., None] * (x - b)
        return np.where((copy_index == 0)[:, None, None, None], x, seen)

    classes = resolve_classes(model, images, target, batch_size=batch_size)
    scores = copy_scores(model, target, classes, count, 2, copies, batch_size=batch_size,
                         head="model", label="average drop", progress=progress)
    negative = np.flatnonzero((scores < 0).any(axis=1))
    if negative.size:
        raise ValueError(
            expected("target", "a target whose score is a confidence (>= 0)", target,
                     f"Its score is negative on image(s) {negative[:10].tolist()}; average drop "
                     "reads it as a probability. Score a softmax or sigmoid output.")
        )
    return DropResult(scores=scores[:, 0], masked_scores=scores[:, 1],
                      classes=class_codes(classes, count))


__all__ = ["DropResult", "average_drop"]
