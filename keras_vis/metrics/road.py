"""ROAD, Remove And Debias (Rong et al., "A Consistent and Efficient Evaluation Strategy for
Attribution Methods", ICML 2022): deletion with imputed pixels instead of a constant.

Deleting pixels by setting them to a constant lets the model read the shape of the deleted region
itself (the mask "leaks" the explanation). ROAD replaces each removed pixel by noisy linear
imputation: the weighted mean of its 8 neighbours (direct neighbours weigh 1/6, diagonal ones 1/12,
the weights renormalised where a neighbour falls outside the image), solved jointly for all removed
pixels as one sparse linear system, plus a little Gaussian noise. For each percentile `p` the `p`
most relevant ("morf") or least relevant ("lerf") pixels are removed and the target probability is
read; a faithful map makes the MoRF curve drop fast (low area) and the LeRF curve stay high (high
area).

Every imputed copy (all percentiles of all images) goes through the cached compiled forward pass
in chunks of `batch_size`; copies are imputed as their chunk is built, so no more than
`batch_size` exist at once.
"""

import dataclasses
import numbers

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from keras_vis._checks import check_choice, check_flag, check_number, check_positive_int, expected
from keras_vis.attribution._copies import copy_scores
from keras_vis.attribution._inputs import prepare, resolve_classes
from keras_vis.metrics._arrays import class_codes, pixel_ranks, seed_entropy, to_maps
from keras_vis.metrics.result import CurveAreaResult

DEFAULT_PERCENTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_NOISE = 0.01
ORDERS = ("morf", "lerf")

# (row offset, column offset, weight) of the 8 neighbours; the weights sum to 1.
_NEIGHBOURS = tuple((dy, dx, 1 / 6 if dy == 0 or dx == 0 else 1 / 12)
                    for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


@dataclasses.dataclass(frozen=True)
class RoadResult(CurveAreaResult, x_field="percentiles", direction_field="order",
                 higher_when="lerf"):
    """The target probability of each image after each ROAD removal.

    Attributes:
        order: `"morf"` (most relevant pixels removed first) or `"lerf"` (least relevant first).
        percentiles: float32 `(P,)`, the share of pixels removed at each point of the curve.
        curves: float32 `(N, P)`, the model output for the target (the class probability for a
            softmax model) on the imputed images.
        classes: int32 `(N,)`, the class scored for each image (the class predicted for the
            unaltered image when `target=None`); -1 for targets that are not classes.
        auc: float32 `(N,)`, the area under each curve over the percentiles (trapezoid rule)
            divided by their span: the curve's mean height, in [0, 1] for probabilities (the one
            score itself when there is a single percentile).
        mean_auc: the mean of `auc`: `score`, with `auc` the `values`; lower is more faithful
            for MoRF, higher for LeRF (`higher_is_better`).
        curve: `(percentiles, curves)`.
    """

    order: str
    percentiles: np.ndarray
    curves: np.ndarray
    classes: np.ndarray

    def title(self):
        return f"ROAD {self.order.upper()}"


def impute(image, removed, noise=0.0, rng=None):
    """Noisy linear imputation of the removed pixels of one image (ROAD's imputer).

    Each removed pixel takes the weighted mean of its 8 neighbours, known or removed: weight 1/6
    for the 4 direct neighbours and 1/12 for the 4 diagonal ones, renormalised over the neighbours
    inside the image. The means of all removed pixels form one sparse linear system, factorised
    once and solved for every channel; then Gaussian noise is added to the removed pixels. With
    `noise=0` a linear image `a*y + b*x + c` is reproduced exactly wherever the removed pixels stay
    off the image border.

    Args:
        image: array `(H, W, C)`.
        removed: booleans `(H, W)`, True where the pixel is removed; at least one pixel must stay.
        noise: standard deviation of the noise, as a fraction of the image's value range
            (`max - min` over all its pixels and channels); 0 for none.
        rng: the `numpy.random.Generator` the noise is drawn from (needed when `noise > 0`).

    Returns:
        float32 `(H, W, C)`: the image with its removed pixels imputed.

    Raises:
        ValueError: for mismatched shapes, or when every pixel is removed (nothing to impute from).
    """
    image = np.asarray(image, np.float64)
    removed = np.asarray(removed, bool)
    noise = check_number(noise, "noise", low=0)
    if image.ndim != 3 or removed.shape != image.shape[:2]:
        raise ValueError(expected("removed", f"booleans of shape {image.shape[:2]}", removed,
                                  "The image must be (H, W, C) and the mask (H, W)."))
    height, width, channels = image.shape
    flat = image.reshape(-1, channels)
    result = flat.copy()
    count = int(removed.sum())
    if count == 0:
        return result.reshape(image.shape).astype(np.float32)
    if count == flat.shape[0]:
        raise ValueError(expected("removed", "a mask that keeps at least one pixel", removed))
    rows, cols = np.nonzero(removed)
    order = _dissection(rows, cols)
    rows, cols = rows[order], cols[order]
    unknown = rows * width + cols
    # Equation of removed pixel i: (sum of its in-image weights) x_i - sum_j w_j x_j (removed j)
    # = sum_j w_j x_j (known j). The matrix is symmetric and diagonally dominant, irreducibly so as
    # soon as one pixel is known: positive definite, factorised without pivoting.
    variable = np.full(flat.shape[0], -1)
    variable[unknown] = np.arange(count)
    diagonal = np.zeros(count)
    right = np.zeros((count, channels))
    entries_row, entries_col, entries_value = [np.arange(count)], [np.arange(count)], []
    for dy, dx, weight in _NEIGHBOURS:
        y, x = rows + dy, cols + dx
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        diagonal += weight * inside
        equation = np.flatnonzero(inside)
        neighbour = y[inside] * width + x[inside]
        other = variable[neighbour]
        known = other < 0
        right[equation[known]] += weight * flat[neighbour[known]]
        entries_row.append(equation[~known])
        entries_col.append(other[~known])
        entries_value.append(np.full(int((~known).sum()), -weight))
    system = scipy.sparse.csc_matrix(
        (np.concatenate([diagonal] + entries_value),
         (np.concatenate(entries_row), np.concatenate(entries_col))), shape=(count, count))
    # The unknowns are numbered in nested-dissection order already: no column permutation.
    factor = scipy.sparse.linalg.splu(system, permc_spec="NATURAL", diag_pivot_thresh=0.0,
                                      options={"SymmetricMode": True})
    values = factor.solve(right)
    scale = noise * (flat.max() - flat.min())
    if scale > 0:
        if rng is None:
            raise ValueError(expected("rng", "a numpy.random.Generator when noise > 0", rng))
        values = values + rng.normal(0.0, scale, values.shape)
    result[unknown] = values
    return result.reshape(image.shape).astype(np.float32)


def _dissection(rows, cols, leaf=64):
    """A nested-dissection order of the pixels `(rows, cols)`: each set is split by the pixel line
    at its median row or column (a one-pixel line separates the 8-neighbour stencil), the two
    halves first, the line last. Factorising a grid system in this order fills in far less than
    generic orderings do (about twice as fast as COLAMD on a 224 x 224 image)."""
    order = []

    def split(index):
        if index.size <= leaf:
            order.append(index)
            return
        r, c = rows[index], cols[index]
        key = r if np.ptp(r) >= np.ptp(c) else c
        middle = np.median(key).astype(key.dtype)
        split(index[key < middle])
        split(index[key > middle])
        order.append(index[key == middle])

    split(np.arange(rows.size))
    return np.concatenate(order)


def _percentiles(percentiles):
    what = "increasing numbers in (0, 1), the shares of pixels removed"
    if isinstance(percentiles, numbers.Real) and not isinstance(percentiles, bool):
        percentiles = (percentiles,)
    if isinstance(percentiles, (str, bytes, dict)) or not isinstance(
            percentiles, (list, tuple, np.ndarray)):
        raise TypeError(expected("percentiles", what, percentiles))
    values = np.asarray(percentiles)
    if values.ndim != 1 or values.size == 0 or values.dtype == bool or not np.issubdtype(
            values.dtype, np.number) or np.iscomplexobj(values):
        raise TypeError(expected("percentiles", what, percentiles))
    values = values.astype(np.float64)
    if not np.all((values > 0) & (values < 1)):
        raise ValueError(expected("percentiles", what, percentiles,
                                  "Give shares, e.g. 0.1 for 10 %; 0 and 1 are left out."))
    if np.any(np.diff(values) <= 0):
        raise ValueError(expected("percentiles", what, percentiles,
                                  "Sort them and drop duplicates."))
    return values


def road(model, images, maps, target=None, *, percentiles=DEFAULT_PERCENTILES, order="morf",
         noise=DEFAULT_NOISE, seed=0, batch_size=32, progress=True):
    """ROAD curve: the target probability as relevant pixels are removed and imputed.

    For each percentile `p`, the `floor(p * H * W)` pixels with the highest (`"morf"`) or lowest
    (`"lerf"`) map values (ties broken by position) are removed on all channels and replaced by
    noisy linear imputation from their neighbours (see `impute`), and the model scores the result.
    The percentiles are the share removed in both orders (the reference code's LeRF at `p` keeps
    the top `p`; here it removes the bottom `p`, which is its LeRF at `1 - p`).

    The noise's standard deviation is `noise` times each image's value range (`max - min`): the
    reference 0.01 on images in [0, 1], whatever the model's input units. Each (image, percentile)
    draws its noise from its own stream of `seed` (by the image's position in the batch), so the
    results do not depend on `batch_size` nor on the other images scored with it.

    Args:
        model, images, maps, target: the model, the images in its input units, one map per image
            at the image resolution (larger = more important) and what is scored, as in
            `keras_vis.metrics.deletion`.
        percentiles: increasing shares of pixels removed, each in (0, 1).
        order: `"morf"` (most relevant first) or `"lerf"` (least relevant first).
        noise: standard deviation of the imputation noise as a fraction of each image's value
            range, >= 0 (0: plain linear imputation).
        seed: seed of the noise (an int >= 0), or `None` for fresh noise.
        batch_size: imputed copies per forward pass (and at most in memory at once).
        progress: show a progress bar on stderr if the job runs more than a couple of seconds
            (see `keras_vis.progress`).

    Returns:
        A `RoadResult` with `curves` `(N, P)`, `auc` `(N,)` and `mean_auc`: for MoRF a lower
        AUC, for LeRF a higher one, means a more faithful map.

    Raises:
        ValueError, TypeError: for maps whose shape is not `(N, H, W)` of the images, a bad
            `order`, `percentiles` (outside (0, 1), unsorted), `noise`, `seed` or `batch_size`,
            or images the model cannot take.
    """
    images, target = prepare(model, images, target)
    maps = to_maps(maps, images.shape[:3])
    shares = _percentiles(percentiles)
    order = check_choice(order, "order", ORDERS)
    noise = check_number(noise, "noise", low=0)
    entropy = seed_entropy(seed)
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")
    count, height, width = maps.shape
    pixels = height * width
    rank = pixel_ranks(maps, descending=order == "morf")
    removed_counts = np.minimum(np.floor(shares * pixels + 1e-9).astype(int), pixels - 1)

    def imputed_copies(image_index, copy_index):
        return np.stack([
            impute(images[n], (rank[n] < removed_counts[p]).reshape(height, width), noise,
                   np.random.default_rng([entropy, n, p]))
            for n, p in zip(image_index, copy_index)
        ])

    classes = resolve_classes(model, images, target, batch_size=batch_size)
    curves = copy_scores(model, target, classes, count, len(shares), imputed_copies,
                         batch_size=batch_size, head="model", label="ROAD", progress=progress)
    return RoadResult(order=order, percentiles=shares.astype(np.float32), curves=curves,
                      classes=class_codes(classes, count))


__all__ = ["RoadResult", "impute", "road"]
