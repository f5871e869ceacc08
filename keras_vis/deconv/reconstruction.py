"""Zeiler–Fergus deconvnet reconstruction.

A deconvnet attached to a layer takes one feature map, keeps its maximum (or the whole map), zeroes
every other activation of the layer, and maps the result down to pixels block after block: unpooling
through the max-pool switches, ReLU, transposed convolution with the layer's own filters.

That projection is the input-gradient of `sum(kept * activation)`, with `kept` held constant, when
every rectifier's backward pass is `relu(upstream)` (the `keras_vis.rules.DECONVNET` composite, which
takes swish or GELU for the ReLU of networks that use them): max-pool's
gradient routes each value to its window's switch (summing where overlapping windows share one), a
convolution's input-gradient is the transposed convolution with its kernel, and biases drop out. If
the chosen layer has a fused ReLU, the kept map passes that ReLU backward (rectified) before the
layer's transposed convolution, as in the write-up. So one compiled, batched engine call does it,
with the per-image channel fed as data.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_vis._checks import check_choice, check_positive_int
from keras_vis.batches import to_float_batch
from keras_vis.deconv._arguments import channel_indices, single_input, spatial_layer
from keras_vis.engine import get_engine
from keras_vis.pixels import scale_each_to_uint8
from keras_vis.rules import DECONVNET
from keras_vis.targets import Target

KEEP_MODES = ("max", "all")
STRONGEST = -1  # channel index meaning "the channel with the largest maximum", resolved in the graph


def _first_argmax(values):
    """Index of the first maximum along axis 1 of a `(N, K)` tensor, the same tie rule as
    `np.argmax`, so the positions reported from numpy match the ones kept in the graph."""
    count = tf.shape(values)[1]
    is_max = values >= tf.reduce_max(values, axis=1, keepdims=True)
    first = tf.reduce_min(tf.where(is_max, tf.range(count)[None, :], count), axis=1)
    return tf.minimum(first, count - 1)


def kept_map(activation, channel, keep):
    """The part of `activation` `(N, H, W, C)` the deconvnet projects: channel `channel[i]` of image
    `i` (`STRONGEST`: the channel with the largest maximum), only at its first maximum for
    `keep="max"`, zero everywhere else."""
    shape = tf.shape(activation)
    count, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    strongest = _first_argmax(tf.reduce_max(activation, axis=[1, 2]))
    channel = tf.where(channel < 0, strongest, channel)
    feature_map = tf.gather(activation, channel, axis=3, batch_dims=1)
    if keep == "max":
        flat = tf.reshape(feature_map, (count, height * width))
        at_max = tf.range(height * width)[None, :] == _first_argmax(flat)[:, None]
        feature_map = tf.reshape(tf.where(at_max, flat, 0.0), (count, height, width))
    in_channel = tf.range(channels)[None, None, None, :] == channel[:, None, None, None]
    return tf.where(in_channel, feature_map[..., None], 0.0)


class KeptActivation(Target):
    """The score `sum(kept * activation)` of `layer`, `kept` held constant, so its gradient at the
    layer is the kept map itself. The per-image channel comes in the `class_index` slot, as data.

    Args:
        layer: the layer object (already found in the model).
        keep: `"max"` or `"all"`.
    """

    def __init__(self, layer, keep="max"):
        self.layer = layer
        self.keep = keep

    @property
    def layers(self):
        return (self.layer,)

    def resolve(self, model):
        return [self.layer]

    def key(self):
        return ("KeptActivation", id(self.layer), self.keep)

    def score(self, outputs, activations, class_index):
        activation = tf.cast(activations[0], tf.float32)
        kept = tf.stop_gradient(kept_map(activation, class_index, self.keep))
        return tf.reduce_sum(kept * activation, axis=[1, 2, 3])


@dataclasses.dataclass(frozen=True, eq=False)
class Reconstruction:
    """Deconvnet projections of a batch of images.

    Behaves as the `(N, H, W, C)` uint8 `display` array (`np.asarray(result)`), and has `titles`,
    so `keras_vis.plot.grid(result, titles=result.titles)` shows it directly.

    Attributes:
        images: float32 `(N, H, W, C)` projections in input units (C: the model's input channels).
        display: uint8 `(N, H, W, C)`, each projection min-max scaled to 0–255 as in the write-up.
        values: float32 `(N,)`, the activation the projection starts from: the maximum of the
            chosen feature map.
        channels: int32 `(N,)`, the channel projected for each image.
        positions: int32 `(N, 2)`, `(y, x)` of that maximum in the feature map.
        layer: the layer's name.
        keep: `"max"` (only the maximum was projected) or `"all"` (the whole feature map).
    """

    images: np.ndarray
    display: np.ndarray
    values: np.ndarray
    channels: np.ndarray
    positions: np.ndarray
    layer: str
    keep: str

    def __len__(self):
        return len(self.images)

    def __array__(self, dtype=None, copy=None):
        return self.display if dtype is None else self.display.astype(dtype)

    @property
    def titles(self):
        """One short caption per image: channel, position and value of the maximum."""
        return [
            f"ch {c} @ ({y}, {x}): {v:.3g}"
            for c, (y, x), v in zip(self.channels, self.positions, self.values)
        ]

    def __repr__(self):
        return (
            f"Reconstruction(layer={self.layer!r}, keep={self.keep!r}, images={len(self)}, "
            f"shape={self.images.shape[1:]})"
        )


def _selection(activations, channels):
    """The numpy mirror of `kept_map`'s choice: channel, position and value of the kept maximum."""
    count, height, width, _ = activations.shape
    strongest = activations.max(axis=(1, 2)).argmax(axis=1)
    chosen = np.where(channels < 0, strongest, channels).astype(np.int32)
    feature_maps = np.take_along_axis(activations, chosen[:, None, None, None], axis=3)
    flat = feature_maps.reshape(count, height * width)
    at_max = flat.argmax(axis=1)
    positions = np.stack(np.unravel_index(at_max, (height, width)), axis=1).astype(np.int32)
    return chosen, positions, flat[np.arange(count), at_max]


def project(model, images, layer, channels, keep, batch_size):
    """Projects checked inputs: `images` a float32 batch, `layer` a spatial layer object,
    `channels` `(N,)` int32 (`STRONGEST` allowed). One compiled step, chunked by `batch_size`."""
    engine = get_engine(
        model, [layer], KeptActivation(layer, keep), composite=DECONVNET, taps_only=True
    )
    result = engine([images], channels, batch_size=batch_size)
    projections = result["input_grads"][0]
    chosen, positions, values = _selection(result["activations"][0], channels)
    return Reconstruction(
        images=projections,
        display=scale_each_to_uint8(projections),
        values=values.astype(np.float32),
        channels=chosen,
        positions=positions,
        layer=layer.name,
        keep=keep,
    )


def deconvnet(model, images, layer, *, channel=None, keep="max", batch_size=32):
    """Projects a feature map's activation back to pixel space the Zeiler–Fergus way.

    For each image, the chosen channel of `layer` keeps only its maximum (or, with `keep="all"`, its
    whole map), every other activation of the layer is set to zero, and the result is mapped down to
    the input through unpooling with the max-pool switches, ReLU and transposed convolution with the
    model's own filters. The model is not modified.

    Args:
        model: a built single-input `keras.Model` (nested models are followed).
        images: `(N, H, W, C)` array or tensor matching the model input, in the model's input units.
        layer: name, index or object of a layer with a spatial output `(N, h, w, c)`.
        channel: `None` for the channel with the strongest activation in each image (the viewer's
            default), an int for every image, or a list of one int per image.
        keep: `"max"` to project only the feature map's maximum, `"all"` for the whole map.
        batch_size: images per compiled call.

    Returns:
        A `Reconstruction`: `images` (float32 `(N, H, W, C)` projections), `display` (uint8, each
        rescaled to 0–255), `values`, `channels` and `positions` of the kept maxima.

    Raises:
        ValueError: for a subclassed or channels-first model, a layer without spatial output, a
            channel outside the layer's channels, a `keep` other than `"max"`/`"all"`, or images
            the model cannot take.
        TypeError: for a non-integer channel or a non-model.
    """
    single_input(model)
    layer = spatial_layer(model, layer)
    check_choice(keep, "keep", KEEP_MODES)
    batch_size = check_positive_int(batch_size, "batch_size")
    images = to_float_batch(images, model)
    if channel is None:
        channels = np.full((len(images),), STRONGEST, np.int32)
    else:
        channels = channel_indices(layer, channel, "channel", count=len(images))
    return project(model, images, layer, channels, keep, batch_size)
