"""The behaviour of Keras' private APIs that keras_vis relies on, pinned through `keras_vis._keras`.

A Keras upgrade that changes one of them fails here, next to the one accessor that needs fixing.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vis import _keras


def chain_model():
    inputs = keras.Input((6, 6, 3), name="pixels")
    x = keras.layers.Conv2D(2, 3, activation="relu", activity_regularizer="l2", name="conv")(inputs)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="chain")


def test_layer_graph_of_functional_sequential_and_subclassed_models():
    functional = chain_model()
    assert _keras.layer_graph(functional) is functional
    sequential = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    graph = _keras.layer_graph(sequential)
    assert graph is not None and graph is not sequential
    assert [layer.name for layer in graph.layers[1:]] == [layer.name for layer in sequential.layers]

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    assert _keras.layer_graph(Subclassed()) is None


def test_run_through_graph_calls_each_layer_in_order_on_any_values():
    model = chain_model()
    seen = []

    def operation(layer):
        def run(*args, **kwargs):
            seen.append((layer.name, args))
            return f"{layer.name}({args[0]})"

        return run

    outputs = _keras.run_through_graph(model, ["x"], operation)
    assert [name for name, _ in seen] == ["conv", "flat", "drop", "head"]
    assert outputs == "head(drop(flat(conv(x))))"


def test_nodes_by_depth_puts_the_input_deepest():
    model = chain_model()
    by_depth = _keras.nodes_by_depth(model)
    deepest = by_depth[max(by_depth)]
    assert [_keras.node_layer(node) for node in deepest] == [None]  # the input node
    layers = {_keras.node_layer(node).name for nodes in by_depth.values() for node in nodes
              if _keras.node_layer(node) is not None}
    assert layers == {"conv", "flat", "drop", "head"}


def test_history_and_nodes_connect_layers():
    model = chain_model()
    layer, node_index, tensor_index = _keras.history(model.outputs[0])
    assert (layer.name, node_index, tensor_index) == ("head", 0, 0)
    (node,) = _keras.inbound_nodes(model.get_layer("head"))
    (producer, _, _) = _keras.history(_keras.node_inputs(node)[0])
    assert producer is model.get_layer("drop")
    assert _keras.node_outputs(node)[0] is model.outputs[0]
    (consumer,) = _keras.outbound_nodes(model.get_layer("drop"))
    assert _keras.node_layer(consumer) is model.get_layer("head")


def test_producing_call_picks_the_node_a_tensor_came_from():
    base = chain_model()
    model = keras.Sequential([base, keras.layers.Dense(2, name="top")])
    model.build((None, 6, 6, 3))  # `base` now has two calls: its own graph and the Sequential's
    layer, node, index = _keras.producing_call(model.outputs[0])
    assert (layer.name, index) == ("top", 0)
    assert _keras.node_outputs(node)[0] is model.outputs[0]
    (inner, _, _) = _keras.history(_keras.node_inputs(node)[0])
    assert inner is base and len(_keras.inbound_nodes(base)) == 2
    _, inner_node, _ = _keras.producing_call(_keras.node_inputs(node)[0])
    assert inner_node is not _keras.inbound_nodes(base)[0]


def test_training_argument_is_known_per_layer():
    model = chain_model()
    assert _keras.takes_training_argument(model.get_layer("drop"))
    assert not _keras.takes_training_argument(model.get_layer("flat"))


def test_stand_in_computes_like_the_layer_and_writes_only_to_itself():
    model = chain_model()
    conv = model.get_layer("conv")
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    state = dict(vars(conv))
    losses = conv._losses
    twin = _keras.stand_in(conv, activation=keras.activations.linear)
    assert type(twin) is type(conv)
    assert twin.kernel is conv.kernel and twin.bias is conv.bias  # shared, not copied
    linear = tf.function(lambda t: twin(t), autograph=False)(x).numpy()
    assert linear.min() < 0  # the pre-activation: the override took effect
    np.testing.assert_allclose(np.maximum(linear, 0), conv(x).numpy(), rtol=1e-6, atol=1e-6)
    assert conv.activation is keras.activations.relu
    assert twin._losses and conv._losses is losses  # the regularizer loss went to the copy
    assert {name: id(value) for name, value in vars(conv).items()} == {
        name: id(value) for name, value in state.items()}


def test_stand_in_gives_sublayers_stand_ins_of_their_own():
    wrapper = keras.layers.TimeDistributed(keras.layers.Dense(2, activation="relu"))
    wrapper.build((None, 3, 4))
    twin = _keras.stand_in(wrapper)
    assert twin.layer is not wrapper.layer and type(twin.layer) is type(wrapper.layer)
    assert twin.layer.kernel is wrapper.layer.kernel
    x = np.ones((1, 3, 4), "float32")
    np.testing.assert_allclose(twin(x).numpy(), wrapper(x).numpy())


def test_marked_errors_leave_a_traced_function_as_raised():
    message = "Expected `x` to be plain. Received: x=1"

    @tf.function
    def failing(x):
        raise _keras.pass_through_tracing(ValueError(message))

    with pytest.raises(ValueError) as raised:
        failing(tf.constant(1.0))
    assert str(raised.value) == message


def test_a_missing_private_attribute_is_named():
    with pytest.raises(_keras.KerasAPIError, match="Function._run_through_graph"):
        _keras.run_through_graph(object(), [], lambda layer: layer)
    with pytest.raises(_keras.KerasAPIError, match="KerasTensor._keras_history"):
        _keras.history(np.zeros(2))


class _TrainingProbe(keras.layers.Layer):
    """Records the `training` each call receives; its own default is `training=True`, as an
    augmentation layer's is."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, inputs, training=True):
        self.seen.append(training)
        return inputs


class _NoTrainingArgument(keras.layers.Layer):
    """A custom layer whose `call` takes no `training`, calling a sublayer that does."""

    def __init__(self, probe, **kwargs):
        super().__init__(**kwargs)
        self.probe = probe

    def call(self, inputs):
        return self.probe(inputs)


def test_inference_context_gives_training_false_to_sublayers_of_a_layer_without_the_argument():
    probe = _TrainingProbe()
    outer = _NoTrainingArgument(probe)
    x = tf.ones((1, 2))
    outer(x)  # no context: the sublayer falls back to its own default
    with _keras.inference_context():
        outer(x)
        with _keras.inference_context():  # nested, as nested models open it again
            outer(x)
        outer(x)
    outer(x)  # the context is closed again: nothing of it stays behind
    assert probe.seen == [True, False, False, False, True]


def test_inference_context_belongs_to_its_thread():
    import threading

    here, elsewhere = _TrainingProbe(), _TrainingProbe()
    with _keras.inference_context():
        thread = threading.Thread(
            target=lambda: _NoTrainingArgument(elsewhere)(tf.ones((1, 2))))
        thread.start()
        thread.join()
        _NoTrainingArgument(here)(tf.ones((1, 2)))
    assert here.seen == [False] and elsewhere.seen == [True]


def test_operation_nodes_are_described_with_their_constants():
    inputs = keras.Input((4, 4, 3))
    shifted = inputs / 127.5 - 1.0
    model = keras.Model(inputs, shifted)
    divide = next(op for op in model.operations if _keras.operation_type(op) == "TrueDivide")
    args, _ = _keras.node_arguments(_keras.inbound_nodes(divide)[0])
    assert isinstance(args[0], keras.KerasTensor) and args[1] == 127.5
    assert _keras.operation_type(model.operations[0]) is None  # the input layer is a layer
    layer_scale, = _keras.application_layer_types("convnext.LayerScale")
    assert issubclass(layer_scale, keras.layers.Layer)
    assert _keras.application_layer_types("convnext.NoSuchLayer") == ()
