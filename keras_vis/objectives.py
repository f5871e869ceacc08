"""What is scored: an immutable algebra of per-image objectives, which activation maximization
maximizes and attribution methods explain.

An `Objective` is a weighted sum of terms. Each term taps at most one layer (or the model output,
or the image itself) and yields one value per image:

    objective = channel("block3_conv1", range(64)) - 0.1 * total_variation()

Terms with a list of indices are *batched*: `channel(layer, range(64))` renders 64 images in one
batch, image `i` maximizing channel `i`; unbatched terms apply to every image. `+`, `-`, `*` and `/`
by numbers return new objectives and never change their operands.

Per-image indices, per-image float data (the vectors of `direction`, the blend of
`channel_interpolate`, the target activations of an inversion) and the term weights are fed to the
compiled render step as data, so `channel(layer, 3)` and `channel(layer, 7)`, two `direction`s
with vectors of one length, or `0.1 * l2()` and `0.2 * l2()` share one trace.

Most terms score each image on its own; `diversity` compares the images of a batch with each
other, so an objective holding it renders all its images in one batch.

Every objective is an attribution target too: `keras_vis.saliency(model, images,
direction(layer, v))` answers which pixels make each image excite the direction. `Channel` and
`Neuron`, the targets of an inner layer, are its one-term objectives `channel` and `neuron`. The
terms that read the rendered image (`total_variation`, `l2`) or the other images of a batch
(`diversity`) are refused as targets.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_vis._checks import check_number, check_positive_int, expected
from keras_vis.layers import layer_of, output_shape, tapped_layer
from keras_vis.targets import Class, Target, batch_count


class Term:
    """One objective term: what it taps and how it turns that into a `(K,)` value.

    Subclasses set `kind` and may override the hooks below; `indices` is `None` or an int array of
    rank 0 (the same index for every image) or 1 (one index per image). A term with float data
    sets `float_shape` (the per-image shape of that data, `None` for a size-dependent axis) and
    `vectors`: a float32 array of that shape (the same for every image) or with one more, leading,
    axis (one per image).
    """

    kind = "term"
    needs_outputs = False
    reads_image = False  # the value is computed from the rendered image itself (a penalty)
    couples_batch = False  # the value of an image depends on the other images of its batch
    indices = None
    float_shape = (0,)
    vectors = None

    @property
    def layer(self):
        return None

    @property
    def count(self):
        """Number of images this term asks for, or `None` if it applies to any number."""
        if self.vectors is not None and self.vectors.ndim > len(self.float_shape):
            return len(self.vectors)
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

    def floats(self, count):
        """The `(count, *float_shape)` float32 per-image data fed to the compiled step."""
        if self.vectors is None:
            return np.zeros((count, *self.float_shape), np.float32)
        shape = self.vectors.shape[-len(self.float_shape):]
        return np.broadcast_to(self.vectors, (count, *shape))

    def check(self, model):
        """Checks the term against `model` (layer exists, indices in range) before any tracing."""

    def check_shape(self, shape, border):
        """Checks the term against its tapped activation's shape at the requested image size."""

    def value(self, tapped, outputs, image, indices, border, floats):
        """Returns the `(K,)` value.

        Args:
            tapped: the activation of `self.layer` (or `None`).
            outputs: list of the model's pre-softmax outputs (or `None` when not computed).
            image: the `(K, H, W, C)` image in [0, 1] units, before transforms.
            indices: `(K,)` int32 per-image indices.
            border: the render's default border band for spatial terms.
            floats: `(K, *float_shape)` float32 per-image data.
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
    if isinstance(layer, keras.Operation):  # a layer, or an operation node such as `x + y`
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


class LayerTerm(Term):
    """A term tapping one layer; `index` is `None` for a term without channel indices.

    A new kind of term subclasses it with a `kind` and a `value`; `key`, `check` and `repr` come
    from where on the layer it looks (`_place`) and the output shapes it reads (`_layer_shape`).
    """

    def __init__(self, layer, index=None):
        self._layer = _layer_ref(layer)
        if index is not None:
            self.indices = _indices(index, self.kind)

    @property
    def layer(self):
        return self._layer

    def key(self):
        return (self.kind, self._layer, self._place())

    def check(self, model):
        self._layer_shape(model)
        if self.indices is not None:
            self._check_channels(model)

    def __repr__(self):
        return f"{self.kind}({self._layer!r}, {_index_text(self.indices)}{self._place_text()})"

    def _place(self):
        """Where on the layer's output the term looks (its border band, its position), as set."""
        return None

    def _place_text(self):
        return ""

    def _layer_shape(self, model):
        """The tapped layer's output shape, checked to be one the term reads."""
        return output_shape(layer_of(model, self._layer))

    def _check_channels(self, model):
        layer = tapped_layer(model, self._layer)
        shape = output_shape(layer)
        channels = shape[-1] if shape else None
        for index in sorted({int(self.indices.min()), int(self.indices.max())}):
            if channels is not None and not 0 <= index < channels:
                raise ValueError(
                    expected("channel", f"an index in [0, {channels - 1}]", index,
                             f"Layer '{layer.name}' has {channels} channels.")
                )

    def _spatial_error(self, shape, what):
        return ValueError(
            expected("layer", f"a layer with a spatial output (N, H, W, C) for {what}",
                     self._layer,
                     f"Its output has shape {shape}. For a unit of a dense layer use "
                     f"`objectives.neuron({self._layer!r}, k)`.")
        )

    def _spatial_shape(self, model, what):
        shape = output_shape(layer_of(model, self._layer))
        if shape is None or len(shape) != 4:
            raise self._spatial_error(shape, what)
        return shape


class _BandedTerm(LayerTerm):
    """A mean over a layer's feature map less a border band (`border=None`: the render's)."""

    def __init__(self, layer, index=None, border=None):
        super().__init__(layer, index)
        self.border = None if border is None else int(check_number(border, "border", low=0))

    def check_shape(self, shape, border):
        band = self._band(border)
        if min(shape[1:3]) <= 2 * band:
            raise TooSmall(
                f"layer '{self._layer}' gives a {shape[1]}×{shape[2]} map, which a border band of "
                f"{band} px leaves empty"
            )

    def _place(self):
        return self.border

    def _place_text(self):
        return "" if self.border is None else f", border={self.border}"

    def _layer_shape(self, model):
        return self._spatial_shape(model, f"a {self.kind.replace('_', ' ')} objective")

    def _band(self, border):
        return border if self.border is None else self.border

    def _inner(self, tapped, border):
        band = self._band(border)
        tapped = tf.cast(tapped, tf.float32)
        return tapped[:, band:-band, band:-band, :] if band else tapped


class ChannelTerm(_BandedTerm):
    """Mean activation of a channel over a layer's feature map, minus a border band."""

    kind = "channel"

    def value(self, tapped, outputs, image, indices, border, floats):
        maps = tf.gather(self._inner(tapped, border), indices, axis=3, batch_dims=1)
        return tf.reduce_mean(maps, axis=[1, 2])


class ScaledChannelTerm(ChannelTerm):
    """A channel objective times a per-image factor (the blend of `channel_interpolate`)."""

    kind = "scaled_channel"
    float_shape = (1,)

    def __init__(self, layer, index, scales, border=None):
        super().__init__(layer, index, border)
        self.vectors = _floats(np.reshape(scales, (-1, 1)), "scales")

    def value(self, tapped, outputs, image, indices, border, floats):
        return super().value(tapped, outputs, image, indices, border, floats) * floats[:, 0]

    def __repr__(self):
        factors = self.vectors[:, 0]
        return (f"scaled_channel({self._layer!r}, {_index_text(self.indices)}, "
                f"scales from {factors[0]:g} to {factors[-1]:g}{self._place_text()})")


def _position(position):
    if position is None:
        return None
    if (not isinstance(position, (tuple, list)) or len(position) != 2
            or not all(isinstance(p, numbers.Integral) and not isinstance(p, bool)
                       for p in position)):
        raise TypeError(expected("position", "None or a (y, x) pair of ints", position))
    if min(position) < 0:
        raise ValueError(expected("position", "a (y, x) pair of non-negative ints", position))
    return (int(position[0]), int(position[1]))


class _UnitTerm(LayerTerm):
    """A term on the activation vector at one position of a map (the centre when `None`), or on
    the whole output of a dense layer."""

    def __init__(self, layer, index=None, position=None):
        super().__init__(layer, index)
        self.position = _position(position)

    def _place(self):
        return self.position

    def _place_text(self):
        return "" if self.position is None else f", {self.position}"

    def _layer_shape(self, model):
        shape = output_shape(layer_of(model, self._layer))
        if shape is None or len(shape) not in (2, 4):
            raise ValueError(
                expected("layer", "a layer with an output of shape (N, C) or (N, H, W, C)",
                         self._layer, f"Its output has shape {shape}.")
            )
        if self.position is not None and len(shape) != 4:
            raise self._spatial_error(shape, "a neuron at a position")
        return shape

    def check_shape(self, shape, border):
        if self.position is not None and not all(
            p < size for p, size in zip(self.position, shape[1:3])
        ):
            raise ValueError(
                expected("position", f"inside the {shape[1]}×{shape[2]} map of layer "
                         f"'{self._layer}' at this image size", self.position)
            )

    def _unit(self, tapped):
        """The `(K, C)` activation vectors at the term's position."""
        tapped = tf.cast(tapped, tf.float32)
        if tapped.shape.rank == 4:
            if self.position is None:
                y, x = tf.shape(tapped)[1] // 2, tf.shape(tapped)[2] // 2
            else:
                y, x = self.position
            tapped = tapped[:, y, x, :]
        return tapped


class NeuronTerm(_UnitTerm):
    """One unit of a layer: channel `index` at `position` (the centre of the map when `None`)."""

    kind = "neuron"

    def value(self, tapped, outputs, image, indices, border, floats):
        return tf.gather(self._unit(tapped), indices, axis=1, batch_dims=1)


def _floats(values, name, what="an array of finite numbers"):
    if tf.is_tensor(values):
        values = values.numpy()
    values = np.asarray(values)
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
        raise TypeError(expected(name, what, values))
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(expected(name, f"{what}, non-empty and finite", values))
    values = values.astype(np.float32)
    values.setflags(write=False)
    return values


def _vectors(vector):
    what = "a vector (C,) in the layer's channel space, or one per image (K, C)"
    vectors = _floats(vector, "vector", what)
    if vectors.ndim not in (1, 2):
        raise ValueError(expected("vector", what, vector))
    return vectors


def _dot(activations, vectors, cossim_pow):
    """Dot products of activation vectors `(K, ..., C)` with one vector per image `(K, C)`,
    weighted, for `cossim_pow > 0`, by their cosine similarity (floored at 0.1) to that power."""
    shape = tf.concat([tf.shape(vectors)[:1], tf.ones([activations.shape.rank - 2], tf.int32),
                       tf.shape(vectors)[1:]], axis=0)
    vectors = tf.reshape(vectors, shape)
    dots = tf.reduce_sum(activations * vectors, axis=-1)
    if cossim_pow == 0:
        return dots
    norms = tf.norm(activations, axis=-1) * tf.norm(vectors, axis=-1)
    similarity = dots / (norms + 1e-8)
    return dots * tf.maximum(similarity, 0.1) ** cossim_pow


class _VectorTerm(LayerTerm):
    """Shared by the direction terms: the vectors, their check and the cosine power."""

    def _set_vectors(self, vector, cossim_pow):
        self.vectors = _vectors(vector)
        self.float_shape = (self.vectors.shape[-1],)
        self.cossim_pow = check_number(cossim_pow, "cossim_pow", low=0)

    def key(self):
        return (self.kind, self._layer, self.float_shape, self._place(), self.cossim_pow)

    def check(self, model):
        shape = self._layer_shape(model)
        if shape[-1] != self.float_shape[0]:
            raise ValueError(
                expected("vector", f"a vector of length {shape[-1]}, the channels of layer "
                         f"'{self._layer}'", f"a vector of length {self.float_shape[0]}")
            )

    def __repr__(self):
        count = "" if self.vectors.ndim == 1 else f"{len(self.vectors)} vectors of "
        power = f", cossim_pow={self.cossim_pow:g}" if self.cossim_pow else ""
        return (f"{self.kind}({self._layer!r}, <{count}length {self.float_shape[0]}>{power}"
                f"{self._place_text()})")


class DirectionTerm(_VectorTerm, _BandedTerm):
    """The mean over a feature map (less a border band) of the activations' dot product with a
    direction in the layer's channel space."""

    kind = "direction"

    def __init__(self, layer, vector, border=None, cossim_pow=0):
        _BandedTerm.__init__(self, layer, None, border)
        self._set_vectors(vector, cossim_pow)

    def value(self, tapped, outputs, image, indices, border, floats):
        return tf.reduce_mean(_dot(self._inner(tapped, border), floats, self.cossim_pow),
                              axis=[1, 2])


class DirectionNeuronTerm(_VectorTerm, _UnitTerm):
    """The dot product of the activation vector at one position with a direction."""

    kind = "direction_neuron"

    def __init__(self, layer, vector, position=None, cossim_pow=0):
        _UnitTerm.__init__(self, layer, None, position)
        self._set_vectors(vector, cossim_pow)

    def value(self, tapped, outputs, image, indices, border, floats):
        return _dot(self._unit(tapped), floats, self.cossim_pow)


class DiversityTerm(LayerTerm):
    """Minus each image's summed similarity to the other images of its batch, the similarity of two
    images being the cosine of their Gram matrices (channel correlations) at a layer (Lucid)."""

    kind = "diversity"
    couples_batch = True

    def check(self, model):
        self._spatial_shape(model, "a diversity objective")

    def value(self, tapped, outputs, image, indices, border, floats):
        tapped = tf.cast(tapped, tf.float32)
        count = tf.shape(tapped)[0]
        flat = tf.reshape(tapped, [count, -1, tf.shape(tapped)[-1]])
        grams = tf.reshape(tf.matmul(flat, flat, transpose_a=True), [count, -1])
        grams = tf.math.l2_normalize(grams, axis=1, epsilon=1e-20)
        similarity = tf.matmul(grams, grams, transpose_b=True)
        others = tf.reduce_sum(similarity, axis=1) - tf.linalg.diag_part(similarity)
        return -others / tf.cast(count, tf.float32)

    def __repr__(self):
        return f"diversity({self._layer!r})"


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

    def value(self, tapped, outputs, image, indices, border, floats):
        logits = tf.cast(outputs[self.output], tf.float32)
        logits = tf.reshape(logits, (tf.shape(logits)[0], -1))
        return tf.gather(logits, indices, axis=1, batch_dims=1)

    def __repr__(self):
        output = f", output={self.output}" if self.output else ""
        return f"class_logit({_index_text(self.indices)}{output})"


class TotalVariationTerm(Term):
    """Mean absolute difference between neighbouring pixels, vertical plus horizontal."""

    kind = "total_variation"
    reads_image = True

    def value(self, tapped, outputs, image, indices, border, floats):
        vertical = tf.reduce_mean(tf.abs(image[:, 1:] - image[:, :-1]), axis=[1, 2, 3])
        horizontal = tf.reduce_mean(tf.abs(image[:, :, 1:] - image[:, :, :-1]), axis=[1, 2, 3])
        return vertical + horizontal


class L2Term(Term):
    """Mean squared distance of the pixels from mid-grey (0.5)."""

    kind = "l2"
    reads_image = True

    def value(self, tapped, outputs, image, indices, border, floats):
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

    @property
    def couples_batch(self):
        """Whether an image's value depends on the other images of its batch (`diversity`)."""
        return any(t.couples_batch for _, t in self._terms)

    def data(self, count):
        """`(count, T)` int32: the per-image indices of every term."""
        return np.stack([t.data(count) for _, t in self._terms], axis=1)

    def floats(self, count):
        """One `(count, *float_shape)` float32 array per term: its per-image float data."""
        return [t.floats(count) for _, t in self._terms]

    def as_target(self):
        """The objective as an attribution target (`ObjectiveTarget`); every function that takes a
        `target` calls this."""
        return ObjectiveTarget(self)

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


class ObjectiveTarget(Target):
    """An objective explained as an attribution target: which pixels make the image excite it?

    The sum of the objective's weighted terms is the score, per image; batched terms give image
    `i` its own index (`channel(layer, range(3))` explains image `i` by channel `i`), and the
    vectors of `direction`s travel as data, so other vectors of one length reuse the compiled
    step. Terms that read the rendered image (`total_variation`, `l2`) or compare the images of a
    batch (`diversity`) have no meaning here and are refused.
    """

    def __init__(self, objective):
        refused = [term for _, term in objective.terms if term.reads_image or term.couples_batch]
        if refused:
            raise ValueError(expected(
                "target", "an objective whose terms score each image from the model's layers or "
                "outputs", objective,
                f"{refused[0]!r} reads the rendered image or the other images of a batch, which "
                "an explanation does not have; leave it out of the target."))
        self.objective = objective

    @property
    def layers(self):
        return tuple(dict.fromkeys(term.layer for _, term in self.objective.terms
                                   if term.layer is not None))

    @property
    def needs_outputs(self):
        return self.objective.needs_outputs

    @property
    def fixed_position(self):
        """The position of the first term that scores one position of a map (a neuron at
        `position`), or `None`."""
        return next((term.position for _, term in self.objective.terms
                     if getattr(term, "position", None) is not None), None)

    def resolve(self, model):
        for _, term in self.objective.terms:
            term.check(model)
            if term.layer is not None:
                shape = output_shape(tapped_layer(model, term.layer))
                if shape is not None and None not in shape[1:]:
                    term.check_shape(shape, 0)
        return [tapped_layer(model, layer) for layer in self.layers]

    def key(self):
        return ("Objective", self.objective.key())

    def __repr__(self):
        return repr(self.objective)

    def data_spec(self):
        # Per image: each term's index, then each term's float data, flattened.
        return tf.TensorSpec((None, None), tf.float32)

    def data(self, model, inputs):
        count = batch_count(inputs)
        wanted = self.objective.count
        if wanted is not None and wanted != count:
            raise ValueError(expected(
                "images", f"{wanted} images, one per index of the target's batched terms",
                f"{count} images", f"The target {self.objective!r} asks for {wanted}."))
        floats = [values.reshape(count, -1) for values in self.objective.floats(count)]
        return np.concatenate([self.objective.data(count), *floats], axis=1).astype(np.float32)

    def score(self, outputs, activations, data):
        tapped = dict(zip(self.layers, activations))
        terms = self.objective.terms
        indices = tf.cast(data[:, :len(terms)], tf.int32)
        start, total = len(terms), 0.0
        for column, (weight, term) in enumerate(terms):
            shape = term.floats(1).shape[1:]
            size = int(np.prod(shape))
            floats = tf.reshape(data[:, start:start + size], (-1, *shape))
            start += size
            value = term.value(tapped.get(term.layer), outputs, None, indices[:, column], 0,
                               floats)
            total += weight * value
        return total


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


def direction(layer, vector, *, border=None, cossim_pow=0):
    """Maximize a direction in a layer's channel space: the mean over its feature map of the
    activations' dot product with `vector`.

    A one-hot `vector` is the channel objective of its channel; the mean activation vectors of an
    activation atlas's cells are such directions. The vectors are data of the compiled step: any
    others of the same length render without a new trace.

    Args:
        layer: a layer name, index or layer object with a spatial output `(N, H, W, C)`.
        vector: a `(C,)` direction for every image, or `(K, C)`: one per image, K images rendered
            in one batch.
        border: feature-map border band left out of the mean; `None` uses `maximize(border=...)`.
        cossim_pow: weight each position's dot product by its cosine similarity with the vector to
            this power (floored at 0.1), which favours the direction over sheer magnitude; 0 is
            the plain dot product.

    Returns:
        An `Objective`.
    """
    return Objective([(1.0, DirectionTerm(layer, vector, border, cossim_pow))])


def direction_neuron(layer, vector, position=None, *, cossim_pow=0):
    """Maximize the dot product of the activation vector at one position with `vector`.

    Args:
        layer: a layer name, index or layer object; convolutional (its map at `position`) or
            dense (its whole output).
        vector: a `(C,)` direction for every image, or `(K, C)`: one per image.
        position: `(y, x)` in the layer's feature map at the rendered size; `None` means the
            centre (required to be `None` for a dense layer).
        cossim_pow: weight the dot product by the cosine similarity to this power (floored at
            0.1); 0 is the plain dot product.

    Returns:
        An `Objective`.
    """
    return Objective([(1.0, DirectionNeuronTerm(layer, vector, position, cossim_pow))])


def channel_interpolate(layer1, channel1, layer2, channel2, count=6, *, border=None):
    """A batch blending two channel objectives: image `i` of `count` maximizes
    `(1 - t) * channel(layer1, channel1) + t * channel(layer2, channel2)`, `t = i / (count - 1)`.

    Rendered with one seed for every image (`seed=[s] * count`), the batch shows one feature turn
    into the other.

    Args:
        layer1, channel1: the first channel objective (image 0).
        layer2, channel2: the second (the last image); the layers may differ.
        count: how many images, at least 2.
        border: feature-map border band left out of both means; `None` uses the render's.

    Returns:
        An `Objective` of `count` images.
    """
    count = check_positive_int(count, "count", minimum=2)
    blend = np.linspace(0.0, 1.0, count)
    return Objective([
        (1.0, ScaledChannelTerm(layer1, channel1, 1.0 - blend, border)),
        (1.0, ScaledChannelTerm(layer2, channel2, blend, border)),
    ])


def diversity(layer):
    """Reward a batch's images for differing from each other (Lucid's diversity).

    An image's value is minus the sum of its similarities to the other images of the batch,
    divided by the batch size; the similarity of two images is the cosine of their Gram matrices
    (the correlations between the layer's channels over the map), as style is compared in style
    transfer. It is at most 0, 0 for a single image, and grows as the images are pushed apart.
    Add it to a batched objective to see several facets of one feature:
    `channel(layer, [k] * 4) + 10 * diversity(layer)`. Its images are rendered in one batch.

    Args:
        layer: a layer name, index or layer object with a spatial output `(N, H, W, C)`.

    Returns:
        An `Objective`.
    """
    return Objective([(1.0, DiversityTerm(layer))])


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


# The targets of an inner layer, named as the targets `Class` and `Region` are: one-term objectives.
def Channel(layer, index, border=None):  # noqa: N802
    """The mean activation of channel `index` of `layer`: the objective `channel(layer, index,
    border)`, to explain (`border=None`: the whole map) or to maximize."""
    return channel(layer, index, border)


def Neuron(layer, index, position=None):  # noqa: N802
    """One unit of `layer`, channel `index` at `position` (`(y, x)`; `None`: the centre of the map,
    or a dense layer's unit): the objective `neuron(layer, index, position)`."""
    return neuron(layer, index, position)


def as_objective(objective):
    """Turns an `Objective`, a `Class` target or a class index into an `Objective`.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(objective, Objective):
        return objective
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
    "Channel",
    "LayerTerm",
    "Neuron",
    "Objective",
    "ObjectiveTarget",
    "Term",
    "as_objective",
    "channel",
    "channel_interpolate",
    "class_logit",
    "direction",
    "direction_neuron",
    "diversity",
    "l2",
    "neuron",
    "total_variation",
]
