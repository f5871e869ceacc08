"""Activation vectors of a dataset at one layer, sampled from each image's feature map, streamed.

Only the sampled vectors are kept: a dataset of any length is read one batch at a time.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_vis import engine
from keras_vis._checks import expected
from keras_vis.batches import to_float_batch
from keras_vis.dataset._sources import Share, open_source
from keras_vis.progress import Bar
from keras_vis.targets import Class

SAMPLINGS = ("activation", "uniform")
_ONE_SHARD = Share(shard_size=2**62)  # the whole dataset, read in order by one process


@dataclasses.dataclass(frozen=True)
class Samples:
    """Activation vectors sampled from a dataset.

    Attributes:
        vectors: float32 `(n, C)`.
        images: int64 `(n,)`, the dataset position of each vector's image.
        positions: int32 `(n, 2)`, the `(y, x)` of each vector in its feature map (`(0, 0)` for
            a dense layer).
        classes: int32 `(n,)`, the class the model predicts for each vector's image.
        image_count: how many images were read.
    """

    vectors: np.ndarray
    images: np.ndarray
    positions: np.ndarray
    classes: np.ndarray
    image_count: int


def _chosen_positions(activations, count, sampling, rng):
    """`count` distinct flat positions of each image's map, drawn with probability proportional
    to the squared norm of their activation vector (`"activation"`) or uniformly, by the
    Gumbel-top-k trick (sampling without replacement in one vectorized draw)."""
    flat = activations.reshape(len(activations), -1, activations.shape[-1])
    if sampling == "activation":
        weights = np.square(flat).sum(axis=-1, dtype=np.float64)
        # An image with a silent map has no preferred position: uniform over it.
        weights[weights.sum(axis=1) == 0] = 1.0
    else:
        weights = np.ones(flat.shape[:2])
    with np.errstate(divide="ignore"):
        keys = np.log(weights) + rng.gumbel(size=weights.shape)
    return np.argsort(-keys, axis=1, kind="stable")[:, :count], flat


def _predicted(model, outputs, count):
    """Each image's predicted class, or -1 for a model whose output is not a class score."""
    if outputs[0].ndim < 2:
        return np.full(count, -1, np.int32)
    return Class().predicted_classes(model, outputs[0], "model")


def collect(model, dataset, layer, *, samples_per_image, sampling, batch_size, preprocess, rng,
            progress):
    """Streams `dataset` through `model` and samples activation vectors at `layer`.

    Args:
        model: the model.
        dataset: anything `keras_vis.dataset` reads (array, tuple of arrays, `tf.data.Dataset`,
            folder).
        layer: the resolved layer object.
        samples_per_image: vectors drawn from each image's map (all positions if it has fewer).
        sampling: `"activation"` or `"uniform"`.
        batch_size: images per forward pass.
        preprocess: `None` or the function the model's inputs need.
        rng: the `numpy.random.Generator` the positions are drawn with.
        progress: show a progress bar over the images.

    Returns:
        `Samples`.
    """
    source = open_source(dataset, model)
    vectors, images, positions, classes = [], [], [], []
    read = 0
    with Bar(source.count, "atlas: activations", unit="images", enabled=progress) as bar:
        for batch in source.batches(batch_size, _ONE_SHARD):
            inputs = to_float_batch(batch["images"], model, "images")
            if preprocess is not None:
                inputs = np.asarray(preprocess(tf.constant(inputs)), np.float32)
            result = engine.run(model, inputs, None, taps=[layer], head="model",
                                input_grads=False, batch_size=batch_size)
            activations = np.asarray(result.activations[0], np.float32)
            n = len(inputs)
            predicted = _predicted(model, result.outputs, n)
            if activations.ndim == 4:
                height, width = activations.shape[1:3]
                chosen, flat = _chosen_positions(activations, samples_per_image, sampling, rng)
                per_image = chosen.shape[1]
                vectors.append(np.take_along_axis(flat, chosen[..., None], axis=1)
                               .reshape(-1, flat.shape[-1]))
                positions.append(np.stack([chosen // width, chosen % width], -1).reshape(-1, 2))
            elif activations.ndim == 2:
                per_image = 1
                vectors.append(activations)
                positions.append(np.zeros((n, 2), np.int64))
            else:
                raise ValueError(
                    expected("layer", "a layer with a spatial (N, H, W, C) or vector (N, C) "
                             "output", f"'{layer.name}' with output shape "
                             f"{tuple(activations.shape)}")
                )
            images.append(np.repeat(batch["positions"], per_image))
            classes.append(np.repeat(predicted, per_image))
            read += n
            bar.advance(n)
    if not vectors:
        raise ValueError(expected("images", "a dataset with at least one image", "none"))
    return Samples(
        vectors=np.concatenate(vectors).astype(np.float32),
        images=np.concatenate(images).astype(np.int64),
        positions=np.concatenate(positions).astype(np.int32),
        classes=np.concatenate(classes).astype(np.int32),
        image_count=read,
    )


def check_layer(layer):
    """Refuses an input layer, whose 'activations' are the images themselves."""
    if isinstance(layer, keras.layers.InputLayer):
        raise ValueError(expected("layer", "a layer after the input", layer.name,
                                  "The input layer's output is the images themselves."))
