"""The inputs of a data stream that activate a channel most, with crops and deconvnet projections.

The stream is read once, batch by batch, through one compiled forward pass; a running top-k per
channel (values, dataset indices, positions and the images themselves) is all that is kept, so the
dataset is never held in memory. The winners' projections are then computed in one batched
deconvnet call.
"""

import dataclasses
import warnings

import numpy as np
import tensorflow as tf

from keras_vis._checks import check_choice, check_flag, check_positive_int, describe, expected
from keras_vis.batches import to_float_batch
from keras_vis.deconv._arguments import channel_count, channel_indices, single_input, spatial_layer
from keras_vis.deconv.receptive_field import ReceptiveField, UnsupportedLayer, receptive_field
from keras_vis.deconv.reconstruction import KeptActivation, project
from keras_vis.engine import get_engine
from keras_vis.pixels import scale_each_to_uint8, tile, to_uint8_by_range
from keras_vis.progress import Bar

PANEL_CONTENTS = ("both", "projections", "crops", "images")


@dataclasses.dataclass(frozen=True, eq=False)
class TopActivations:
    """The top-k inputs per channel. Arrays are indexed `[row, rank]`, where `row` follows
    `channels` and rank 0 is the strongest.

    Attributes:
        layer: the layer's name.
        channels: int32 `(K,)`, the channels, in the order asked for.
        values: float32 `(K, k)`, each input's maximum activation in the channel, descending.
        indices: int64 `(K, k)`, the inputs' positions in the dataset.
        positions: int32 `(K, k, 2)`, `(y, x)` of the maximum in the feature map.
        images: float32 `(K, k, H, W, C)`, the inputs, in input units.
        projections: float32 `(K, k, H, W, C)`, their deconvnet projections of that maximum.
        boxes: int32 `(K, k, 4)`, `(top, left, bottom, right)` crop windows holding the
            maximum's receptive field (shifted inside the image near borders; bottom/right
            exclusive).
        crops: float32 `(K, k, h, w, C)`, the inputs cut to `boxes`.
        projection_crops: float32 `(K, k, h, w, C)`, the projections cut to `boxes`.
        receptive_field: the layer's `ReceptiveField`, or `None` if unknown (crops are then the
            whole images).
        count: the number of inputs read.
    """

    layer: str
    channels: np.ndarray
    values: np.ndarray
    indices: np.ndarray
    positions: np.ndarray
    images: np.ndarray
    projections: np.ndarray
    boxes: np.ndarray
    crops: np.ndarray
    projection_crops: np.ndarray
    receptive_field: ReceptiveField
    count: int

    @property
    def k(self):
        return self.values.shape[1]

    def row(self, channel):
        """The row of the arrays that holds `channel`."""
        is_int = isinstance(channel, (int, np.integer)) and not isinstance(channel, bool)
        rows = np.flatnonzero(self.channels == channel) if is_int else []
        if len(rows) == 0:
            raise ValueError(
                expected("channel", f"one of the channels collected, {self.channels.tolist()}",
                         channel)
            )
        return int(rows[0])

    def panel(self, channel, *, show="both", cols=None, pad=2):
        """The classic panel of a channel's top inputs as one uint8 image (plain numpy).

        Args:
            channel: one of `channels`.
            show: `"projections"` (projection crops, each min-max scaled), `"crops"` (input crops),
                `"images"` (whole inputs), or `"both"`: projections left of crops, as in the
                deconvnet write-up.
            cols: tiles per row; default ceil(sqrt(k)), so k=9 gives 3×3.
            pad: pixels of white between tiles.

        Returns:
            uint8 array `(height, width, C)`.
        """
        row = self.row(channel)
        check_choice(show, "show", PANEL_CONTENTS)
        if show == "both":
            left = self.panel(channel, show="projections", cols=cols, pad=pad)
            right = self.panel(channel, show="crops", cols=cols, pad=pad)
            gap = np.full((left.shape[0], 4 * max(pad, 1), left.shape[2]), 255, np.uint8)
            return np.concatenate([left, gap, right], axis=1)
        if show == "projections":
            tiles = scale_each_to_uint8(self.projection_crops[row])
        else:
            tiles = to_uint8_by_range(self.crops[row] if show == "crops" else self.images[row])
        return tile(tiles, cols=cols, pad=pad)

    def __repr__(self):
        return (
            f"TopActivations(layer={self.layer!r}, channels={self.channels.tolist()}, k={self.k}, "
            f"count={self.count})"
        )


class _RunningTop:
    """Top-k per channel over batches: values, dataset indices, positions and images."""

    def __init__(self, channels, k):
        self.channels = channels
        self.k = k
        self.count = 0
        self.values = np.zeros((len(channels), 0), np.float32)
        self.indices = np.zeros((len(channels), 0), np.int64)
        self.positions = np.zeros((len(channels), 0, 2), np.int32)
        self.images = None

    def add(self, images, activations):
        batch, height, width, _ = activations.shape
        flat = activations[..., self.channels].reshape(batch, height * width, len(self.channels))
        at_max = flat.argmax(axis=1)
        values = np.take_along_axis(flat, at_max[:, None, :], axis=1)[:, 0, :].T
        positions = np.stack(np.unravel_index(at_max.T, (height, width)), axis=-1)
        indices = np.broadcast_to(self.count + np.arange(batch), values.shape)
        if self.images is None:
            self.images = np.zeros((len(self.channels), 0) + images.shape[1:], np.float32)
        elif images.shape[1:] != self.images.shape[2:]:
            raise ValueError(
                expected("dataset", f"images of one size, {self.images.shape[2:]}", images,
                         f"Input {self.count} has shape {images.shape[1:]}.")
            )
        kept = self.values.shape[1]
        # A stable sort on the existing entries first keeps the earlier input on ties.
        values = np.concatenate([self.values, values], axis=1)
        order = np.argsort(-values, axis=1, kind="stable")[:, : self.k]
        self.values = np.take_along_axis(values, order, 1)
        self.indices = np.take_along_axis(np.concatenate([self.indices, indices], axis=1), order, 1)
        both = np.concatenate([self.positions, positions.astype(np.int32)], axis=1)
        self.positions = np.take_along_axis(both, order[..., None], 1)
        rows = np.broadcast_to(np.arange(len(self.channels))[:, None], order.shape)
        old = order < kept
        chosen = np.empty(order.shape + images.shape[1:], np.float32)
        chosen[old] = self.images[rows[old], order[old]]
        chosen[~old] = images[order[~old] - kept]
        self.images = chosen
        self.count += batch


def _batches(dataset, model, batch_size):
    """Yields float32 image batches from an array, a tensor or a `tf.data.Dataset` of images or of
    `(image, label, ...)` tuples, batched or not."""
    if isinstance(dataset, tf.data.Dataset):
        spec = dataset.element_spec
        paired = isinstance(spec, (tuple, list))
        spec = spec[0] if paired else spec
        if not isinstance(spec, tf.TensorSpec):
            raise TypeError(
                expected("dataset", "a tf.data.Dataset of images or of (image, label) tuples",
                         dataset, f"Its elements are {describe(dataset.element_spec)}.")
            )
        rank = len(model.inputs[0].shape)
        if spec.shape.rank == rank - 1:
            dataset = dataset.batch(batch_size)
        elif spec.shape.rank not in (None, rank):
            raise ValueError(
                expected("dataset", f"elements of rank {rank - 1} (images) or {rank} (batches)",
                         dataset, f"Its images have shape {tuple(spec.shape)}.")
            )
        for element in dataset:
            yield to_float_batch(element[0] if paired else element, model, "dataset")
        return
    if dataset is None or isinstance(dataset, (str, bytes, dict)) or not hasattr(dataset, "__len__"):
        raise TypeError(
            expected("dataset", "an array, a tensor or a tf.data.Dataset of images", dataset)
        )
    for start in range(0, len(dataset), batch_size):
        yield to_float_batch(dataset[start:start + batch_size], model, "dataset")


def _image_count(dataset):
    """The number of images of an array or tensor; `None` for a `tf.data.Dataset`."""
    if isinstance(dataset, tf.data.Dataset) or not hasattr(dataset, "__len__"):
        return None
    return len(dataset)


def _field_or_whole_image(model, layer, input_size):
    try:
        return receptive_field(model, layer, input_size=input_size), True
    except UnsupportedLayer as error:
        warnings.warn(f"{error} The crops are the whole images.", stacklevel=3)
        whole = ReceptiveField(input_size, (0, 0), (0, 0), input_size, input_size)
        return whole, False


def _crop(images, boxes):
    flat_images = images.reshape((-1,) + images.shape[2:])
    flat_boxes = boxes.reshape(-1, 4)
    crops = np.stack([image[t:b, l:r] for image, (t, l, b, r) in zip(flat_images, flat_boxes)])
    return crops.reshape(images.shape[:2] + crops.shape[1:])


def top_activations(model, dataset, layer, channels=None, k=9, *, batch_size=32, progress=True):
    """Finds the k inputs that activate each channel of `layer` most, with crops and projections.

    Streams `dataset` once (only the running top-k is kept), ranks inputs by the maximum of each
    channel's feature map, cuts each winner to the receptive field of that maximum, and projects
    the maximum back to pixels with `deconvnet` — the material of the classic 3×3 panels
    (`result.panel(channel)`).

    Args:
        model: a built single-input `keras.Model` (nested models are followed).
        dataset: a numpy array or tensor `(N, H, W, C)`, or a `tf.data.Dataset` of images or of
            `(image, label)` tuples, batched or not.
        layer: name, index or object of a layer with a spatial output.
        channels: an int or a list of distinct ints; `None` for every channel of the layer.
        k: inputs to keep per channel (fewer if the dataset is smaller).
        batch_size: images per compiled call (and per batch of an unbatched dataset).
        progress: show a progress bar on stderr, over the images read, if reading the dataset
            takes more than a couple of seconds (see `keras_vis.progress`).

    Returns:
        A `TopActivations` result.

    Raises:
        ValueError: for a layer without spatial output, a channel outside the layer's channels,
            `k < 1`, an empty dataset, or images the model cannot take.
        TypeError: for a dataset that is not an array, tensor or `tf.data.Dataset`.
    """
    single_input(model)
    layer = spatial_layer(model, layer)
    if channels is None:
        if channel_count(layer) is None:
            raise ValueError(expected("channels", "given for a layer of unknown width", None))
        channels = np.arange(channel_count(layer), dtype=np.int32)
    else:
        channels = channel_indices(layer, channels, "channels")
        if len(set(channels.tolist())) != len(channels):
            raise ValueError(expected("channels", "distinct channel indices", channels.tolist()))
    k = check_positive_int(k, "k")
    batch_size = check_positive_int(batch_size, "batch_size")
    progress = check_flag(progress, "progress")

    engine = get_engine(
        model, [layer], KeptActivation(layer), input_grads=False, taps_only=True
    )
    top = _RunningTop(channels, k)
    with Bar(_image_count(dataset), "top activations", unit="images", enabled=progress) as bar:
        for images in _batches(dataset, model, batch_size):
            activations = engine([images], batch_size=batch_size)["activations"][0]
            top.add(images, activations)
            bar.advance(len(images))
    if top.count == 0:
        raise ValueError(expected("dataset", "a dataset with at least one image", dataset))

    shape = top.images.shape
    flat_images = top.images.reshape((-1,) + shape[2:])
    flat_channels = np.repeat(channels, shape[1]).astype(np.int32)
    projections = project(model, flat_images, layer, flat_channels, "max", batch_size)
    projections = projections.images.reshape(shape)

    field, known = _field_or_whole_image(model, layer, shape[2:4])
    boxes = np.array(
        [[field.window(position) for position in row] for row in top.positions], np.int32
    )
    return TopActivations(
        layer=layer.name,
        channels=channels,
        values=top.values.astype(np.float32),
        indices=top.indices.copy(),
        positions=top.positions,
        images=top.images,
        projections=projections,
        boxes=boxes,
        crops=_crop(top.images, boxes),
        projection_crops=_crop(projections, boxes),
        receptive_field=field if known else None,
        count=top.count,
    )
