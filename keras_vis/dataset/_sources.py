"""The kinds of dataset `explain_dataset` reads, streamed as numpy batches.

Every source yields dicts with `images` `(n, H, W, C)` and, where the dataset has them, `labels`
`(n,)` int, `masks` `(n, H, W)` and `paths` `(n,)`; `n` is the requested batch size except for the
last batch. Nothing larger than one batch is held in memory.
"""

import os
import pathlib

import numpy as np
import tensorflow as tf

from keras_vis._checks import expected

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
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

    def batches(self, size):
        for start in range(0, self.count, size):
            yield _fields([p[start:start + size] for p in self.parts])


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

    def batches(self, size):
        for element in self.dataset.batch(size).prefetch(1).as_numpy_iterator():
            yield _fields(element if isinstance(element, tuple) else (element,))


class FolderSource:
    """The image files of a folder and its subfolders, sorted, resized to the model input."""

    def __init__(self, folder, target_size):
        self.folder = pathlib.Path(os.fspath(folder))
        if not self.folder.is_dir():
            raise ValueError(expected("dataset", "an existing folder of images", str(self.folder)))
        self.paths = sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*")
                            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.paths:
            suffixes = ", ".join(IMAGE_SUFFIXES)
            raise ValueError(expected("dataset", f"a folder holding image files ({suffixes})",
                                      str(self.folder)))
        self.target_size = target_size
        self.count = len(self.paths)
        self.has_labels = self.has_masks = False

    def batches(self, size):
        from keras_vis.io import load_image

        for start in range(0, self.count, size):
            paths = self.paths[start:start + size]
            images = np.stack([load_image(self.folder / p, self.target_size) for p in paths])
            yield {"images": images, "paths": np.array(paths)}


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


def aligned(batches, batch_size, shard_size):
    """Re-cuts `batches` so that no batch straddles a shard boundary (every `shard_size` images)."""
    position = 0
    for batch in batches:
        count = len(batch["images"])
        start = 0
        while start < count:
            take = min(count - start, batch_size, shard_size - position % shard_size)
            yield {key: value[start:start + take] for key, value in batch.items()}
            start += take
            position += take
