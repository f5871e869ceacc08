"""Running a model with a linear head and modified ReLU gradients, without changing the model.

`GraphRunner` executes a model's layer graph itself, descending into nested models, so it can
(1) record the output of any inner layer, also inside a pretrained base nested in a
transfer-learning model, and (2) apply two policies while the graph is traced:

- head `"linear"`: the output's softmax/sigmoid is skipped, so class scores are logits;
- ReLU gradient `"guided"` or `"deconvnet"`: the backward pass of every ReLU is rectified.

Weights are shared, never copied. A ReLU or softmax fused into a layer (`Conv2D(activation="relu")`)
is swapped for the length of that one layer call and restored in a `finally`, so the model is left
exactly as it was, also when the call raises.
"""

import contextlib
import warnings
import weakref

import keras
import tensorflow as tf

from keras_vis._checks import check_choice, check_layer_graph, graph_error, has_layer_graph
from keras_vis.layers import is_model

HEAD_POLICIES = ("linear", "model")
RELU_POLICIES = ("standard", "guided", "deconvnet")

_RELU_NAMES = {"relu", "relu6"}
_SQUASH_NAMES = {"softmax", "sigmoid", "log_softmax"}


def _activation_name(activation):
    return getattr(activation, "__name__", None)


def rectify_gradient(function, policy):
    """Wraps `function` (a ReLU-like activation) so its backward pass follows `policy`.

    - `"guided"`: the gradient of `function` applied to the positive part of the upstream gradient
      (Springenberg et al.): the forward mask and the backward mask together.
    - `"deconvnet"`: the positive part of the upstream gradient, whatever the forward input was
      (Zeiler & Fergus).
    """

    @tf.custom_gradient
    def rectified(x):
        if policy == "deconvnet":
            return function(x), lambda upstream: tf.nn.relu(upstream)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)

        def backward(upstream):
            return tape.gradient(y, x, output_gradients=tf.nn.relu(upstream))

        return y, backward

    return rectified


def _identity(x):
    return x


def head_layers(model):
    """The layers that produce the model's outputs, followed into nested models.

    A subclassed model has no readable graph: it has no head layers, and is scored on its own outputs.
    """
    found = []
    for tensor in getattr(model, "outputs", None) or []:
        operation = tensor._keras_history.operation
        index = tensor._keras_history.tensor_index
        while is_model(operation):
            inner = operation.outputs[index] if len(operation.outputs) > 1 else operation.outputs[0]
            operation = inner._keras_history.operation
            index = inner._keras_history.tensor_index
        found.append(operation)
    return found


@contextlib.contextmanager
def _swapped_activation(layer, activation):
    original = layer.activation
    layer.activation = activation
    try:
        yield
    finally:
        layer.activation = original


class GraphRunner:
    """Calls a model layer by layer under the given policies and records chosen layers' outputs.

    Args:
        model: a built functional or sequential `keras.Model`; subclassed models run as a whole
            (no inner taps, no ReLU policy, and their outputs kept as they are: `head="linear"`
            warns that it cannot drop a softmax it cannot see).
        taps: layers whose outputs to record.
        head: `"linear"` to drop the output softmax/sigmoid, `"model"` to keep it.
        relu: `"standard"`, `"guided"` or `"deconvnet"`.
        taps_only: stop computing once every tap is recorded; the model outputs are then `None`.
            This runs the layers up to the taps on inputs of any size the convolutions accept
            (a VGG16 with its 224² classifier top, fed 128² images to look at `block3_conv1`).
    """

    def __init__(self, model, taps=(), *, head="linear", relu="standard", taps_only=False):
        check_choice(head, "head", HEAD_POLICIES)
        check_choice(relu, "relu", RELU_POLICIES)
        if taps or relu != "standard":
            check_layer_graph(model)  # here, not while tracing, so the error reads plainly
        if head == "linear" and not has_layer_graph(model):
            warnings.warn(
                f"Model '{model.name}' is a subclassed {type(model).__name__}, whose output layer "
                "cannot be read: its outputs are scored as they are, not as pre-softmax logits "
                "(so as probabilities if it ends in a softmax). Pass `logits=False` "
                "(`head=\"model\"`) to score its outputs knowingly, or build it with the "
                "functional API.",
                stacklevel=2,
            )
        self._model = weakref.ref(model)
        self._tap_ids = [id(layer) for layer in taps]
        self._head_ids = {id(layer) for layer in head_layers(model)} if head == "linear" else set()
        self._relu = relu
        self._taps_only = taps_only
        self._recorded = {}

    def __call__(self, inputs):
        """Runs the model on `inputs` (a list of tensors).

        Returns:
            `(outputs, activations)`: the list of model outputs and the list of tapped outputs.
        """
        self._recorded = {}
        try:
            outputs = self._run_model(self._model(), list(inputs))
            missing = [i for i in self._tap_ids if i not in self._recorded]
            if missing:
                raise graph_error(ValueError(
                    "Expected every tapped layer to be on the path from the model's inputs to its "
                    f"outputs. Received: {len(missing)} layer(s) that the forward pass never reached."
                ))
            return outputs, [self._recorded[i] for i in self._tap_ids]
        finally:
            self._recorded = {}

    def _run_model(self, model, inputs):
        graph = model._functional if isinstance(model, keras.Sequential) else model
        if graph is None or not hasattr(graph, "_run_through_graph"):
            return self._run_opaque(model, inputs)
        outputs = graph._run_through_graph(inputs, operation_fn=self._operation)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def _run_opaque(self, model, inputs):
        if self._tap_ids or self._relu != "standard":
            raise graph_error(ValueError(
                f"Expected a functional or sequential model. Received: model '{model.name}' of "
                f"subclassed type {type(model).__name__}, whose layer graph cannot be read, so inner "
                "layers cannot be tapped and ReLU gradients cannot be changed. Build it with the "
                "functional API (`keras.Model(inputs, outputs)`), or use a method that needs only "
                "the input gradient."
            ))
        outputs = model(inputs[0] if len(inputs) == 1 else inputs, training=False)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def _operation(self, operation):
        def call(*args, **kwargs):
            if self._taps_only and len(self._recorded) == len(set(self._tap_ids)):
                return None
            if is_model(operation):
                flat = [t for t in tf.nest.flatten(args)]
                outputs = self._run_model(operation, flat)
                result = outputs[0] if len(outputs) == 1 else outputs
            else:
                if getattr(operation, "_call_has_training_arg", False):
                    kwargs["training"] = False
                result = self._call_layer(operation, args, kwargs)
            if id(operation) in self._tap_ids:
                self._recorded[id(operation)] = result
            return result

        return call

    def _call_layer(self, layer, args, kwargs):
        is_head = id(layer) in self._head_ids
        if is_head and isinstance(layer, keras.layers.Softmax):
            return args[0]
        if self._relu != "standard" and isinstance(layer, (keras.layers.ReLU, keras.layers.LeakyReLU)):
            return rectify_gradient(lambda x: layer(x, *args[1:], **kwargs), self._relu)(args[0])
        activation = getattr(layer, "activation", None)
        name = _activation_name(activation)
        replacement = None
        if is_head and name in _SQUASH_NAMES:
            replacement = _identity
        elif self._relu != "standard" and name in _RELU_NAMES:
            replacement = rectify_gradient(activation, self._relu)
        if replacement is None:
            return layer(*args, **kwargs)
        with _swapped_activation(layer, replacement):
            return layer(*args, **kwargs)
