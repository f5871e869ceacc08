"""Where a model looks across a dataset: mean maps, and how much of each map falls off the object.

The mass of a map is its absolute values. With object masks, the share of that mass outside the
object answers "is it the snow, not the leopard?": a model that recognises the object from its
background puts most of its mass outside the mask.
"""

import dataclasses
import os

import numpy as np

from keras_vis._checks import check_positive_int, expected
from keras_vis.dataset._store import INDEX, read_shards
from keras_vis.metrics._arrays import to_maps, to_masks
from keras_vis.metrics.pointing import energy_pointing


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    """Where the maps of a dataset lie.

    Attributes:
        count: number of images.
        mean_map: float32 `(H, W)`, the mean of all maps.
        class_maps: `{class: float32 (H, W)}`, the mean map of the images explained for each class.
        class_counts: `{class: number of images}`.
        indices: int64 `(count,)`, the dataset position of each image.
        outside: float32 `(count,)`, each map's share of mass outside the object mask, or `None`
            without masks (a map of zeros is read as uniform).
        mean_outside: the mean of `outside` (`None` without masks).
    """

    count: int
    mean_map: np.ndarray
    class_maps: dict
    class_counts: dict
    indices: np.ndarray
    outside: np.ndarray = None

    @property
    def mean_outside(self):
        return None if self.outside is None else float(np.mean(self.outside))

    def most_outside(self, k=10):
        """Dataset positions of the `k` images whose maps lie most off the object, worst first."""
        if self.outside is None:
            raise ValueError("Expected a summary made with object masks. Received: one without, so "
                             "there is no outside share to rank by.")
        k = check_positive_int(k, "k")
        return self.indices[np.argsort(-self.outside, kind="stable")[:k]]

    def __str__(self):
        return self.describe()

    def describe(self, class_names=None):
        """The summary in words; classes by name when `class_names` (in output order) are given.
        """
        def label(index):
            if class_names is not None and 0 <= index < len(class_names):
                return str(class_names[index])
            return str(index)

        classes = ", ".join(f"{label(c)}: {n}" for c, n in sorted(self.class_counts.items()))
        lines = [f"{self.count} maps; images per explained class: {classes}"]
        if self.outside is not None:
            lines.append(f"map mass outside the object: {self.mean_outside:.1%} on average "
                         f"(median {np.median(self.outside):.1%}, worst {self.outside.max():.1%})")
        return "\n".join(lines)


class SummaryAccumulator:
    """Sums maps batch by batch, so a summary never needs all maps in memory."""

    def __init__(self):
        self.total = None
        self.class_totals = {}
        self.class_counts = {}
        self.indices, self.outside = [], []

    def add(self, maps, classes, indices, outside=None):
        maps = np.abs(maps).astype(np.float64)
        self.total = maps.sum(axis=0) if self.total is None else self.total + maps.sum(axis=0)
        for value in np.unique(classes):
            chosen = classes == value
            key = int(value)
            self.class_totals[key] = self.class_totals.get(key, 0) + maps[chosen].sum(axis=0)
            self.class_counts[key] = self.class_counts.get(key, 0) + int(chosen.sum())
        self.indices.append(np.asarray(indices, np.int64))
        if outside is not None:
            self.outside.append(np.asarray(outside, np.float32))

    def result(self):
        indices = np.concatenate(self.indices)
        if self.total is None or len(indices) == 0:
            raise ValueError("Expected at least one map to summarise. Received: none.")
        if self.outside and len(self.outside) != len(self.indices):
            raise ValueError("Expected object masks for every image or for none. Received: some.")
        return DatasetSummary(
            count=len(indices),
            mean_map=(self.total / len(indices)).astype(np.float32),
            class_maps={k: (v / self.class_counts[k]).astype(np.float32)
                        for k, v in sorted(self.class_totals.items())},
            class_counts=dict(sorted(self.class_counts.items())),
            indices=indices,
            outside=np.concatenate(self.outside) if self.outside else None,
        )


def outside_share(maps, masks):
    """Each map's share of absolute mass outside its object mask: float32 `(N,)` in [0, 1]."""
    return (1.0 - energy_pointing(np.abs(maps), masks).energy).astype(np.float32)


def summarise_shards(folder, index=INDEX):
    """The `DatasetSummary` of the shards the index file `index` of `folder` lists."""
    accumulator = SummaryAccumulator()
    for shard in read_shards(folder, ("maps", "classes", "indices", "outside"), index):
        accumulator.add(shard["maps"], shard["classes"], shard["indices"], shard.get("outside"))
    return accumulator.result()


def dataset_summary(source, *, classes=None, masks=None):
    """Summarises where maps lie: mean map, mean map per class and, with masks, off-object mass.

    Args:
        source: the `out_dir` of `explain_dataset` (its shards are read one at a time), or an
            array or tensor of maps `(N, H, W)`.
        classes: for maps given as an array, the class of each map `(N,)` (default: all 0).
        masks: for maps given as an array, boolean object masks `(N, H, W)`.

    Returns:
        A `DatasetSummary`.

    Raises:
        ValueError, TypeError: for a folder without an index, or maps, classes or masks of the wrong
            shape.
    """
    accumulator = SummaryAccumulator()
    if isinstance(source, (str, os.PathLike)):
        if classes is not None or masks is not None:
            raise ValueError(
                "Expected `classes` and `masks` to be None when summarising an out_dir: its shards "
                f"hold the classes and the off-object shares. Received: out_dir='{source}'."
            )
        return summarise_shards(source)
    maps = to_maps(source)
    if classes is None:
        classes = np.zeros(len(maps), np.int64)
    classes = np.asarray(classes)
    if classes.shape != (len(maps),) or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(expected("classes", f"one integer class per map, shape ({len(maps)},)",
                                  classes))
    outside = None if masks is None else outside_share(maps, to_masks(masks, maps.shape))
    accumulator.add(maps, classes, np.arange(len(maps)), outside)
    return accumulator.result()
