"""Running a model's layer graph ourselves: inner taps, a linear head and per-layer backward rules.

`GraphRunner` executes a functional or sequential model layer by layer, descending into nested
models, so it can (1) record the output of any inner layer, also inside a pretrained base nested in
a transfer-learning model, or its linear part before a fused activation, (2) skip the output
softmax/sigmoid so class scores are logits, and (3) give each layer the backward pass a
`keras_vis.rules` composite assigns it (guided backprop, deconvnet, layer-wise relevance
propagation, DeepLIFT). `record_calls` lists the calls of a forward pass and what each reads;
`Partial` runs some of them on values fed for the others (incremental occlusion's updated maps),
and `Downstream` only the part of a model computed from one layer's output, on values fed for
that layer (Ablation-CAM's altered copies of its activations).

The user's layers are never written to, not even for a moment: each layer runs as a per-trace
stand-in (`keras_vis._keras.stand_in`) that shares its variables, and a layer's linear part
(before its fused activation) is a stand-in whose `activation` is the identity. Another thread
calling the model meanwhile sees it exactly as it is.
"""

import warnings
import weakref

import keras
import tensorflow as tf

from keras_vis import _keras, operations
from keras_vis._checks import (check_choice, check_layer_graph, expected, graph_error,
                               has_layer_graph)
from keras_vis.layers import is_model

HEAD_POLICIES = ("linear", "model")

SQUASH_ACTIVATIONS = frozenset({"softmax", "sigmoid", "log_softmax"})

# Layers whose whole computation is an activation function, with the function's name.
_ACTIVATION_LAYERS = (
    (keras.layers.ReLU, "relu"),
    (keras.layers.LeakyReLU, "leaky_relu"),
    (keras.layers.ELU, "elu"),
    (keras.layers.PReLU, "prelu"),
    (keras.layers.Softmax, "softmax"),
)


def fused_activation(layer):
    """The non-linear activation function a layer applies to its linear part, or `None`.

    `Activation("relu")` layers count too: their linear part is the identity.
    """
    function = None if is_model(layer) else getattr(layer, "activation", None)
    if function is None or not callable(function):
        return None
    name = getattr(function, "__name__", None)
    return None if name == "linear" else function


def activation_name(layer):
    """The name of the activation `layer` computes (fused, as the whole layer, or as an operation
    node such as `keras.ops.relu(x)`), or `None`."""
    if operations.is_operation(layer):
        return operations.activation(layer)
    for kind, name in _ACTIVATION_LAYERS:
        if isinstance(layer, kind):
            return name
    function = fused_activation(layer)
    if function is None:
        return None
    return getattr(function, "__name__", type(function).__name__)


ACTIVATION_LAYER_TYPES = (keras.layers.Activation,) + tuple(k for k, _ in _ACTIVATION_LAYERS)
"""The layers that only apply an activation."""


def is_activation_layer(layer):
    """True for layers that only apply an activation (`ReLU`, `Softmax`, `Activation`, ...) and
    for activation operation nodes (`keras.ops.relu(x)`)."""
    if operations.is_operation(layer):
        return operations.kind(layer) == operations.ACTIVATION
    return isinstance(layer, ACTIVATION_LAYER_TYPES)


def head_layers(model):
    """The layers that produce the model's outputs, followed into nested models.

    A subclassed model has no readable graph: it has no head layers, and is scored on its own
    outputs.
    """
    if _keras.layer_graph(model) is None:
        return []
    return [next(output_chain(model, index)) for index in range(len(model.outputs))]


def output_chain(model, output=0):
    """Yields the layers that compute output `output` of `model`, from the last one backwards.

    The walk follows the very calls that computed the output (a layer called in several graphs,
    such as a base nested in a built or reloaded `Sequential`, has one node per call), enters
    nested models at their output and leaves them at their input. It stops after a layer whose
    call takes other than one input, and after the model's input layer. A subclassed model, whose
    graph cannot be read, yields nothing.
    """
    if _keras.layer_graph(model) is None:
        return
    tensor = model.outputs[output]
    outer = []  # the calls of the nested models the walk is inside, innermost last
    while True:
        layer, node, index = _keras.producing_call(tensor)
        if is_model(layer) and _keras.layer_graph(layer) is not None:
            outer.append(node)
            tensor = layer.outputs[index] if len(layer.outputs) > 1 else layer.outputs[0]
            continue
        if isinstance(layer, keras.layers.InputLayer) and outer:
            inputs = _keras.node_inputs(outer.pop())
        else:
            yield layer
            inputs = _keras.node_inputs(node)
        if len(inputs) != 1:
            return
        tensor = inputs[0]


def walk(model, inputs, call_layer):
    """Runs the layer graph of `model` on `inputs` (a list), descending into nested models.

    Each layer is computed as `call_layer(layer, args, kwargs)`; the values may be tensors or any
    other objects, which lets the same walk trace tensors and analyse the data flow. The calls run
    in Keras' inference call context, so `training=False` reaches every sublayer a layer calls,
    as in `model.predict`.

    Returns:
        The list of the model's outputs.
    """
    graph = _keras.layer_graph(model)

    def operation(layer):
        def run(*args, **kwargs):
            if is_model(layer) and _keras.layer_graph(layer) is not None:
                outputs = walk(layer, tf.nest.flatten(args), call_layer)
                return outputs[0] if len(outputs) == 1 else outputs
            return call_layer(layer, args, kwargs)

        return run

    with _keras.inference_context():
        outputs = _keras.run_through_graph(graph, inputs, operation)
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


class GraphRunner:
    """Calls a model layer by layer under a head policy and backward rules, recording taps.

    Args:
        model: a built functional or sequential `keras.Model`; subclassed models run as a whole
            (no inner taps, no rules, and their outputs kept as they are: `head="linear"` warns
            that it cannot drop a softmax it cannot see).
        taps: layers whose outputs to record.
        head: `"linear"` to drop the output softmax/sigmoid, `"model"` to keep it.
        plan: a `keras_vis.rules.Plan` (from `Composite.plan(model)`) giving layers their
            backward rules; `None` for the plain gradient everywhere.
        taps_only: stop computing once every tap is recorded; the model outputs are then `None`.
            This runs the layers up to the taps on inputs of any size the convolutions accept
            (a VGG16 with its 224² classifier top, fed 128² images to look at `block3_conv1`).
        linear_taps: layers whose linear part to record, after the taps: the output before the
            layer's fused activation (`Conv2D(activation="relu")` records the convolution plus
            bias), or the output itself for a layer without one. A gradient with respect to it is
            the gradient with respect to the layer's pre-activation.
    """

    def __init__(self, model, taps=(), *, head="linear", plan=None, taps_only=False,
                 linear_taps=()):
        check_choice(head, "head", HEAD_POLICIES)
        if taps or linear_taps or plan is not None:
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
        self._linear_ids = [id(layer) for layer in linear_taps]
        self._head_ids = {id(layer) for layer in head_layers(model)} if head == "linear" else set()
        self._plan = plan
        self._taps_only = taps_only

    def __call__(self, inputs):
        """Runs the model on `inputs` (a list of tensors).

        Returns:
            `(outputs, activations)`: the list of model outputs and the list of tapped outputs
            (then the linear parts of `linear_taps`).
        """
        trace = _Trace(self, list(inputs))
        model = self._model()
        if _keras.layer_graph(model) is None:
            outputs = trace.run_opaque(model)
        else:
            outputs = walk(model, trace.inputs, trace.call_layer)
        return outputs, trace.taps()


class _Trace:
    """One run of a `GraphRunner`: the recorded taps and the layers' stand-ins."""

    def __init__(self, runner, inputs):
        self.runner = runner
        self.inputs = inputs
        self.recorded = {}
        self.linear_recorded = {}
        self.layer_inputs = {}  # id(layer) -> the tensors it was called on, for rules to read

    def taps(self):
        """The recorded taps, then the recorded linear parts, in the runner's order."""
        runner = self.runner
        missing = ([i for i in runner._tap_ids if i not in self.recorded]
                   + [i for i in runner._linear_ids if i not in self.linear_recorded])
        if missing:
            raise graph_error(ValueError(
                "Expected every tapped layer to be on the path from the model's inputs to its "
                f"outputs. Received: {len(missing)} layer(s) that the forward pass never reached."
            ))
        return ([self.recorded[i] for i in runner._tap_ids]
                + [self.linear_recorded[i] for i in runner._linear_ids])

    def _all_recorded(self):
        runner = self.runner
        return (len(self.recorded) == len(set(runner._tap_ids))
                and len(self.linear_recorded) == len(set(runner._linear_ids)))

    def run_opaque(self, model):
        runner = self.runner
        if runner._tap_ids or runner._linear_ids or runner._plan is not None:
            raise graph_error(ValueError(
                f"Expected a functional or sequential model. Received: model '{model.name}' of "
                f"subclassed type {type(model).__name__}, whose layer graph cannot be read, so "
                "inner layers cannot be tapped and backward rules cannot be applied. Build it "
                "with the functional API (`keras.Model(inputs, outputs)`), or use a method that "
                "needs only the input gradient."
            ))
        inputs = self.inputs
        with _keras.inference_context():
            outputs = _keras.stand_in(model)(inputs[0] if len(inputs) == 1 else inputs,
                                             training=False)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def call_layer(self, layer, args, kwargs):
        runner = self.runner
        if runner._taps_only and self._all_recorded():
            return None
        if _keras.takes_training_argument(layer):
            kwargs = {**kwargs, "training": False}
        result = self._compute(layer, args, kwargs)
        if id(layer) in runner._tap_ids:
            self.recorded[id(layer)] = result
        return result

    def _compute(self, layer, args, kwargs):
        runner = self.runner
        is_head = id(layer) in runner._head_ids
        if is_head and isinstance(layer, keras.layers.Softmax):
            return args[0]
        assigned = runner._plan.get(layer) if runner._plan is not None else None
        layer_rule = assigned.layer_rule if assigned else None
        activation_rule = assigned.activation_rule if assigned else None
        tensors = tensor_operands(layer, args)
        self.layer_inputs[id(layer)] = tensors
        site = assigned.site(self.inputs, self.layer_inputs) if assigned else None
        activation = fused_activation(layer)
        drop = is_head and getattr(activation, "__name__", None) in SQUASH_ACTIVATIONS
        linear_tap = id(layer) in runner._linear_ids
        if activation is not None and (drop or layer_rule or activation_rule or linear_tap):
            linear = _keras.stand_in(layer, activation=keras.activations.linear)
            before = _apply(layer_rule, _forward(linear, args, kwargs), tensors, site)
            if linear_tap:
                self.linear_recorded[id(layer)] = before
            return before if drop else _apply(activation_rule, activation, [before], site)
        rule = activation_rule if is_activation_layer(layer) else layer_rule
        result = _apply(rule, _forward(_keras.stand_in(layer), args, kwargs), tensors, site)
        if linear_tap:
            self.linear_recorded[id(layer)] = result
        return result


def _tensor_slots(layer, flat):
    """Which of a call's flattened positional arguments `flat` are tensors computed by the model,
    as opposed to constants (the `1.0` of `x + 1.0`, the mean tensor of `preprocess_input`, a
    `GetItem`'s index): the positions where the recorded call had symbolic tensors."""
    recorded = operations.recorded_operands(layer)
    if recorded is not None and len(recorded) == len(flat):
        return [i for i, value in enumerate(recorded) if operations.is_symbolic(value)]
    return [i for i, value in enumerate(flat) if tf.is_tensor(value)]


def tensor_operands(layer, args):
    """The tensors `layer` is called on among `args`, flattened, its constants left out."""
    flat = keras.tree.flatten(args)
    return [flat[i] for i in _tensor_slots(layer, flat)]


def _forward(layer, args, kwargs):
    """`layer`'s call as a function of its tensor operands (`tensor_operands` order), its
    constants held as they are."""
    flat = keras.tree.flatten(args)
    slots = _tensor_slots(layer, flat)

    def forward(*tensors):
        values = list(flat)
        for slot, tensor in zip(slots, tensors):
            values[slot] = tensor
        return layer(*keras.tree.pack_sequence_as(args, values), **kwargs)

    return forward


def _apply(rule, forward, tensors, site):
    return forward(*tensors) if rule is None else rule(forward, tensors, site)


class Placeholder:
    """A value in a data-flow walk: output `index` of call number `call` (`None`: model input
    `index`)."""

    __slots__ = ("call", "index")

    def __init__(self, call, index):
        self.call = call
        self.index = index


def output_count(layer):
    """How many outputs a call of `layer` produces."""
    nodes = _keras.inbound_nodes(layer)
    return len(_keras.node_outputs(nodes[0])) if nodes else 1


def record_calls(model):
    """The layer calls of `model`'s forward pass, in the order `walk` makes them.

    Nested models are descended into, so the calls are of leaf layers only.

    Returns:
        `(calls, outputs)`: one `(layer, args, kwargs)` per call, whose tensors are
        `Placeholder`s naming the call (or model input) that produced them, and the model
        outputs as `Placeholder`s.
    """
    calls = []

    def record(called, args, kwargs):
        calls.append((called, args, kwargs))
        made = [Placeholder(len(calls) - 1, k) for k in range(output_count(called))]
        return made[0] if len(made) == 1 else made

    outputs = walk(model, [Placeholder(None, i) for i in range(len(model.inputs))], record)
    return calls, outputs


def reads(args, kwargs):
    """The `Placeholder`s a recorded call reads."""
    return [v for v in keras.tree.flatten((args, kwargs)) if isinstance(v, Placeholder)]


class Partial:
    """Runs some of the layer calls of a model's forward pass on values fed for the others.

    The calls are numbered as `record_calls` numbers them. A run computes the calls in `live`
    (with `GraphRunner`'s head policy and stand-ins) and gives every other call the values fed
    for its outputs, `None` where nothing is fed: a part of the model runs on values computed
    elsewhere (Ablation-CAM's altered activations, incremental occlusion's updated maps).

    Args:
        model: a built functional or sequential `keras.Model`.
        taps: layers whose outputs to record, as in `GraphRunner`.
        head: `"linear"` to drop the output softmax/sigmoid, `"model"` to keep it.
    """

    def __init__(self, model, taps=(), *, head="linear"):
        check_layer_graph(model)
        self.runner = GraphRunner(model, taps, head=head)
        self._model = weakref.ref(model)

    def __call__(self, inputs, live, fed, keep=()):
        """Runs the calls in `live`.

        Args:
            inputs: one value per model input (`None` where no live call reads it).
            live: the numbers of the calls to compute.
            fed: `{(call, k): tensor}`, output `k` of call `call` for the calls not computed.
            keep: the numbers of the live calls whose (first) output to return.

        Returns:
            `(outputs, activations, kept)`: the model outputs (`None` for those not computed),
            the list of tapped outputs and `{call: output}` for the calls in `keep`.
        """
        trace = _PartialTrace(self.runner, live, fed, keep)
        outputs = walk(self._model(), list(inputs), trace.call_layer)
        return outputs, trace.taps(), trace.kept


class _PartialTrace(_Trace):
    """One run of a `Partial`: calls are numbered in the order of the data-flow walk."""

    def __init__(self, runner, live, fed, keep):
        super().__init__(runner, [])
        self.live = live
        self.fed = fed
        self.keep = keep
        self.kept = {}
        self.count = 0

    def call_layer(self, layer, args, kwargs):
        index, self.count = self.count, self.count + 1
        if index in self.live:
            result = super().call_layer(layer, args, kwargs)
            if index in self.keep:
                self.kept[index] = tf.nest.flatten(result)[0]
            return result
        outputs = [self.fed.get((index, k)) for k in range(output_count(layer))]
        if id(layer) in self.runner._tap_ids and outputs[0] is not None:
            self.recorded[id(layer)] = outputs[0]
        return outputs[0] if len(outputs) == 1 else outputs


class Downstream:
    """The part of a model computed from one layer's output, run on values fed for that output.

    The layer's activations are replaced by a fed batch, and only the layer calls that depend on
    them run: the others give `None`, as in a taps-only run. What those calls read from outside
    the part (a residual skip from below the layer, a model input) is its `frontier`, fed too.
    Nested models are descended into; the head policy and the stand-ins are `GraphRunner`'s.

    Args:
        model: a built functional or sequential `keras.Model`.
        layer: the layer whose output is fed; called once in the model's graph.
        taps: layers downstream of `layer` (or `layer` itself) whose outputs to record.
        head: `"linear"` to drop the output softmax/sigmoid, `"model"` to keep it.

    Attributes:
        frontier: what the downstream part reads from outside it, in the order `__call__` takes
            the values: `(None, i)` for model input `i`, `(source, k)` for output `k` of the
            layer `source`.
        reaches: one bool per model output: whether it depends on `layer`. The others are `None`
            in `__call__`'s outputs.

    Raises:
        ValueError: for a subclassed model, a layer the forward pass never reaches or reaches
            more than once, or a tap the layer's output does not reach.
    """

    def __init__(self, model, layer, taps=(), *, head="linear"):
        self._partial = Partial(model, taps, head=head)
        recorded, outputs = record_calls(model)
        calls = [(called, reads(args, kwargs)) for called, args, kwargs in recorded]
        starts = [index for index, (called, _) in enumerate(calls) if called is layer]
        if len(starts) != 1:
            raise ValueError(
                expected("layer", "a layer the model's forward pass calls once", layer.name,
                         f"It is called {len(starts)} times."))
        self._start = starts[0]
        self._call_counts = {}
        for called, _ in calls:
            self._call_counts[id(called)] = self._call_counts.get(id(called), 0) + 1
        live = {self._start}
        frontier = {}
        for index in range(self._start + 1, len(calls)):
            read = calls[index][1]
            if any(value.call in live for value in read):
                live.add(index)
                for value in read:
                    if value.call not in live:
                        frontier.setdefault((value.call, value.index), value)
        self._live = live - {self._start}
        self._frontier = list(frontier)
        self.frontier = [(None if call is None else calls[call][0], index)
                         for call, index in self._frontier]
        self.reaches = [getattr(value, "call", None) in live for value in outputs]
        tapped = {id(calls[index][0]) for index in live}
        unreached = [t.name for t in taps if id(t) not in tapped]
        if unreached:
            raise ValueError(
                expected("taps", f"layers computed from layer '{layer.name}'", unreached))
        self._input_count = len(model.inputs)

    def calls(self, layer):
        """How many times the model's forward pass calls `layer`."""
        return self._call_counts.get(id(layer), 0)

    def __call__(self, activations, frontier):
        """Runs the downstream part.

        Args:
            activations: the tensor fed as the layer's output.
            frontier: one tensor per `frontier` entry, of the same batch size.

        Returns:
            `(outputs, activations)`: the model outputs (`None` for those that do not depend on
            the layer) and the list of tapped outputs.
        """
        fed = dict(zip(self._frontier, frontier))
        inputs = [fed.get((None, i)) for i in range(self._input_count)]
        fed[(self._start, 0)] = activations
        return self._partial(inputs, self._live, fed)[:2]
