"""Every private Keras (and TensorFlow) API keras_vis relies on, behind one small interface.

Keras 3 has no public way to re-run a model's layer graph with a different function per layer, to
read which layer produced a tensor, or to call a layer without writing to it. These accessors do
it with Keras' private attributes, so a Keras upgrade that moves one of them breaks this file
only, with a `KerasAPIError` that names what is missing; `tests/core/test_keras_api.py` pins the
behaviour each accessor relies on.
"""

import contextlib

import keras


class KerasAPIError(RuntimeError):
    """A private Keras attribute keras_vis relies on is missing or behaves differently."""


def _missing(what, owner):
    return KerasAPIError(
        f"keras_vis needs Keras' private `{what}`, which {type(owner).__name__} of Keras "
        f"{keras.version()} does not have. This Keras version is not supported yet; install the "
        "Keras version keras_vis was released with (see its `pyproject.toml`)."
    )


def layer_graph(model):
    """The functional graph that runs `model`, or `None` for a subclassed model.

    A `Sequential` model keeps its graph in a private functional model once built.
    """
    graph = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    if graph is None or not hasattr(graph, "_run_through_graph"):
        return None
    return graph


def run_through_graph(graph, inputs, operation_fn):
    """Runs a functional graph on `inputs`, computing each node as `operation_fn(layer)(*args,
    **kwargs)` in topological order; returns the outputs in the graph's output structure."""
    try:
        run = graph._run_through_graph
    except AttributeError:
        raise _missing("Function._run_through_graph", graph) from None
    return run(inputs, operation_fn=operation_fn)


def nodes_by_depth(graph):
    """`{depth: [node, ...]}` of a functional graph; the inputs have the largest depth."""
    try:
        return graph._nodes_by_depth
    except AttributeError:
        raise _missing("Function._nodes_by_depth", graph) from None


def history(tensor):
    """`(layer, node_index, tensor_index)`: which call of which layer produced a symbolic tensor."""
    try:
        record = tensor._keras_history
    except AttributeError:
        raise _missing("KerasTensor._keras_history", tensor) from None
    return record.operation, record.node_index, record.tensor_index


def producing_call(tensor):
    """`(layer, node, tensor_index)`: the layer, the call of it (its node) and which of the call's
    outputs made a symbolic tensor.

    A layer called more than once (a nested base called on a built input and again in a
    `Sequential`, or a reloaded model) has several nodes; the history's node index picks the one.
    """
    layer, node_index, index = history(tensor)
    nodes = inbound_nodes(layer)
    if not 0 <= node_index < len(nodes):
        raise _missing("Operation._inbound_nodes[KerasHistory.node_index]", layer)
    return layer, nodes[node_index], index


def inbound_nodes(layer):
    """The calls of `layer` recorded in the functional graphs it belongs to."""
    return list(getattr(layer, "_inbound_nodes", None) or [])


def outbound_nodes(layer):
    """The calls of other layers that consume an output of `layer`."""
    return list(getattr(layer, "_outbound_nodes", None) or [])


def node_layer(node):
    """The layer a node is a call of, or `None` for an input node."""
    try:
        return None if node.is_input else node.operation
    except AttributeError:
        raise _missing("Node.operation", node) from None


def node_inputs(node):
    """The symbolic tensors a node was called on, flattened."""
    try:
        return list(node.input_tensors)
    except AttributeError:
        raise _missing("Node.input_tensors", node) from None


def node_arguments(node):
    """`(args, kwargs)` a node was called with: symbolic tensors where tensors were passed, and
    the constants as they were (the `1.0` of `x + 1.0`, a `GetItem`'s index)."""
    try:
        arguments = node.arguments
        return tuple(arguments.args), dict(arguments.kwargs)
    except AttributeError:
        raise _missing("Node.arguments", node) from None


def operation_type(operation):
    """The class name of a Keras operation (`"Add"` for the `x + 1.0` of a functional model,
    `"GetItem"`, `"Relu"`), or `None` for layers and for operations from elsewhere.

    Keras records a `keras.ops` call on a symbolic tensor as an instance of a class in its private
    `keras.src.ops` modules, named after the operation.
    """
    if isinstance(operation, keras.layers.Layer):
        return None
    if not type(operation).__module__.startswith("keras.src.ops."):
        return None
    return type(operation).__name__


def application_layer_types(*paths):
    """The classes of custom layers `keras.applications` models are built of, which Keras does not
    export: `"convnext.LayerScale"` names `keras.src.applications.convnext.LayerScale`. A class
    this Keras version lacks is left out (a model built by it cannot hold one)."""
    import importlib

    found = []
    for path in paths:
        module, _, name = path.rpartition(".")
        try:
            found.append(getattr(importlib.import_module(f"keras.src.applications.{module}"),
                                 name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def node_outputs(node):
    """The symbolic tensors a node produced, flattened."""
    try:
        return list(node.outputs)
    except AttributeError:
        raise _missing("Node.outputs", node) from None


class _Caller:
    """Stands for the model call keras_vis makes layer by layer: the entry of the call context."""

    name = "keras_vis"


@contextlib.contextmanager
def inference_context():
    """Layer calls inside run as inside `model(x, training=False)`.

    Keras resolves `training` for a layer whose caller passed none from the call context the
    outermost layer call opened: `predict` opens it with `training=False`, and every nested layer
    and sublayer reads that value, also those called from a custom layer's `call` that takes no
    `training` argument. keras_vis calls the layers one by one, so it opens that context itself;
    without it a sublayer whose `call` defaults to `training=True` (`Resizing`, every random
    augmentation) would put the layers called after it into training mode (BatchNorm statistics
    updated, dropout on). The context belongs to the current thread only.
    """
    try:
        from keras.src.backend.common import global_state
        from keras.src.layers.layer import CallContext
    except ImportError:
        raise KerasAPIError(
            f"keras_vis needs Keras' private `keras.src.layers.layer.CallContext`, which Keras "
            f"{keras.version()} does not have. This Keras version is not supported yet; install "
            "the Keras version keras_vis was released with (see its `pyproject.toml`)."
        ) from None
    previous = global_state.get_global_attribute("current_call_ctx")
    context = CallContext(entry_layer=_Caller())
    context.training = False
    global_state.set_global_attribute("current_call_ctx", context)
    try:
        yield context
    finally:
        global_state.set_global_attribute("current_call_ctx", previous)


def takes_training_argument(layer):
    """Whether the layer's `call` accepts `training=` (Dropout, BatchNormalization, models)."""
    return bool(getattr(layer, "_call_has_training_arg", False))


# Per-call bookkeeping a layer's `__call__` writes into lists and sets it owns: a stand-in gets its
# own, so nothing of the original is ever cleared or appended to.
_CALL_STATE = {"_losses": list, "_loss_ids": set}


def stand_in(layer, **overrides):
    """A copy of `layer` for one trace: same class, same variables, its own attribute dict.

    Calling it runs the layer's own `__call__` and `call` (dtype casting, autocasting, `training`),
    but every attribute `__call__` writes (`_called`, `built`, losses) and every override (say
    `activation=`) lands in the copy, never in `layer`, which may be in use by another thread.
    Sublayers get stand-ins of their own. Nothing is copied but references: weights are shared.

    Args:
        layer: a built `keras.layers.Layer`, or a subclassed model run as a whole (the models held
            in its attributes are not copied).
        **overrides: attributes the copy holds instead of the layer's.
    """
    state = dict(vars(layer))
    for name, make in _CALL_STATE.items():
        if name in state:
            state[name] = make()
    for name, value in state.items():
        if isinstance(value, keras.layers.Layer) and not isinstance(value, keras.Model):
            state[name] = stand_in(value)
    if isinstance(state.get("_layers"), list):
        by_id = {id(value): state[name] for name, value in vars(layer).items()
                 if isinstance(value, keras.layers.Layer)}
        state["_layers"] = [by_id.get(id(sub), sub) for sub in state["_layers"]]
    state.update(overrides)
    copy = object.__new__(type(layer))
    # Layers route attribute writes through tracking hooks; the copy's dict is set directly.
    object.__setattr__(copy, "__dict__", state)
    return copy


def pass_through_tracing(error):
    """Marks `error`, raised while a `tf.function` is traced, to reach the caller as raised.

    AutoGraph otherwise re-raises it with the traced code's stack written into its message.
    """
    error.ag_pass_through = True
    return error
