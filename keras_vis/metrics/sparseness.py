"""Sparseness (Chalasani et al., 2020): how concentrated each map is, as the Gini index of its
absolute values.

A map that puts all its mass on one pixel scores `1 - 1/n` (n pixels), a uniform map 0. It reads
the maps alone: a complexity measure, to be read beside a faithfulness metric (a map can be sparse
and wrong).
"""

import dataclasses

import numpy as np

from keras_vis.metrics._arrays import to_maps
from keras_vis.metrics.result import MetricResult


@dataclasses.dataclass(frozen=True)
class SparsenessResult(MetricResult):
    """The Gini index of each map.

    Attributes:
        gini: float32 `(N,)`, in [0, 1 - 1/n]: the `values`, whose mean is the `score`; higher is a
            more concentrated map.
    """

    gini: np.ndarray

    values_field = "gini"

    def __str__(self):
        return (f"sparseness: Gini index {self.score:.4f} (mean of {len(self.gini)} maps; higher "
                "is more concentrated)")


def sparseness(maps):
    """The Gini index of each map's absolute values (Chalasani et al., 2020, as Quantus's
    `Sparseness`).

    With the `n` absolute values of a map sorted ascending, `x_1 <= ... <= x_n`,
    `gini = sum_i (2i - n - 1) x_i / (n sum_i x_i)`. Quantus adds 1e-7 to every value first so
    that an all-zero map is defined; here an all-zero map scores 0 (it concentrates on nothing)
    and no value is shifted, which changes other scores by a relative `n · 1e-7 / sum_i x_i`.

    Args:
        maps: array or tensor `(N, H, W)` of attribution maps (signed maps are read by magnitude).

    Returns:
        A `SparsenessResult` with the per-image `gini` and its mean, `score`.

    Raises:
        ValueError, TypeError: for maps that are not `(N, H, W)` or hold non-finite values.
    """
    maps = to_maps(maps)
    flat = np.sort(np.abs(maps.reshape(len(maps), -1).astype(np.float64)), axis=1)
    count = flat.shape[1]
    weights = 2 * np.arange(1, count + 1) - count - 1
    total = flat.sum(axis=1)
    gini = (flat * weights).sum(axis=1) / np.where(total > 0, count * total, 1.0)
    return SparsenessResult(gini=gini.astype(np.float32))


__all__ = ["SparsenessResult", "sparseness"]
