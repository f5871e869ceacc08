"""What to explain or maximize: a class score, an inner channel or neuron, or any score function.

Every public function accepts the same `target` forms:

- `None`: the class the model predicts for each image;
- an `int`: that class for every image;
- a list/array of ints: one class per image;
- a callable `f(outputs) -> (N,)` on the model output (the pre-softmax logits unless `logits=False`);
- `Class(k, output=i)`: class `k` of output `i` of a multi-output model;
- `Channel(layer, k)`: the mean activation of channel `k` of an inner layer;
- `Neuron(layer, k, (y, x))`: one unit of an inner layer.

Targets are immutable and hashable, so the gradient engine can key its compiled functions on them.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_vis._checks import expected, graph_error
from keras_vis.layers import layer_of, output_shape

PREDICTED = -1  # class index meaning "the predicted class", resolved inside the compiled graph


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
            class_index: `(N,)` int32 tensor of per-image classes (`PREDICTED` for the argmax).
        """
        raise NotImplementedError

    def key(self):
        """A hashable key naming the compiled computation this target needs."""
        return (type(self).__name__,) + tuple(self.__dict__.items())


class Class(Target):
    """The score of a class; the per-image class indices are data, fed to the compiled graph.

    Args:
        index: `None` (predicted class), an int, or one int per image.
        output: which output of a multi-output model.
    """

    def __init__(self, index=None, output=0):
        self.index = index
        self.output = output

    def key(self):
        return ("Class", self.output)

    def class_indices(self, model, count):
        """The `(count,)` int32 class indices, checked against the model's number of classes."""
        outputs = getattr(model, "outputs", None) or [None]  # a subclassed model has no symbolic outputs
        if not 0 <= self.output < len(outputs):
            raise ValueError(
                expected("output", f"an index in [0, {len(outputs) - 1}]", self.output,
                         f"The model has {len(outputs)} output(s).")
            )
        classes = None if outputs[self.output] is None else outputs[self.output].shape[-1]
        if self.index is None:
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
                         f"The model's output {self.output} has {classes} classes.")
            )
        return indices.astype(np.int32)

    def score(self, outputs, activations, class_index):
        logits = outputs[self.output]
        logits = tf.reshape(logits, (tf.shape(logits)[0], -1))
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        chosen = tf.where(class_index < 0, predicted, class_index)
        return tf.gather(logits, chosen, axis=1, batch_dims=1)


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
        layer = layer_of(model, self.layer)
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
        layer = layer_of(model, self.layer)
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


__all__ = ["Target", "Class", "Channel", "Neuron", "ScoreFunction", "as_target", "PREDICTED"]
