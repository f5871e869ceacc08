"""MuFidelity (Bhatt et al., "Evaluating and Aggregating Feature-based Model Explanations", 2020).

A faithful map predicts what removing pixels costs the model: over many random subsets `S` of the
image, the map's mass on `S` should correlate with the score drop `f(x) - f(x with S set to a
baseline)`. As in xplique's `MuFidelity`, the subsets are made of the cells of a `grid x grid`
grid (super-pixels; `grid=None` for single pixels, the paper's definition), a fixed share
`subset` of the cells each. The correlation is Pearson's, per image, as in the paper.

The subsets are drawn once from `seed` and shared by every image; the unaltered images and all
their altered copies run through the cached compiled step in chunks of `batch_size`.
"""

import dataclasses

import numpy as np

from keras_vis._checks import check_flag, check_number, check_positive_int, expected
from keras_vis.attribution._copies import copy_scores
from keras_vis.attribution._inputs import head, prepare, resolve_classes
from keras_vis.metrics._arrays import class_codes, removal_fill, seed_entropy, to_maps
from keras_vis.metrics.result import MeanResult

DEFAULT_GRID = 9
DEFAULT_SUBSET = 0.2
DEFAULT_SAMPLES = 128


@dataclasses.dataclass(frozen=True)
class MuFidelityResult(MeanResult):
    """The correlation of each image's map mass with the score drop, over random subsets.

    Attributes:
        correlations: float32 `(N,)`, Pearson's correlation per image over the subsets, in
            [-1, 1]; 0 where the drops or the masses do not vary (the correlation is undefined).
        masses: float32 `(N, samples)`, the map's sum over the removed pixels of each subset.
        drops: float32 `(N, samples)`, the score of the unaltered image minus that of the copy
            with the subset removed.
        classes: int32 `(N,)`, the class scored for each image (the class predicted for the
            unaltered image when `target=None`); -1 for targets that are not classes.
        mean: the mean correlation; higher is more faithful: `score`, with `correlations` the
            `values`.
    """

    correlations: np.ndarray
    masses: np.ndarray
    drops: np.ndarray
    classes: np.ndarray

    values_field = "correlations"

    def __str__(self):
        return (f"MuFidelity: {self.mean:.4f} (mean correlation of {len(self.correlations)} "
                f"images over {self.drops.shape[1]} subsets; higher is more faithful)")


def _cells(grid, height, width):
    """The `(H, W)` cell index of every pixel and the number of cells."""
    if grid is None:
        return np.arange(height * width).reshape(height, width), height * width
    grid = check_positive_int(grid, "grid", minimum=2)
    if grid > min(height, width):
        raise ValueError(expected("grid", f"at most {min(height, width)}, the images' shorter "
                                  "side", grid, "Each cell needs at least one pixel; `grid=None` "
                                  "makes every pixel a cell."))
    rows = np.arange(height) * grid // height
    cols = np.arange(width) * grid // width
    return rows[:, None] * grid + cols[None, :], grid * grid


def _pearson(a, b):
    """Pearson's correlation of the rows of `a` and `b`; 0 for rows where either is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm_a, norm_b = np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1))
    varies = (norm_a > 0) & (norm_b > 0)
    return np.where(varies, (a * b).sum(axis=1) / np.where(varies, norm_a * norm_b, 1.0), 0.0)


def mufidelity(model, images, maps, target=None, *, grid=DEFAULT_GRID, subset=DEFAULT_SUBSET,
               samples=DEFAULT_SAMPLES, baseline=0.0, blur_sigma=None, logits=False, seed=0,
               batch_size=32, progress=True):
    """MuFidelity: correlation of the map's mass on random subsets with the score drop.

    The image is cut in `grid x grid` cells (pixel `(y, x)` in cell `(y * grid // H,
    x * grid // W)`); each of `samples` subsets sets `round(subset * grid**2)` cells, drawn
    uniformly (at least one, never all), to the baseline. Per image, the result is Pearson's
    correlation, over the subsets, of the map's sum over the removed pixels with
    `f(x) - f(x_removed)`.

    Args:
        model: a built single-input, channels-last `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        maps: array or tensor `(N, H, W)`, one map per image at the image resolution (signed
            maps are read as signed masses).
        target: `None` (the class predicted for each unaltered image), a class index, one index
            per image, a callable `f(outputs) -> (N,)` on the model's outputs, or a `keras_vis`
            target.
        grid: cells per side (2 up to the images' shorter side), or `None` for single pixels.
        subset: the share of the cells removed in each subset, in (0, 1).
        samples: the number of random subsets (>= 2).
        baseline: what removed pixels become, as in `deletion`: a number (0, as in xplique), one
            value per channel, an array broadcastable to the images, `"mean"` or `"blur"`.
        blur_sigma: standard deviation in pixels of the `"blur"` baseline; `None` for a sixteenth
            of the image side.
        logits: score the pre-softmax logits instead of the model's outputs (probabilities).
        seed: seed of the subsets (an int >= 0; the same seed draws the same subsets), or `None`
            for fresh ones.
        batch_size: altered copies per forward pass (and at most in memory at once).
        progress: show a progress bar on stderr if the job runs more than a couple of seconds
            (see `keras_vis.progress`).

    Returns:
        A `MuFidelityResult` with the per-image `correlations` and their `mean` (higher is more
        faithful), and the `masses` and `drops` they correlate.

    Raises:
        ValueError, TypeError: for maps whose shape is not `(N, H, W)` of the images, a bad
            `grid`, `subset`, `samples`, `baseline`, `seed` or `batch_size`, or images the model
            cannot take.
    """
    images, target = prepare(model, images, target)
    maps = to_maps(maps, images.shape[:3])
    count, height, width = maps.shape
    cell, cells = _cells(grid, height, width)
    subset = check_number(subset, "subset", low=0, high=1, low_inclusive=False,
                          high_inclusive=False)
    samples = check_positive_int(samples, "samples", minimum=2)
    policy = head(logits)
    rng = np.random.default_rng(seed_entropy(seed))
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")
    fill = removal_fill(baseline, images, blur_sigma)

    size = int(np.clip(round(subset * cells), 1, cells - 1))
    chosen = np.argpartition(rng.random((samples, cells)), size - 1, axis=1)[:, :size]
    removed = np.zeros((samples + 1, cells), bool)  # row 0: the unaltered image
    np.put_along_axis(removed[1:], chosen, True, axis=1)
    cell_mass = np.zeros((count, cells))
    np.add.at(cell_mass, (slice(None), cell.ravel()), maps.reshape(count, -1).astype(np.float64))
    masses = cell_mass @ removed[1:].T

    def altered_copies(image_index, copy_index):
        hidden = removed[copy_index][:, cell][..., None]
        return np.where(hidden, fill[image_index], images[image_index])

    classes = resolve_classes(model, images, target, batch_size=batch_size)
    scores = copy_scores(model, target, classes, count, samples + 1, altered_copies,
                         batch_size=batch_size, head=policy, label="MuFidelity",
                         progress=progress).astype(np.float64)
    drops = scores[:, :1] - scores[:, 1:]
    # Differences below the scores' float32 resolution are rounding, not a response.
    resolution = 4 * np.finfo(np.float32).eps * np.abs(scores).max(axis=1, keepdims=True)
    still = np.ptp(drops, axis=1, keepdims=True) <= resolution
    flat_mass = np.ptp(masses, axis=1, keepdims=True) <= 1e-9 * np.abs(masses).max(
        axis=1, keepdims=True)
    correlations = np.where((still | flat_mass)[:, 0], 0.0, _pearson(masses, drops))
    return MuFidelityResult(correlations=correlations.astype(np.float32),
                            masses=masses.astype(np.float32), drops=drops.astype(np.float32),
                            classes=class_codes(classes, count))


__all__ = ["MuFidelityResult", "mufidelity"]
