"""What activation maximization maximizes: an immutable algebra of per-image objectives.

An `Objective` is a weighted sum of terms. Each term taps at most one layer (or the model output,
or the image itself) and yields one value per image:

    objective = channel("block3_conv1", range(64)) - 0.1 * total_variation()

Terms with a list of indices are *batched*: `channel(layer, range(64))` renders 64 images in one
batch, image `i` maximizing channel `i`; unbatched terms apply to every image. `+`, `-`, `*` and `/`
by numbers return new objectives and never change their operands.

Per-image indices and the term weights are fed to the compiled render step as data, so
`channel(layer, 3)` and `channel(layer, 7)` (or `0.1 * l2()` and `0.2 * l2()`) share one trace.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_vis._checks import check_number, expected
from keras_vis.layers import layer_of, output_shape
from keras_vis.targets import Channel, Class, Neuron


class Term:
    """One objective term: what it taps and how it turns that into a `(K,)` value.

    Subclasses set `kind` and may override the hooks below; `indices` is `None` or an int array of
    rank 0 (the same index for every image) or 1 (one index per image).
    """

    kind = "term"
    needs_outputs = False
    indices = None

    @property
    def layer(self):
        return None

    @property
    def count(self):
        """Number of images this term asks for, or `None` if it applies to any number."""
        if self.indices is None or self.indices.ndim == 0:
            return None
        return len(self.indices)

    def key(self):
        """Hashable structure of the term, without its per-image data."""
        return (self.kind,)

    def data(self, count):
        """The `(count,)` int32 per-image indices fed to the compiled step."""
        if self.indices is None:
            return np.zeros((count,), np.int32)
        return np.broadcast_to(self.indices, (count,)).astype(np.int32)

    def check(self, model):
        """Checks the term against `model` (layer exists, indices in range) before any tracing."""

    def check_shape(self, shape, border):
        """Checks the term against its tapped activation's shape at the requested image size."""

    def value(self, tapped, outputs, image, indices, border):
        """Returns the `(K,)` value.

        Args:
            tapped: the activation of `self.layer` (or `None`).
            outputs: list of the model's pre-softmax outputs (or `None` when not computed).
            image: the `(K, H, W, C)` image in [0, 1] units, before transforms.
            indices: `(K,)` int32 per-image indices.
            border: the render's default border band for spatial terms.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"{self.kind}()"


def _indices(index, name):
    if isinstance(index, (range, list, tuple, np.ndarray)) or tf.is_tensor(index):
        values = np.asarray(index)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(expected(name, "an int or a non-empty 1D list of ints", index))
    else:
        values = np.asarray(index)
        if values.ndim != 0:
            raise ValueError(expected(name, "an int or a non-empty 1D list of ints", index))
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(expected(name, "an int or a list of ints", index))
    values = values.astype(np.int64)
    values.setflags(write=False)
    return values


def _layer_ref(layer):
    if isinstance(layer, keras.layers.Layer):
        return layer.name
    if isinstance(layer, bool) or not isinstance(layer, (str, numbers.Integral)):
        raise TypeError(expected("layer", "a layer name, index or layer object", layer))
    return layer


def _index_text(indices):
    if indices.ndim == 0:
        return str(int(indices))
    if len(indices) > 4:
        return f"[{indices[0]}, {indices[1]}, ..., {indices[-1]}] ({len(indices)} images)"
    return str([int(i) for i in indices])


class _LayerTerm(Term):
    def __init__(self, layer, index):
        self._layer = _layer_ref(layer)
        self.indices = _indices(index, self.kind)

    @property
    def layer(self):
        return self._layer

    def _check_channels(self, model):
        # `targets.Channel` knows how to check an index against a layer's channel count.
        for index in {int(self.indices.min()), int(self.indices.max())}:
            Channel(self._layer, index).resolve(model)

    def _spatial_error(self, shape, what):
        return ValueError(
            expected("layer", f"a layer with a spatial output (N, H, W, C) for {what}",
                     self._layer,
                     f"Its output has shape {shape}. For a unit of a dense layer use "
                     f"`objectives.neuron({self._layer!r}, k)`.")
        )


class ChannelTerm(_LayerTerm):
    """Mean activation of a channel over a layer's feature map, minus a border band."""

    kind = "channel"

    def __init__(self, layer, index, border=None):
        super().__init__(layer, index)
        self.border = None if border is None else int(
            check_number(border, "border", low=0)
        )

    def key(self):
        return (self.kind, self._layer, self.border)

    def check(self, model):
        shape = output_shape(layer_of(model, self._layer))
        if shape is None or len(shape) != 4:
            raise self._spatial_error(shape, "a channel objective")
        self._check_channels(model)

    def check_shape(self, shape, border):
        band = border if self.border is None else self.border
        if min(shape[1:3]) <= 2 * band:
            raise TooSmall(
                f"layer '{self._layer}' gives a {shape[1]}×{shape[2]} map, which a border band of "
                f"{band} px leaves empty"
            )

    def value(self, tapped, outputs, image, indices, border):
        band = border if self.border is None else self.border
        if band:
            tapped = tapped[:, band:-band, band:-band, :]
        maps = tf.gather(tf.cast(tapped, tf.float32), indices, axis=3, batch_dims=1)
        return tf.reduce_mean(maps, axis=[1, 2])

    def __repr__(self):
        border = "" if self.border is None else f", border={self.border}"
        return f"channel({self._layer!r}, {_index_text(self.indices)}{border})"


class NeuronTerm(_LayerTerm):
    """One unit of a layer: channel `index` at `position` (the centre of the map when `None`)."""

    kind = "neuron"

    def __init__(self, layer, index, position=None):
        super().__init__(layer, index)
        if position is not None:
            if (not isinstance(position, (tuple, list)) or len(position) != 2
                    or not all(isinstance(p, numbers.Integral) and not isinstance(p, bool)
                               for p in position)):
                raise TypeError(expected("position", "None or a (y, x) pair of ints", position))
            if min(position) < 0:
                raise ValueError(expected("position", "a (y, x) pair of non-negative ints",
                                          position))
            position = (int(position[0]), int(position[1]))
        self.position = position

    def key(self):
        return (self.kind, self._layer, self.position)

    def check(self, model):
        shape = output_shape(layer_of(model, self._layer))
        if shape is None or len(shape) not in (2, 4):
            raise ValueError(
                expected("layer", "a layer with an output of shape (N, C) or (N, H, W, C)",
                         self._layer, f"Its output has shape {shape}.")
            )
        if self.position is not None and len(shape) != 4:
            raise self._spatial_error(shape, "a neuron at a position")
        self._check_channels(model)

    def check_shape(self, shape, border):
        if self.position is not None and not all(
            p < size for p, size in zip(self.position, shape[1:3])
        ):
            raise ValueError(
                expected("position", f"inside the {shape[1]}×{shape[2]} map of layer "
                         f"'{self._layer}' at this image size", self.position)
            )

    def value(self, tapped, outputs, image, indices, border):
        tapped = tf.cast(tapped, tf.float32)
        if tapped.shape.rank == 4:
            if self.position is None:
                y, x = tf.shape(tapped)[1] // 2, tf.shape(tapped)[2] // 2
            else:
                y, x = self.position
            tapped = tapped[:, y, x, :]
        return tf.gather(tapped, indices, axis=1, batch_dims=1)

    def __repr__(self):
        position = "" if self.position is None else f", {self.position}"
        return f"neuron({self._layer!r}, {_index_text(self.indices)}{position})"


class ClassLogitTerm(Term):
    """A class score before the output softmax (the "linear swap")."""

    kind = "class_logit"
    needs_outputs = True

    def __init__(self, index, output=0):
        self.indices = _indices(index, "class_index")
        if isinstance(output, bool) or not isinstance(output, numbers.Integral):
            raise TypeError(expected("output", "an int", output))
        self.output = int(output)

    def key(self):
        return (self.kind, self.output)

    def check(self, model):
        values = self.indices if self.indices.ndim else self.indices[None]
        Class(values, output=self.output).class_indices(model, len(values))

    def value(self, tapped, outputs, image, indices, border):
        logits = tf.cast(outputs[self.output], tf.float32)
        logits = tf.reshape(logits, (tf.shape(logits)[0], -1))
        return tf.gather(logits, indices, axis=1, batch_dims=1)

    def __repr__(self):
        output = f", output={self.output}" if self.output else ""
        return f"class_logit({_index_text(self.indices)}{output})"


class TotalVariationTerm(Term):
    """Mean absolute difference between neighbouring pixels, vertical plus horizontal."""

    kind = "total_variation"

    def value(self, tapped, outputs, image, indices, border):
        vertical = tf.reduce_mean(tf.abs(image[:, 1:] - image[:, :-1]), axis=[1, 2, 3])
        horizontal = tf.reduce_mean(tf.abs(image[:, :, 1:] - image[:, :, :-1]), axis=[1, 2, 3])
        return vertical + horizontal


class L2Term(Term):
    """Mean squared distance of the pixels from mid-grey (0.5)."""

    kind = "l2"

    def value(self, tapped, outputs, image, indices, border):
        return tf.reduce_mean(tf.square(image - 0.5), axis=[1, 2, 3])


class TooSmall(ValueError):
    """A tapped map is too small at the requested size (turned into a minimum-size error)."""


class Objective:
    """An immutable weighted sum of `Term`s; combine with `+`, `-`, and `*` or `/` by numbers."""

    __slots__ = ("_terms",)

    def __init__(self, terms):
        object.__setattr__(self, "_terms", tuple((float(w), t) for w, t in terms))

    def __setattr__(self, name, value):
        raise AttributeError("Objectives are immutable; build new ones with +, - and *.")

    @property
    def terms(self):
        """Tuple of `(weight, Term)` pairs."""
        return self._terms

    @property
    def count(self):
        """Number of images the batched terms ask for (`None` if no term is batched).

        Raises:
            ValueError: if batched terms ask for different numbers of images.
        """
        counts = {t.count for _, t in self._terms if t.count is not None}
        if len(counts) > 1:
            raise ValueError(
                expected("objective", "batched terms of one length (one index per image)", self,
                         f"Its terms ask for {sorted(counts)} images.")
            )
        return counts.pop() if counts else None

    @property
    def needs_outputs(self):
        return any(t.needs_outputs for _, t in self._terms)

    def key(self):
        return tuple(t.key() for _, t in self._terms)

    def weights(self):
        return np.array([w for w, _ in self._terms], np.float32)

    def data(self, count):
        """`(count, T)` int32: the per-image indices of every term."""
        return np.stack([t.data(count) for _, t in self._terms], axis=1)

    def __add__(self, other):
        if isinstance(other, numbers.Number) and other == 0:
            return self  # lets `sum(objectives)` work
        if not isinstance(other, Objective):
            return NotImplemented
        return Objective(self._terms + other._terms)

    __radd__ = __add__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        if not isinstance(other, Objective):
            return NotImplemented
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, factor):
        if isinstance(factor, Objective):
            raise TypeError(
                "Expected `factor` to be a number. Received: an objective. Objectives can be "
                "added and scaled, not multiplied together."
            )
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            return NotImplemented
        factor = check_number(factor, "factor")
        return Objective((w * factor, t) for w, t in self._terms)

    __rmul__ = __mul__

    def __truediv__(self, divisor):
        if isinstance(divisor, bool) or not isinstance(divisor, numbers.Real):
            return NotImplemented
        divisor = check_number(divisor, "divisor")
        if divisor == 0:
            raise ValueError(expected("divisor", "a non-zero number", divisor))
        return self * (1.0 / divisor)

    def __repr__(self):
        parts = []
        for weight, term in self._terms:
            sign = "-" if weight < 0 else "+"
            size = abs(weight)
            text = repr(term) if size == 1 else f"{size:g} * {term!r}"
            parts.append((sign, text))
        first_sign, first = parts[0]
        text = ("-" if first_sign == "-" else "") + first
        return text + "".join(f" {s} {t}" for s, t in parts[1:])


def channel(layer, index, border=None):
    """Maximize the mean activation of a channel of a convolutional layer.

    Args:
        layer: a layer name (`"vgg16/block3_conv1"` for a nested one), index or layer object.
        index: a channel, or a list of channels (e.g. `range(64)`) to render one image per channel
            in a single batch.
        border: pixels of border band of the feature map to leave out of the mean; `None` uses
            `maximize(border=...)` (the Keras filter-visualization recipe uses 2).

    Returns:
        An `Objective`.
    """
    return Objective([(1.0, ChannelTerm(layer, index, border))])


def neuron(layer, index, position=None):
    """Maximize one unit of a layer: channel `index` at `position`.

    Args:
        layer: a layer name, index or layer object; a convolutional or a dense layer.
        index: a channel (unit), or a list of them to render one image per unit.
        position: `(y, x)` in the layer's feature map at the rendered size; `None` means the centre
            of the map (required to be `None` for a dense layer).

    Returns:
        An `Objective`.
    """
    return Objective([(1.0, NeuronTerm(layer, index, position))])


def class_logit(index, output=0):
    """Maximize a class score before the output softmax (the softmax is swapped for linear).

    Args:
        index: a class, or a list of classes to render one image per class.
        output: which output of a multi-output model.

    Returns:
        An `Objective`.
    """
    return Objective([(1.0, ClassLogitTerm(index, output))])


def total_variation():
    """A penalty: the mean absolute difference between neighbouring pixels (in [0, 1] units).

    Subtract it to smooth the image: `channel(layer, k) - 0.5 * total_variation()`.
    """
    return Objective([(1.0, TotalVariationTerm())])


def l2():
    """A penalty: the mean squared distance of the pixels from mid-grey (in [0, 1] units).

    Subtract it to keep colours moderate: `class_logit(k) - 1.0 * l2()`.
    """
    return Objective([(1.0, L2Term())])


def as_objective(objective):
    """Turns an `Objective`, a `keras_vis.targets` object or a class index into an `Objective`.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(objective, Objective):
        return objective
    if isinstance(objective, Channel):
        return channel(objective.layer, objective.index, objective.border or None)
    if isinstance(objective, Neuron):
        if objective.position is not None and len(objective.position) != 2:
            raise ValueError(expected("position", "None or a (y, x) pair", objective.position))
        return neuron(objective.layer, objective.index, objective.position)
    if isinstance(objective, Class) and objective.index is not None:
        return class_logit(objective.index, objective.output)
    if isinstance(objective, (numbers.Integral, np.integer)) and not isinstance(objective, bool):
        return class_logit(int(objective))
    raise TypeError(
        expected("objective", "an objective (e.g. `objectives.channel(layer, k)`), a "
                 "`keras_vis.Channel`/`Neuron`/`Class` target or a class index", objective,
                 None if objective is not None else "Say what to maximize.")
    )


__all__ = [
    "Objective",
    "Term",
    "as_objective",
    "channel",
    "class_logit",
    "l2",
    "neuron",
    "total_variation",
]
