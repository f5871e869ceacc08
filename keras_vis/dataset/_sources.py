"""The kinds of dataset `explain_dataset` reads, streamed as numpy batches.

Every source yields, for one worker's `Share` of the dataset, dicts with `positions` `(n,)` (each
image's place in the dataset), `images` `(n, H, W, C)` and, where the dataset has them, `labels`
`(n,)` int, `masks` `(n, H, W)` and `paths` `(n,)`; `n` is at most the requested batch size and no
batch straddles two shards. Nothing larger than one batch is held in memory.
"""

import dataclasses
import os
import pathlib

import numpy as np
import tensorflow as tf

from keras_vis._checks import expected
from keras_vis.io import image_files, load_image

_FIELDS = ("images", "labels", "masks")
_WHAT = ("a numpy array of images, an (images, labels[, masks]) tuple of arrays, a "
         "`tf.data.Dataset` of images or (image, label[, mask]) tuples, or a folder of image files")


def _class_labels(labels):
    labels = np.asarray(labels)
    if labels.ndim == 2:  # one-hot
        return labels.argmax(axis=1)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(expected("labels", "integer class labels (n,) or one-hot labels (n, K)",
                                  labels))
    return labels


@dataclasses.dataclass(frozen=True)
class Share:
    """Which shards one worker explains: those numbered `worker`, `worker + workers`, ...

    Shard `n` always holds the images `n * shard_size` to `(n + 1) * shard_size - 1`, whatever the
    number of workers, so every share is deterministic and the shards of all workers interleave
    back into dataset order.
    """

    shard_size: int
    workers: int = 1
    worker: int = 0

    def owns(self, number):
        return number % self.workers == self.worker

    def numbers(self, count):
        """The numbers of this worker's shards of a dataset of `count` images."""
        return range(self.worker, -(-count // self.shard_size), self.workers)

    def images(self, count):
        """How many of `count` images this worker explains (`None` for an unknown count)."""
        if count is None:
            return None
        return sum(min(self.shard_size, count - n * self.shard_size) for n in self.numbers(count))


def _fields(parts):
    batch = dict(zip(_FIELDS, parts))
    if "labels" in batch:
        batch["labels"] = _class_labels(batch["labels"])
    return batch


class ArraySource:
    """Images (and labels, masks) already in memory as arrays."""

    def __init__(self, parts):
        parts = [np.asarray(p) for p in parts]
        if not 1 <= len(parts) <= 3 or parts[0].ndim != 4:
            raise ValueError(expected("dataset", _WHAT, parts[0] if parts else parts,
                                      "Images must be a batch (N, H, W, C)."))
        if any(len(p) != len(parts[0]) for p in parts):
            raise ValueError(expected("dataset", "images, labels and masks of the same length",
                                      [p.shape for p in parts]))
        self.parts = parts
        self.count = len(parts[0])
        self.has_labels = len(parts) > 1
        self.has_masks = len(parts) > 2

    def batches(self, size, share):
        return _shard_batches(self, size, share)

    def read(self, start, stop):
        return _fields([p[start:stop] for p in self.parts])


class TensorFlowSource:
    """A `tf.data.Dataset` of images or tuples, batched or not."""

    def __init__(self, dataset):
        spec = dataset.element_spec
        specs = spec if isinstance(spec, tuple) else (spec,)
        if not 1 <= len(specs) <= 3 or not all(isinstance(s, tf.TensorSpec) for s in specs):
            raise ValueError(expected("dataset", "a tf.data.Dataset of images or (image, label[, "
                                      "mask]) tuples", spec))
        rank = specs[0].shape.rank
        if rank not in (3, 4):
            raise ValueError(expected("dataset", "a tf.data.Dataset of images (H, W, C) or "
                                      "batches (n, H, W, C)", spec))
        self.dataset = dataset.unbatch() if rank == 4 else dataset
        cardinality = int(self.dataset.cardinality())
        self.count = cardinality if cardinality >= 0 else None
        self.has_labels = len(specs) > 1
        self.has_masks = len(specs) > 2

    def batches(self, size, share):
        """Streams the dataset, keeping the elements of `share`'s shards: the others are still
        read (a `tf.data` pipeline has no random access) but never explained."""
        shard_size, workers, worker = (tf.constant(v, tf.int64) for v in dataclasses.astuple(share))
        owned = self.dataset.enumerate()
        if share.workers > 1:
            owned = owned.filter(lambda position, _: (position // shard_size) % workers == worker)
        for positions, element in owned.batch(size).prefetch(1).as_numpy_iterator():
            batch = _fields(element if isinstance(element, tuple) else (element,))
            batch["positions"] = positions
            yield from _split_at_shards(batch, share.shard_size)


class FolderSource:
    """The image files of a folder and its subfolders, sorted, resized to the model input."""

    def __init__(self, folder, target_size):
        self.folder = pathlib.Path(os.fspath(folder))
        self.paths = image_files(folder, "dataset")
        self.target_size = target_size
        self.count = len(self.paths)
        self.has_labels = self.has_masks = False

    def batches(self, size, share):
        return _shard_batches(self, size, share)

    def read(self, start, stop):
        paths = self.paths[start:stop]
        images = np.stack([load_image(self.folder / p, self.target_size) for p in paths])
        return {"images": images, "paths": np.array(paths)}


def _shard_batches(source, size, share):
    """The batches of `share`'s shards of a source that reads any range of images: the other
    shards are skipped without being read."""
    for number in share.numbers(source.count):
        start = number * share.shard_size
        stop = min(start + share.shard_size, source.count)
        for first in range(start, stop, size):
            last = min(first + size, stop)
            batch = source.read(first, last)
            batch["positions"] = np.arange(first, last, dtype=np.int64)
            yield batch


def _split_at_shards(batch, shard_size):
    """`batch` cut wherever its images pass from one shard to the next."""
    numbers = batch["positions"] // shard_size
    cuts = np.flatnonzero(np.diff(numbers)) + 1
    for start, stop in zip([0, *cuts], [*cuts, len(numbers)]):
        yield {key: value[start:stop] for key, value in batch.items()}


def open_source(dataset, model):
    """Wraps any accepted `dataset` in a source; a folder is read at the model's input size."""
    if isinstance(dataset, tf.data.Dataset):
        return TensorFlowSource(dataset)
    if isinstance(dataset, (str, os.PathLike)):
        size = tuple(model.inputs[0].shape[1:3]) if getattr(model, "inputs", None) else (None, None)
        return FolderSource(dataset, None if None in size else size)
    if isinstance(dataset, (tuple, list)):
        return ArraySource(dataset)
    if isinstance(dataset, np.ndarray) or tf.is_tensor(dataset):
        return ArraySource([dataset])
    raise TypeError(expected("dataset", _WHAT, dataset))
