"""What to explain or maximize: a class score, a segmented region, an objective of inner layers
(`keras_vis.objectives`: a channel, a neuron, a direction, ...), or any score function.

Every public function accepts the same `target` forms:

- `None`: the class the model predicts for each image (for a binary classifier, the label it
  predicts; see below);
- an `int`: that class for every image;
- a list/array of ints: one class per image;
- a callable `f(outputs) -> (N,)` on the model output (the pre-softmax logits unless `logits=False`);
- `Class(k, output=i)`: class `k` of output `i` of a multi-output model;
- `Class(k, negative=True)`: the negative label of sigmoid unit `k`;
- `Class(k, logits=False)`: class `k`'s probability (the output's own sigmoid or softmax applied
  to its logits) whatever the method scores; `logits=True` insists on the logit;
- `Region(k, mask)`: for a segmentation model, whose output is `(N, h, w, K)`, the sum of class
  `k`'s scores over the mask's pixels (by default, the pixels predicted as `k`);
- any objective of `keras_vis.objectives`: `Channel(layer, k)`, the mean activation of channel
  `k` of an inner layer; `Neuron(layer, k, (y, x))`, one unit; `direction(layer, v)`, a direction
  of its channel space; their weighted sums (see `keras_vis.objectives.ObjectiveTarget`).

Sigmoid outputs. Each unit of an output whose layer ends in a sigmoid is a yes/no label. Class `k`
is its positive label, scored by the logit (`p` with `logits=False`); `Class(k, negative=True)` is
its negative label, scored by `-logit` (`1 - p`). A binary classifier, an output of one sigmoid
unit (shape `(N, 1)`), has no class 1: `None` explains the label it predicts for each image, the
positive one where `p >= 0.5` (logit >= 0) and the negative one elsewhere, so the score explained
is never below its opposite. `0` and `Class(0)` always explain the positive label. Other outputs,
multi-unit sigmoids included, explain their highest-scoring unit for `None`. The head is read from
the layer graph: a subclassed model's outputs are scored as they are, `None` being unit 0.

Per-image data. What a target explains per image is fed to the compiled graph as data, so changing
it never retraces: `Target.data` makes it and `Target.data_spec` is its `tf.TensorSpec`, and
`Target.score` receives it as its `class_index` argument. A `Class` target's data is one int32
class code per image: `k >= 0` for class (or positive label) `k`, `PREDICTED` for the predicted
one, resolved inside the graph, and `NEGATIVE - k` for the negative label of sigmoid unit `k`.
A `Region`'s is one float32 mask `(h, w)` per image, NaN (broadcast from `(1, 1)`) standing for
the pixels predicted as its class, resolved inside the graph. `resolve_classes` in
`keras_vis.attribution` fills in the predicted classes or pixels from the unaltered images, so a
binary classifier's images come back as `0` (predicted positive) or `NEGATIVE` (predicted
negative), a `Region`'s as 0/1 masks; `split_classes` reads class codes back as units and signs.

Targets are immutable and hashable, so the gradient engine can key its compiled functions on them;
their keys leave the per-image data out.
"""

import copy
import difflib
import math
import numbers
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_vis._checks import expected, graph_error
from keras_vis.blank import REGION, warn_blank
from keras_vis.graph import SQUASH_ACTIVATIONS, fused_activation, head_layers
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


def output_squash(model, output=0):
    """The softmax or sigmoid that ends output `output` of `model` (the function the engine's
    linear head drops, to score logits), or `None` for an output that ends in neither, or whose
    layers cannot be read (a subclassed model)."""
    heads = head_layers(model)
    if not 0 <= output < len(heads):
        return None
    layer = heads[output]
    if isinstance(layer, keras.layers.Softmax):
        axis = layer.axis

        def softmax(values):
            return keras.ops.softmax(values, axis=axis)

        return softmax
    function = fused_activation(layer)
    return function if getattr(function, "__name__", None) in SQUASH_ACTIVATIONS else None


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
    #: The spatial position of a map the score reads alone (a neuron's), or `None`.
    fixed_position = None

    @property
    def needs_outputs(self):
        """Whether the score reads the model's outputs (a run that computes the taps only has
        none)."""
        return not self.layers

    def resolve(self, model):
        """Checks the target against `model` and returns the layers it taps."""
        return [layer_of(model, layer) for layer in self.layers]

    def score(self, outputs, activations, class_index):
        """Returns the `(N,)` score.

        Args:
            outputs: list of the model's (head-adjusted) output tensors.
            activations: list of tensors, one per layer in `resolve`.
            class_index: the per-image data of `data_spec` (see the module docstring): `(N,)`
                int32 class codes for a `Class`, `(N, h, w)` float32 masks for a `Region`.
        """
        raise NotImplementedError

    def data_spec(self):
        """The `tf.TensorSpec` of the per-image data fed to `score` (batch axis first)."""
        return tf.TensorSpec((None,), tf.int32)

    def data(self, model, inputs):
        """The per-image data `score` reads, checked against the model.

        Args:
            model: the model.
            inputs: the input batch (an array `(N, ...)`), or a list of them for a multi-input
                model.

        Returns:
            An array of `data_spec`'s dtype whose first axis is the batch (the targets that read
            no data get `PREDICTED` codes).
        """
        return np.full((batch_count(inputs),), PREDICTED, np.int32)

    def key(self):
        """A hashable key naming the compiled computation this target needs."""
        return (type(self).__name__,) + tuple(self.__dict__.items())

    def bind(self, model, head):
        """The target as scored on `model` under the engine head policy `head`.

        Targets whose score depends on the model's head (class targets on sigmoid outputs,
        probabilities asked of a linear head) return a copy that knows it; the others return
        themselves. The copy has the same `key()`.
        """
        return self


def batch_count(inputs):
    """The number of images of an input batch (or of a multi-input model's list of batches)."""
    return len(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)


class Class(Target):
    """The score of a class; the per-image class indices are data, fed to the compiled graph.

    On an output ending in a sigmoid, class `k` is the positive label of unit `k` (its logit, or
    `p` with `logits=False`) and `negative=True` asks for its negative label (`-logit`, or
    `1 - p`). With `index=None`, an output of one sigmoid unit (a binary classifier) explains the
    label predicted for each image: positive where `p >= 0.5`, negative elsewhere. Any other
    output explains its highest-scoring class.

    Args:
        index: `None` (predicted class), an int, or one int per image.
        output: which output of a multi-output model: its index, or the name of the layer that
            computes it (as in `model.output_names`).
        negative: explain the negative label of sigmoid unit `index` instead of its positive one:
            a bool, or one bool per image. `Class(0, negative=True)` is the negative label of a
            binary classifier, which has no class 1.
        logits: what is scored, whatever the method scores: `False` the class's probability (on
            a method that scores logits, the output's own sigmoid or softmax is applied to them,
            in the compiled graph, so each label of a multi-label sigmoid head is explained by its
            own probability); `True` the logit (a method that scores the model's outputs, such
            as one called with `logits=False`, cannot give it: pass `logits=True` to the method);
            `None` (default) what the method scores. Outputs that end in no softmax or sigmoid
            have one score either way.
    """

    def __init__(self, index=None, output=0, negative=False, logits=None):
        if logits is not None and not isinstance(logits, (bool, np.bool_)):
            raise TypeError(expected("logits", "None, True or False", logits))
        self.index = index
        self.output = _check_output(output)
        self.negative = negative
        self.logits = None if logits is None else bool(logits)
        self._sigmoid = None  # set by `bind`: None, or "logits"/"probabilities" of sigmoid units
        self._binary = False
        self._squash = None  # set by `bind`: the output's squash, for probabilities of logits

    def key(self):
        return ("Class", self.output, self.logits)

    def bind(self, model, head):
        squash = output_squash(model, self.output)
        logits = head == "linear" if self.logits is None else self.logits
        if squash is not None and logits and head == "model":
            raise ValueError(
                expected("logits", "None or False in a `Class` explained by a method that "
                         "scores the model's outputs", self.logits,
                         f"Output {self.output} ends in a {squash.__name__}, so the method sees "
                         "no logits; pass `logits=True` to the method to score them (methods "
                         "without that option, such as deletion, score probabilities).")
            )
        sigmoid = sigmoid_output(model, self.output)
        apply = squash if (squash is not None and not logits and head == "linear") else None
        if not sigmoid and apply is None:
            return self
        bound = copy.copy(self)
        bound._squash = apply
        if sigmoid:
            bound._sigmoid = "logits" if logits else "probabilities"
            bound._binary = binary_output(model, self.output)
        return bound

    def data(self, model, inputs):
        return self.class_indices(model, batch_count(inputs))

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
        if self._squash is not None:
            values = self._squash(values)
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


class Region(Target):
    """For a segmentation model, the sum of one class's scores over a region of its output.

    The model's output `output` is spatial, `(N, h, w, K)`: a score per pixel and class. The
    target's score is `sum over pixels of mask * output[..., class_index]`: the class's logits
    under a method that scores logits (the output's softmax or sigmoid dropped), the model's
    outputs otherwise. With `mask=None` the region is, in each image, the pixels predicted as
    the class: those whose argmax over `K` is `class_index` (for a sigmoid output, whose units
    are independent labels, those where the unit's probability is at least 0.5). Methods that
    score altered copies of an image (occlusion, RISE, Score-CAM, SmoothGrad...) keep the pixels
    predicted on the unaltered image.

    The masks are data, fed to the compiled graph: other masks never retrace.

    Args:
        class_index: the class, an int in `[0, K)`.
        mask: `None` (the predicted pixels), or an `(h, w)` mask for every image or `(N, h, w)`
            one per image, at the output's resolution: bools, 0/1 or float weights.
        output: which output of a multi-output model: its index, or the name of the layer that
            computes it (as in `model.output_names`).

    Raises:
        TypeError: for a `class_index` or `output` that is not an int, or a mask of other values
            than numbers.
        ValueError: for a mask that is not 2-D or 3-D or holds NaN or inf; for a model whose
            output is not spatial, a class out of range or a mask of another size (when the
            target is used).
    """

    def __init__(self, class_index, mask=None, output=0):
        self.class_index = _check_index(class_index, "class_index")
        self.output = _check_output(output)
        self.mask = None if mask is None else _check_mask(mask)
        self._threshold = None  # set by `bind` for a sigmoid output: the predicted score's bound
        self._opaque = False  # set by `bind` for a subclassed model, whose outputs show late

    def key(self):
        return ("Region", self.class_index, self.output)

    def data_spec(self):
        return tf.TensorSpec((None, None, None), tf.float32)

    def bind(self, model, head):
        sigmoid, opaque = sigmoid_output(model, self.output), not getattr(model, "outputs", None)
        if not (sigmoid or opaque):
            return self
        bound = copy.copy(self)
        bound._threshold = (0.0 if head == "linear" else 0.5) if sigmoid else None
        bound._opaque = opaque
        return bound

    def resolve(self, model):
        self._check_model(model)
        return []

    def _check_model(self, model):
        """Checks the output and class against a model whose outputs can be read."""
        outputs = getattr(model, "outputs", None)
        if not outputs:  # a subclassed model: its outputs are known when it runs
            return None
        if self.output >= len(outputs):
            raise ValueError(
                expected("output", f"an index in [0, {len(outputs) - 1}]", self.output,
                         f"The model has {len(outputs)} output(s).")
            )
        shape = tuple(outputs[self.output].shape)
        if len(shape) != 4:
            raise ValueError(
                expected("target", "a `Region` of a model whose output is spatial, (N, h, w, K)",
                         self, f"Output {self.output} of model '{model.name}' has shape {shape}. "
                         "Explain a classifier with a class target (an int or `keras_vis.Class`).")
            )
        classes = shape[-1]
        if classes is not None and self.class_index >= classes:
            raise ValueError(
                expected("class_index", f"a class index in [0, {classes - 1}]", self.class_index,
                         f"Output {self.output} of model '{model.name}' has {classes} classes.")
            )
        return shape

    def data(self, model, inputs):
        shape = self._check_model(model)
        count = batch_count(inputs)
        if self.mask is None:
            return np.full((count, 1, 1), np.nan, np.float32)
        size = _output_size(model, self.output, inputs, shape)
        if self.mask.ndim == 2:
            fits = size is None or self.mask.shape == size
            masks = np.broadcast_to(self.mask, (count,) + self.mask.shape)
        else:
            fits = len(self.mask) == count and (size is None or self.mask.shape[1:] == size)
            masks = self.mask
        if not fits:
            wanted = (f"{size} for every image or {(count,) + size} one per image" if size
                      else f"(h, w) for every image or ({count}, h, w) one per image")
            raise ValueError(
                expected("mask", f"of shape {wanted}, at the resolution of output "
                         f"{self.output}", self.mask, f"It has shape {self.mask.shape}.")
            )
        warn_blank(f"Region({self.class_index})",
                   np.flatnonzero(~masks.reshape(count, -1).any(axis=1)), REGION, count=count)
        return masks

    def predicted_masks(self, model, values, head):
        """The 0/1 masks of the pixels predicted as the class, from the output's numpy values.

        Args:
            model: the model.
            values: the output's values `(N, h, w, K)` under `head`.
            head: the engine head policy they were computed with (`"linear"`: logits).

        Returns:
            float32 `(N, h, w)`.
        """
        values = np.asarray(values)
        if sigmoid_output(model, self.output):
            predicted = values[..., self.class_index] >= (0.0 if head == "linear" else 0.5)
        else:
            predicted = values.argmax(axis=-1) == self.class_index
        return predicted.astype(np.float32)

    def score(self, outputs, activations, class_index):
        values = tf.cast(outputs[self.output], tf.float32)
        if values.shape.rank != 4:
            raise graph_error(ValueError(
                expected("target", "a `Region` of a model whose output is spatial, (N, h, w, K)",
                         self, f"Output {self.output} has shape {tuple(values.shape)}.")
            ))
        if self._threshold is None:
            predicted = tf.argmax(values, axis=-1, output_type=tf.int32) == self.class_index
        else:
            predicted = values[..., self.class_index] >= self._threshold
        mask = tf.cast(class_index, tf.float32)
        if self._opaque:  # `data` could not check the masks against an output it could not see
            size, given = tf.shape(values)[1:3], tf.shape(mask)[1:3]
            checked = tf.debugging.Assert(
                tf.reduce_all((given == size) | (given == 1)),
                [expected("mask", f"at the resolution of output {self.output}", self.mask,
                          "Output (h, w) and mask (h, w):"), size, given])
            with tf.control_dependencies([checked]):  # before the mask's first use fails
                mask = tf.identity(mask)
        # NaN stands for the predicted pixels, which the argmax gives no gradient through.
        mask = tf.where(tf.math.is_nan(mask), tf.cast(predicted, tf.float32), mask)
        return tf.reduce_sum(values[..., self.class_index] * mask, axis=[1, 2])

    def __repr__(self):
        mask = "None" if self.mask is None else f"<mask shape={self.mask.shape}>"
        return f"Region({self.class_index}, mask={mask}, output={self.output})"


def _check_output(output):
    """An output index, or an output's name (resolved by `for_model`)."""
    if isinstance(output, str) and output:
        return output
    return _check_index(output, "output")


def output_index(model, output):
    """The index of output `output` of `model`, given as an index or as the name of the layer
    that computes it (`model.output_names`)."""
    if not isinstance(output, str):
        return output
    names = list(getattr(model, "output_names", None) or [])
    if output not in names:
        close = difflib.get_close_matches(output, names, n=3, cutoff=0.5)
        hint = f"Did you mean: {', '.join(map(repr, close))}?" if close else (
            f"Its outputs are {names}." if names else "Its outputs have no names to read.")
        raise ValueError(expected("output", f"an output index or the name of an output of "
                                  f"model '{model.name}'", output, hint))
    return names.index(output)


def for_model(target, model):
    """`target` with an output given by name replaced by its index in `model`."""
    if not isinstance(getattr(target, "output", None), str):
        return target
    resolved = copy.copy(target)
    resolved.output = output_index(model, target.output)
    return resolved


def _check_index(value, name):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(expected(name, "an int", value))
    if value < 0:
        raise ValueError(expected(name, "a non-negative int", value))
    return int(value)


def _check_mask(mask):
    """The mask as a read-only float32 array, checked for rank and finite values."""
    if tf.is_tensor(mask):
        mask = mask.numpy()
    values = np.asarray(mask)
    if values.dtype == object or not (np.issubdtype(values.dtype, np.number)
                                      or values.dtype == bool):
        raise TypeError(expected("mask", "None or an array of bools or numbers", mask))
    if values.ndim not in (2, 3):
        raise ValueError(
            expected("mask", "None, an (h, w) mask for every image or (N, h, w) one per image",
                     mask, f"It has {values.ndim} dimension(s).")
        )
    values = values.astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise ValueError(expected("mask", "finite values (no NaN or inf)", mask))
    values.flags.writeable = False
    return values


_OUTPUT_SIZES = weakref.WeakKeyDictionary()  # model -> {(output, input shapes): (h, w)}


def _output_size(model, output, inputs, shape):
    """The `(h, w)` of output `output` for `inputs`: read from its shape, or for a model of open
    input size computed from the layers' output shapes (nothing runs); `None` if unknown."""
    if shape is None:
        return None
    if None not in shape[1:3]:
        return tuple(shape[1:3])
    arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    key = (output, tuple(tuple(a.shape[1:]) for a in arrays))
    sizes = _OUTPUT_SIZES.setdefault(model, {})
    if key not in sizes:
        probes = [keras.KerasTensor((1,) + input_shape, spec.dtype)
                  for input_shape, spec in zip(key[1], model.inputs)]
        try:
            spec = model.compute_output_spec(probes[0] if len(probes) == 1 else probes)
        except Exception:  # a layer refusing the size reports it when the model runs
            return None
        size = tuple(keras.tree.flatten(spec)[output].shape[1:3])
        sizes[key] = None if None in size else size
    return sizes[key]


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
    convert = getattr(target, "as_target", None)
    if callable(convert) and not isinstance(target, type):  # an objective
        return convert()
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


__all__ = ["Target", "Class", "Region", "ScoreFunction", "as_target", "batch_count",
           "PREDICTED", "NEGATIVE", "split_classes", "sigmoid_output", "binary_output",
           "output_squash"]
