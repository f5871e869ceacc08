"""Localisation metrics against ground-truth object masks: the pointing game and energy pointing."""

import dataclasses

import numpy as np

from keras_vis._checks import check_number, expected
from keras_vis.metrics._arrays import to_maps, to_masks
from keras_vis.metrics.result import MeanResult


@dataclasses.dataclass(frozen=True)
class PointingResult(MeanResult):
    """The pointing game's outcome.

    Attributes:
        hits: bool `(N,)`, True where the map's maximum lies on (or within `tolerance` of) the mask.
        points: int `(N, 2)`, the `(y, x)` of each map's maximum.
        mean: the fraction of hits, in [0, 1]: `score`, with the hits as 1.0 and 0.0 the
            `values`.
    """

    hits: np.ndarray
    points: np.ndarray

    @property
    def values(self):
        return self.hits.astype(np.float32)

    def __str__(self):
        return f"pointing game: {self.mean:.1%} hits ({int(self.hits.sum())}/{len(self.hits)})"


@dataclasses.dataclass(frozen=True)
class EnergyResult(MeanResult):
    """Energy pointing's outcome.

    Attributes:
        energy: float32 `(N,)`, the share of each map's total mass that lies on the mask, in [0, 1].
        mean: the mean share: `score`, with `energy` the `values`.
    """

    energy: np.ndarray

    values_field = "energy"

    def __str__(self):
        return (f"energy pointing: {self.mean:.1%} of the map mass on the object "
                f"(mean of {len(self.energy)})")


def _checked(maps, masks, non_negative=False):
    maps = to_maps(maps, non_negative=non_negative)
    masks = to_masks(masks, maps.shape)
    empty = np.flatnonzero(~masks.any(axis=(1, 2)))
    if empty.size:
        raise ValueError(
            expected("masks", "masks with at least one True pixel each", masks,
                     f"Mask(s) {empty[:10].tolist()} are empty; leave those images out.")
        )
    return maps, masks


def pointing_game(maps, masks, *, tolerance=0):
    """The pointing game (Zhang et al., 2016): does each map's maximum fall on the object?

    The maximum is the first pixel (in row-major order) holding the map's largest value. It is a hit
    when it lies on the mask, or, with a `tolerance`, within that Euclidean distance (in pixels) of
    a mask pixel. Zhang et al. use a 15-pixel tolerance on 224×224 images; the default here is 0, a
    strict hit on the mask.

    Args:
        maps: array or tensor `(N, H, W)` of attribution maps (any real values; only the position
            of the maximum counts).
        masks: booleans (or 0/1) `(N, H, W)`, True on the object; every mask must be non-empty.
        tolerance: the distance in pixels (>= 0) the maximum may lie from the mask.

    Returns:
        A `PointingResult` with per-image `hits` and `points`, and their `mean`.

    Raises:
        ValueError, TypeError: for maps and masks of different shapes, an empty mask, non-finite
            maps or a negative tolerance.
    """
    maps, masks = _checked(maps, masks)
    tolerance = check_number(tolerance, "tolerance", low=0)
    count, height, width = maps.shape
    flat = maps.reshape(count, -1).argmax(axis=1)
    points = np.stack([flat // width, flat % width], axis=1)
    if tolerance == 0:
        hits = masks[np.arange(count), points[:, 0], points[:, 1]]
    else:
        rows = np.arange(height)[None, :, None] - points[:, 0, None, None]
        cols = np.arange(width)[None, None, :] - points[:, 1, None, None]
        squared = np.where(masks, rows**2 + cols**2, np.inf)
        hits = squared.reshape(count, -1).min(axis=1) <= tolerance**2
    return PointingResult(hits=hits, points=points)


def energy_pointing(maps, masks):
    """Energy-based pointing (Wang et al., Score-CAM, 2020): each map's share of mass on the object.

    `energy = sum(map * mask) / sum(map)`. A map that is zero everywhere expresses no preference and
    is scored as a uniform map: its energy is the mask's share of the image.

    Args:
        maps: non-negative array or tensor `(N, H, W)` (the [0, 1] maps of the attribution
            functions; take `np.abs` of signed maps first).
        masks: booleans (or 0/1) `(N, H, W)`, True on the object; every mask must be non-empty.

    Returns:
        An `EnergyResult` with the per-image `energy` (float32 `(N,)`, in [0, 1]) and its `mean`.

    Raises:
        ValueError, TypeError: for maps and masks of different shapes, an empty mask, negative or
            non-finite map values.
    """
    maps, masks = _checked(maps, masks, non_negative=True)
    maps = maps.astype(np.float64)
    total = maps.sum(axis=(1, 2))
    inside = np.where(masks, maps, 0.0).sum(axis=(1, 2))
    uniform = masks.mean(axis=(1, 2))
    energy = np.where(total > 0, inside / np.where(total > 0, total, 1.0), uniform)
    return EnergyResult(energy=energy.astype(np.float32))
