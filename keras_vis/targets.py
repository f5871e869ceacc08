"""What to explain or maximize: a class score, an inner channel or neuron, or any score function.

Every public function accepts the same `target` forms:

- `None`: the class the model predicts for each image (for a binary classifier, the label it
  predicts; see below);
- an `int`: that class for every image;
- a list/array of ints: one class per image;
- a callable `f(outputs) -> (N,)` on the model output (the pre-softmax logits unless `logits=False`);
- `Class(k, output=i)`: class `k` of output `i` of a multi-output model;
- `Class(k, negative=True)`: the negative label of sigmoid unit `k`;
- `Channel(layer, k)`: the mean activation of channel `k` of an inner layer;
- `Neuron(layer, k, (y, x))`: one unit of an inner layer.

Sigmoid outputs. Each unit of an output whose layer ends in a sigmoid is a yes/no label. Class `k`
is its positive label, scored by the logit (`p` with `logits=False`); `Class(k, negative=True)` is
its negative label, scored by `-logit` (`1 - p`). A binary classifier, an output of one sigmoid
unit (shape `(N, 1)`), has no class 1: `None` explains the label it predicts for each image, the
positive one where `p >= 0.5` (logit >= 0) and the negative one elsewhere, so the score explained
is never below its opposite. `0` and `Class(0)` always explain the positive label. Other outputs,
multi-unit sigmoids included, explain their highest-scoring unit for `None`. The head is read from
the layer graph: a subclassed model's outputs are scored as they are, `None` being unit 0.

Per image, a `Class` target becomes an int32 class code fed to the compiled graph as data: `k >= 0`
for class (or positive label) `k`, `PREDICTED` for the predicted one, resolved inside the graph,
and `NEGATIVE - k` for the negative label of sigmoid unit `k`. `resolve_classes` in
`keras_vis.attribution` fills in the predicted codes, so a binary classifier's images come back as
`0` (predicted positive) or `NEGATIVE` (predicted negative); `split_classes` reads codes back as
units and signs.

Targets are immutable and hashable, so the gradient engine can key its compiled functions on them.
"""

import copy
import math
import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_vis._checks import expected, graph_error
from keras_vis.graph import fused_activation, head_layers
from keras_vis.layers import layer_of, output_shape, tapped_layer

PREDICTED = -1  # class code meaning "the predicted class", resolved inside the compiled graph
NEGATIVE = -2  # class code `NEGATIVE - k`: the negative label of sigmoid unit `k`


def split_classes(classes):
    """Reads class codes back as the output unit each scores and whether it is a negative label.

    Args:
        classes: int array of class codes (see the module docstring); `PREDICTED` stays as is.

    Returns:
        `(units, negative)`: an int array of units and a bool array, of the shape of `classes`.
    """
    classes = np.asarray(classes)
    negative = classes <= NEGATIVE
    return np.where(negative, NEGATIVE - classes, classes), negative


def sigmoid_output(model, output=0):
    """Whether output `output` of `model` is computed by a layer ending in a sigmoid.

    This is the activation the engine's linear head drops, so that the output's values are
    logits under `head="linear"` and probabilities under `head="model"`.
    """
    heads = head_layers(model)
    if not 0 <= output < len(heads):
        return False
    return getattr(fused_activation(heads[output]), "__name__", None) == "sigmoid"


def binary_output(model, output=0):
    """Whether output `output` of `model` is one sigmoid unit: a binary classifier's head."""
    if not sigmoid_output(model, output):
        return False
    shape = tuple(model.outputs[output].shape[1:])
    return None not in shape and math.prod(shape) == 1


class Target:
    """Base class of targets: a score per image computed from the model's outputs and taps."""

    #: Layers whose activations the score needs (names or layer objects).
    layers = ()

    def resolve(self, model):
        """Checks the target against `model` and returns the layers it taps."""
        return [layer_of(model, layer) for layer in self.layers]

    def score(self, outputs, activations, class_index):
        """Returns the `(N,)` score.

        Args:
            outputs: list of the model's (head-adjusted) output tensors.
            activations: list of tensors, one per layer in `resolve`.
            class_index: `(N,)` int32 tensor of per-image class codes (see the module docstring).
        """
        raise NotImplementedError

    def key(self):
        """A hashable key naming the compiled computation this target needs."""
        return (type(self).__name__,) + tuple(self.__dict__.items())

    def bind(self, model, head):
        """The target as scored on `model` under the engine head policy `head`.

        Targets whose score depends on the model's head (class targets on sigmoid outputs) return
        a copy that knows it; the others return themselves. The copy has the same `key()`.
        """
        return self


class Class(Target):
    """The score of a class; the per-image class indices are data, fed to the compiled graph.

    On an output ending in a sigmoid, class `k` is the positive label of unit `k` (its logit, or
    `p` with `logits=False`) and `negative=True` asks for its negative label (`-logit`, or
    `1 - p`). With `index=None`, an output of one sigmoid unit (a binary classifier) explains the
    label predicted for each image: positive where `p >= 0.5`, negative elsewhere. Any other
    output explains its highest-scoring class.

    Args:
        index: `None` (predicted class), an int, or one int per image.
        output: which output of a multi-output model.
        negative: explain the negative label of sigmoid unit `index` instead of its positive one:
            a bool, or one bool per image. `Class(0, negative=True)` is the negative label of a
            binary classifier, which has no class 1.
    """

    def __init__(self, index=None, output=0, negative=False):
        self.index = index
        self.output = output
        self.negative = negative
        self._sigmoid = None  # set by `bind`: None, or "logits"/"probabilities" of sigmoid units
        self._binary = False

    def key(self):
        return ("Class", self.output)

    def bind(self, model, head):
        if not sigmoid_output(model, self.output):
            return self
        bound = copy.copy(self)
        bound._sigmoid = "logits" if head == "linear" else "probabilities"
        bound._binary = binary_output(model, self.output)
        return bound

    def class_indices(self, model, count):
        """The `(count,)` int32 class codes, checked against the model's number of classes."""
        outputs = getattr(model, "outputs", None) or [None]  # a subclassed model has no symbolic outputs
        if not 0 <= self.output < len(outputs):
            raise ValueError(
                expected("output", f"an index in [0, {len(outputs) - 1}]", self.output,
                         f"The model has {len(outputs)} output(s).")
            )
        classes = None if outputs[self.output] is None else outputs[self.output].shape[-1]
        negative = self._negative_flags(count)
        if self.index is None:
            if np.any(negative):
                raise ValueError(
                    expected("index", "a class index with `negative=True`", self.index,
                             "Pass the unit whose negative label to explain, such as "
                             "`keras_vis.Class(0, negative=True)` for a binary classifier.")
                )
            return np.full((count,), PREDICTED, np.int32)
        indices = np.asarray(self.index)
        if indices.ndim == 0:
            indices = np.full((count,), indices)
        if indices.ndim != 1 or len(indices) != count:
            raise ValueError(
                expected("target", f"None, an int, or a list of {count} ints (one per image)",
                         self.index)
            )
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(expected("target", "integer class indices", self.index))
        if classes is not None and (np.any(indices < 0) or np.any(indices >= classes)):
            raise ValueError(
                expected("target", f"class indices in [0, {classes - 1}]", self.index,
                         self._range_hint(model, classes))
            )
        if np.any(negative) and not sigmoid_output(model, self.output):
            raise ValueError(
                expected("negative", f"False for output {self.output}, whose layer does not end "
                         "in a sigmoid", self.negative, "Negative labels belong to sigmoid units; "
                         "explain another class of this output instead.")
            )
        return np.where(negative, NEGATIVE - indices, indices).astype(np.int32)

    def _negative_flags(self, count):
        flags = np.asarray(self.negative)
        if flags.dtype != bool:
            raise TypeError(expected("negative", "True, False or one bool per image",
                                     self.negative))
        if flags.ndim > 1 or (flags.ndim == 1 and len(flags) != count):
            raise ValueError(expected("negative", f"True, False or {count} bools (one per image)",
                                      self.negative))
        return np.broadcast_to(flags, (count,))

    def _range_hint(self, model, classes):
        if classes == 1 and binary_output(model, self.output):
            return (f"The model's output {self.output} is one sigmoid unit, whose positive label "
                    "is class 0; pass `keras_vis.Class(0, negative=True)` to explain its negative "
                    "label.")
        return f"The model's output {self.output} has {classes} classes."

    def predicted_classes(self, model, values, head):
        """The class code of the class predicted for each image, from the output's numpy values.

        Args:
            model: the model.
            values: the output's values `(N, ...)` under `head`.
            head: the engine head policy they were computed with (`"linear"`: logits).

        Returns:
            int32 `(N,)`: the argmax, or for a binary classifier `0` (positive) or `NEGATIVE`.
        """
        values = np.asarray(values).reshape(len(values), -1)
        if not binary_output(model, self.output):
            return values.argmax(axis=-1).astype(np.int32)
        threshold = 0.0 if head == "linear" else 0.5
        return np.where(values[:, 0] >= threshold, 0, NEGATIVE).astype(np.int32)

    def score(self, outputs, activations, class_index):
        values = outputs[self.output]
        values = tf.reshape(values, (tf.shape(values)[0], -1))
        predicted = tf.argmax(values, axis=-1, output_type=tf.int32)
        if self._sigmoid is None:
            chosen = tf.where(class_index < 0, predicted, class_index)
            return tf.gather(values, chosen, axis=1, batch_dims=1)
        return self._label_score(values, predicted, class_index)

    def _label_score(self, values, predicted, class_index):
        """The score of positive or negative labels of sigmoid units, chosen per image."""
        logits = self._sigmoid == "logits"
        negative = class_index <= NEGATIVE
        unit = tf.where(negative, NEGATIVE - class_index,
                        tf.where(class_index == PREDICTED, predicted, class_index))
        if self._binary:
            threshold = 0.0 if logits else 0.5
            negative = negative | ((class_index == PREDICTED) & (values[:, 0] < threshold))
        chosen = tf.gather(values, unit, axis=1, batch_dims=1)
        return tf.where(negative, -chosen if logits else 1.0 - chosen, chosen)


class Channel(Target):
    """The mean activation of channel `index` of `layer` (over the spatial axes, if any).

    Args:
        layer: a layer name, index or object.
        index: the channel.
        border: pixels of border band to leave out of the mean (the filter-visualization recipe).
    """

    def __init__(self, layer, index, border=0):
        self.layer = layer.name if isinstance(layer, keras.layers.Layer) else layer
        self.index = int(index)
        self.border = int(border)

    @property
    def layers(self):
        return (self.layer,)

    def resolve(self, model):
        layer = tapped_layer(model, self.layer)
        shape = output_shape(layer)
        channels = shape[-1] if shape else None
        if channels is not None and not 0 <= self.index < channels:
            raise ValueError(
                expected("channel", f"an index in [0, {channels - 1}]", self.index,
                         f"Layer '{layer.name}' has {channels} channels.")
            )
        if self.border and (shape is None or len(shape) != 4):
            raise ValueError(
                expected("layer", "a layer with a spatial output (N, H, W, C) for `border`", layer.name)
            )
        return [layer]

    def score(self, outputs, activations, class_index):
        activation = activations[0]
        if self.border:
            activation = activation[:, self.border:-self.border, self.border:-self.border, :]
        values = activation[..., self.index]
        axes = list(range(1, len(values.shape)))
        values = tf.cast(values, tf.float32)
        return tf.reduce_mean(values, axis=axes) if axes else values


class Neuron(Target):
    """One unit of `layer`: channel `index` at spatial position `position` (`(y, x)`; `None` for a
    layer without spatial axes, such as Dense)."""

    def __init__(self, layer, index, position=None):
        self.layer = layer.name if isinstance(layer, keras.layers.Layer) else layer
        self.index = int(index)
        self.position = None if position is None else tuple(int(p) for p in position)

    @property
    def layers(self):
        return (self.layer,)

    def resolve(self, model):
        layer = tapped_layer(model, self.layer)
        shape = output_shape(layer) or ()
        spatial = shape[1:-1]
        if self.position is None and spatial:
            raise ValueError(
                expected("position", f"a {len(spatial)}-tuple for layer '{layer.name}' with output "
                         f"shape {shape}", None)
            )
        if self.position is not None:
            if len(self.position) != len(spatial):
                raise ValueError(
                    expected("position", f"a {len(spatial)}-tuple for layer '{layer.name}' with "
                             f"output shape {shape}", self.position)
                )
            for axis, (p, size) in enumerate(zip(self.position, spatial)):
                if size is not None and not 0 <= p < size:
                    raise ValueError(
                        expected("position", f"inside the {spatial} map of layer '{layer.name}'",
                                 self.position)
                    )
        channels = shape[-1] if shape else None
        if channels is not None and not 0 <= self.index < channels:
            raise ValueError(
                expected("neuron", f"a channel index in [0, {channels - 1}]", self.index,
                         f"Layer '{layer.name}' has {channels} channels.")
            )
        return [layer]

    def score(self, outputs, activations, class_index):
        activation = activations[0]
        index = (slice(None),) + (self.position or ()) + (self.index,)
        return tf.cast(activation[index], tf.float32)


class ScoreFunction(Target):
    """A user callable `f(outputs) -> (N,)` on the model output (a list for multi-output models)."""

    def __init__(self, function):
        self.function = function

    def key(self):
        return ("ScoreFunction", self.function)

    def score(self, outputs, activations, class_index):
        value = self.function(outputs[0] if len(outputs) == 1 else outputs)
        value = tf.convert_to_tensor(value)
        if value.shape.rank == 2 and value.shape[-1] == 1:
            value = value[:, 0]
        if value.shape.rank != 1:
            raise graph_error(ValueError(
                expected("target", "a callable returning one score per image, shape (N,)",
                         self.function, f"It returned shape {tuple(value.shape)}.")
            ))
        return tf.cast(value, tf.float32)


def as_target(target):
    """Turns any accepted `target` form into a `Target` object.

    Raises:
        TypeError: for anything that is not a documented target form.
    """
    if isinstance(target, Target):
        return target
    if target is None or isinstance(target, (numbers.Integral, np.integer)):
        if isinstance(target, bool):
            raise TypeError(expected("target", "None, an int, a list of ints, a callable or a Target", target))
        return Class(None if target is None else int(target))
    if isinstance(target, (list, tuple, np.ndarray)) or tf.is_tensor(target):
        values = np.asarray(target)
        if values.dtype == object or not np.issubdtype(values.dtype, np.integer):
            raise TypeError(expected("target", "a list of integer class indices", target))
        return Class(values)
    if callable(target):
        return ScoreFunction(target)
    raise TypeError(
        expected("target", "None, an int, a list of ints, a callable or a keras_vis.targets object",
                 target)
    )


__all__ = ["Target", "Class", "Channel", "Neuron", "ScoreFunction", "as_target", "PREDICTED",
           "NEGATIVE", "split_classes", "sigmoid_output", "binary_output"]
