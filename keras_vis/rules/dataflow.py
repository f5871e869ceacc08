"""What composites need to know about a model's data flow, read without running it.

`DataFlow` walks the layer graph with the graph runner's own walk (descending into nested models)
on placeholder values instead of tensors, and records every layer call: which values it reads and
produces. From that it answers the questions rules ask: which linear layers come first from the
input (the special first-layer rule), which `BatchNormalization` layers directly follow a linear
layer and can be folded into it (canonization), which layer inputs are known to be non-negative
(after a ReLU), and the chain of layers between the input and a first layer (to carry input
bounds to it).
"""

import dataclasses

import keras

from keras_vis.graph import activation_name, fused_activation, output_count, walk
from keras_vis.layers import output_shape
from keras_vis.rules import kinds
from keras_vis.rules.linear import has_linear_map

NONNEGATIVE_ACTIVATIONS = frozenset(
    {"relu", "relu6", "sigmoid", "softmax", "softplus", "hard_sigmoid", "exponential"})

# Layers whose output is non-negative where all their inputs are.
_KEEPS_SIGN = (kinds.WINNERS + kinds.AVERAGE_POOLING + kinds.ROUTING + kinds.INFERENCE_IDENTITY
               + (keras.layers.Add, keras.layers.Average, keras.layers.Multiply))


class _Value:
    """A placeholder for a tensor: which call produced it (`None` for a model input)."""

    __slots__ = ("producer", "nonnegative")

    def __init__(self, producer=None, nonnegative=False):
        self.producer = producer
        self.nonnegative = nonnegative


@dataclasses.dataclass(eq=False)
class Call:
    """One call of a layer: the values it read and produced."""

    layer: keras.layers.Layer
    inputs: list
    outputs: list


def _is_nonnegative(layer, inputs):
    name = activation_name(layer)
    if isinstance(layer, keras.layers.ReLU):
        return not layer.negative_slope and layer.threshold >= 0
    if name is not None:
        return name in NONNEGATIVE_ACTIVATIONS
    if isinstance(layer, _KEEPS_SIGN):
        return bool(inputs) and all(value.nonnegative for value in inputs)
    return False


def _upstream(value):
    """The ids of every value `value` is computed from."""
    found, pending = set(), [value]
    while pending:
        producer = pending.pop().producer
        if producer is None:
            continue
        for read in producer.inputs:
            if id(read) not in found:
                found.add(id(read))
                pending.append(read)
    return found


def _normalizes_last_axis(layer):
    shape = output_shape(layer)
    return shape is not None and layer.axis in (-1, len(shape) - 1)


class DataFlow:
    """The layer calls of a model in execution order, with the values between them.

    Args:
        model: a built functional or sequential `keras.Model`.
    """

    def __init__(self, model):
        self.calls = []
        self.inputs = [_Value() for _ in model.inputs]
        self.outputs = walk(model, list(self.inputs), self._record)
        self._consumers = {}
        for call in self.calls:
            for value in call.inputs:
                self._consumers.setdefault(id(value), []).append(call)
        counts = {}
        for call in self.calls:
            counts[id(call.layer)] = counts.get(id(call.layer), 0) + 1
        self._call_counts = counts

    def _record(self, layer, args, kwargs):
        inputs = [v for v in keras.tree.flatten((args, kwargs)) if isinstance(v, _Value)]
        call = Call(layer, inputs, [])
        nonnegative = _is_nonnegative(layer, inputs)
        call.outputs = [_Value(call, nonnegative) for _ in range(output_count(layer))]
        self.calls.append(call)
        return call.outputs[0] if len(call.outputs) == 1 else list(call.outputs)

    def layers(self):
        """Every layer called, once each, in execution order."""
        seen, layers = set(), []
        for call in self.calls:
            if id(call.layer) not in seen:
                seen.add(id(call.layer))
                layers.append(call.layer)
        return layers

    def calls_of(self, layer):
        return [call for call in self.calls if call.layer is layer]

    def first_linear_layers(self):
        """The layers with a linear map that no other such layer precedes on any path from the
        input: the ones a composite's `first` rule applies to."""
        memo = {}

        def behind_linear(value):
            if id(value) not in memo:
                producer = value.producer
                memo[id(value)] = producer is not None and (
                    has_linear_map(producer.layer) or any(behind_linear(v)
                                                          for v in producer.inputs))
            return memo[id(value)]

        return [call.layer for call in self.calls if has_linear_map(call.layer)
                and not any(behind_linear(value) for value in call.inputs)]

    def batchnorm_folds(self):
        """The batch normalizations that can be folded into a neighbouring linear layer.

        A normalization folds into the linear layer it directly follows if that layer has no
        activation and feeds nothing else; otherwise into the linear layer it alone directly
        feeds. Either way both are called once and it normalizes the channel axis.

        Returns:
            `(before, after)`: `{id(linear layer): normalization}` for the normalizations folded
            in before and after each layer.
        """
        before, after = {}, {}
        finals = {id(value) for value in self.outputs}
        for call in self.calls:
            layer = call.layer
            if (not isinstance(layer, keras.layers.BatchNormalization) or len(call.inputs) != 1
                    or self._call_counts[id(layer)] != 1 or not _normalizes_last_axis(layer)):
                continue
            value, output = call.inputs[0], call.outputs[0]
            producer = value.producer
            if (producer is not None and self._foldable(producer.layer)
                    and fused_activation(producer.layer) is None
                    and self._consumers.get(id(value)) == [call] and id(value) not in finals
                    and id(producer.layer) not in after):
                after[id(producer.layer)] = layer
                continue
            consumers = self._consumers.get(id(output), [])
            if (len(consumers) == 1 and self._foldable(consumers[0].layer)
                    and len(consumers[0].inputs) == 1 and id(output) not in finals
                    and id(consumers[0].layer) not in before):
                before[id(consumers[0].layer)] = layer
        return before, after

    def _foldable(self, layer):
        return has_linear_map(layer) and self._call_counts[id(layer)] == 1

    def nonnegative_input(self, layer):
        """True if every call of `layer` reads only values known to be >= 0."""
        calls = self.calls_of(layer)
        return bool(calls) and all(value.nonnegative for call in calls for value in call.inputs)

    def gate_inputs(self, layer):
        """The positions of the inputs of `layer`'s call that are computed from another of its
        inputs: the gate of a product `x * gate(x)` (squeeze-and-excitation, hard swish), whatever
        its shape. `None` when the layer is called more than once."""
        calls = self.calls_of(layer)
        if len(calls) != 1:
            return None
        inputs = calls[0].inputs
        upstream = [_upstream(value) for value in inputs]
        return tuple(i for i, found in enumerate(upstream)
                     if any(j != i and id(inputs[j]) in found for j in range(len(inputs))))

    def prefix(self, layer):
        """The layers from the model input to `layer`'s input, in order, if they form a chain of
        single-input calls (`[]` right after the input); `None` otherwise."""
        calls = self.calls_of(layer)
        if len(calls) != 1 or len(calls[0].inputs) != 1:
            return None
        chain, value = [], calls[0].inputs[0]
        while value.producer is not None:
            producer = value.producer
            if len(producer.inputs) != 1:
                return None
            chain.append(producer.layer)
            value = producer.inputs[0]
        return chain[::-1]
