"""What a backward rule is, and what it may know about the layer it is applied to.

A `Rule` gives one computation of a layer another backward pass. The graph runner calls it as
`rule(forward, inputs, site)`, where `forward(*inputs)` is the computation as the model does it
(the layer's linear part when the layer has a fused activation; the activation function for an
activation rule). The rule returns exactly `forward`'s values; only the gradient that flows back
through them changes. Guided backprop, deconvnet, every layer-wise relevance propagation rule and
DeepLIFT's rescale rule are all rules.
"""

import functools

import keras
import tensorflow as tf

from keras_vis import _keras
from keras_vis.rules import kinds
from keras_vis.rules.linear import linear_map


class Rule:
    """A backward pass for one computation of a layer; subclasses override `__call__`.

    Class attributes:
        needs_reference: the rule reads the second half of the batch as the reference input of
            the first half (DeepLIFT); the engine then runs images and references together.
        needs_linear_map: the rule computes with the layer's weights (see `Site.linear`), so it
            only applies to layer kinds `keras_vis.rules.linear` can express.
        reads_gates: the rule reads which inputs are gates computed from another input
            (`Site.gates`), found from the model's data flow.
    """

    needs_reference = False
    needs_linear_map = False
    reads_gates = False

    def __call__(self, forward, inputs, site):
        """Computes `forward(*inputs)` with this rule's backward pass.

        Args:
            forward: the computation, a function of the input tensors.
            inputs: the list of input tensors.
            site: the `Site` of the layer (its weights, what is known of its input).

        Returns:
            The output tensor(s), equal to `forward(*inputs)`.
        """
        raise NotImplementedError

    def key(self):
        """A hashable description; rules with equal keys compute the same thing."""
        return (type(self).__name__,) + tuple(sorted(vars(self).items()))

    def __repr__(self):
        options = ", ".join(f"{name}={value!r}" for name, value in sorted(vars(self).items()))
        return f"{type(self).__name__}({options})"

    def __eq__(self, other):
        return isinstance(other, Rule) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())


def recorded(forward, inputs):
    """`(tape, output)`: `forward(*inputs)` computed under a tape watching the inputs, so a
    backward pass can take the computation's own gradient (persistent for several inputs)."""
    with tf.GradientTape(persistent=len(inputs) > 1) as tape:
        for tensor in inputs:
            tape.watch(tensor)
        output = forward(*inputs)
    return tape, output


def with_backward(inputs, output, backward):
    """`output` (a tensor computed from `inputs`), whose gradient is `backward` instead.

    Args:
        inputs: the list of input tensors the gradient flows to.
        output: the forward value, already computed.
        backward: `backward(upstream) -> [gradient per input]` (`None` for no gradient).

    Returns:
        A tensor equal to `output`; backpropagating an upstream gradient `g` through it gives
        `backward(g)` at `inputs`, and nothing through the computation of `output` itself.
    """
    held = tf.stop_gradient(output)

    @tf.custom_gradient
    def attached(*tensors):
        def gradient(upstream):
            return list(backward(upstream))

        return tf.identity(held), gradient

    return attached(*inputs)


def stabilize(z, epsilon):
    """`z` moved away from zero by `epsilon` in its own direction (zero counts as positive)."""
    return z + epsilon * tf.where(z >= 0, tf.ones_like(z), -tf.ones_like(z))


class Site:
    """What a rule may know about the layer it runs on, for one trace.

    Attributes:
        layer: the user's layer (read, never written).
        nonnegative_input: the layer's input is known to be >= 0 (it comes from a ReLU, a
            sigmoid, pooling of such values...), so rules may skip terms of negative inputs.
        folded: the `BatchNormalization` layers canonized into this one, `(before, after)`,
            each `None` where there is none.
        gates: for a rule that `reads_gates`, the positions of the layer's inputs computed from
            another of its inputs (the gate of `x * gate(x)`); `None` if unknown.
    """

    def __init__(self, layer, *, folded=(None, None), nonnegative_input=False, prefix=None,
                 model_inputs=(), layer_inputs=None, gates=None):
        self.layer = layer
        self.gates = gates
        self.folded = folded
        self.nonnegative_input = nonnegative_input
        self._prefix = prefix
        self._model_inputs = list(model_inputs)
        self._layer_inputs = layer_inputs or {}

    @functools.cached_property
    def linear(self):
        """The layer's linear map `z = W x + b` (with `folded` merged in), read at trace time."""
        return linear_map(self.layer, *self.folded)

    def linear_input(self, inputs):
        """What `linear` takes, float32: the layer's input, or the input of the normalization
        folded in before it (whose output the layer was called on)."""
        before = self.folded[0]
        tensor = inputs[0] if before is None else self._layer_inputs[id(before)][0]
        return tf.cast(tensor, tf.float32)

    @property
    def is_folded(self):
        """True if a normalization is folded into this layer."""
        return any(layer is not None for layer in self.folded)

    @property
    def model_input(self):
        """The model's (first) input tensor of this run."""
        return self._model_inputs[0]

    def to_layer_input(self, value):
        """`value`, shaped like the model input, carried to this layer's input through the
        element-wise layers in between (rescaling, normalization, padding). A layer
        normalization maps it with the statistics of this run's images, as it maps them.

        Raises:
            ValueError: if the layers before this one are not such a chain from the input.
        """
        mapping = _CARRIERS + (keras.layers.LayerNormalization,)
        if self._prefix is None or not all(isinstance(l, mapping) for l in self._prefix):
            raise _keras.pass_through_tracing(ValueError(
                f"Expected the layers between the model input and layer '{self.layer.name}' to "
                "be a chain of element-wise layers (rescaling, normalization, padding), to "
                "carry input bounds to it. Received: "
                f"{[type(l).__name__ for l in self._prefix or []] or 'a branching graph'}. "
                "Pass `low=None, high=None`: the bounds are then each image's own extremes "
                "as the layer sees them."
            ))
        for layer in self._prefix:
            if isinstance(layer, keras.layers.LayerNormalization):
                # The statistics are those of what the layer normalized in this run.
                value = _normalized_like(layer, value, self._layer_inputs[id(layer)][0])
            else:
                kwargs = {"training": False} if _keras.takes_training_argument(layer) else {}
                value = _keras.stand_in(layer)(value, **kwargs)
        return value


_CARRIERS = kinds.PREPROCESSING + kinds.INFERENCE_IDENTITY + (
    keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D, keras.layers.ZeroPadding3D)


def _normalized_like(layer, value, images):
    """`value` through `layer` (a `LayerNormalization`) with the statistics of `images`: the same
    affine map, `value · inv + shift`, that the layer applies to the images."""
    value, images = tf.cast(value, tf.float32), tf.cast(images, tf.float32)
    axes = sorted([layer.axis] if isinstance(layer.axis, int) else layer.axis)
    rank = images.shape.rank
    axes = [axis % rank for axis in axes]
    shape = [images.shape[i] if i in axes else 1 for i in range(rank)]

    def broadcast(weight):
        return None if weight is None else tf.reshape(tf.cast(weight, tf.float32), shape)

    gamma, beta = broadcast(layer.gamma), broadcast(layer.beta)
    mean, variance = tf.nn.moments(images, axes=axes, keepdims=True)
    inv = tf.math.rsqrt(variance + layer.epsilon)
    if layer.rms_scaling:  # Keras scales by the variance alone, and adds no beta
        return value * inv * (1.0 if gamma is None else gamma)
    if gamma is not None:
        inv = inv * gamma
    shift = -mean * inv + (0.0 if beta is None else beta)
    return value * inv + shift
