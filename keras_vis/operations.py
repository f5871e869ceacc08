"""What the operation nodes of a functional model compute.

A functional model records every `keras.ops` call on a symbolic tensor as a node of its graph,
just as it records layer calls: the `x + 1.0` a user writes, the divisions and the mean of
`preprocess_input` inside a transfer-learning model, `inputs + x` closing each ConvNeXt block,
MobileNetV3's `x * (1 / 6)`. They have names (`"add"`, `"true_divide_1"`) but no weights, and
`model.layers` leaves them out. `kind(operation)` tells what one computes, from its type and the
constants it was called with:

- `"affine"`: an element-wise affine map of one tensor by constants: `x + c`, `x - c`, `c - x`,
  `x * c`, `x / c`, `-x` (`per_position` says whether the constants are the same at every
  position, as a per-channel mean or scale is);
- `"sum"`: the element-wise sum or difference of tensors (a residual connection);
- `"product"`: the element-wise product of tensors (a gate);
- `"extreme"`: the element-wise maximum or minimum of tensors;
- `"routing"`: values moved, copied, cast or padded, not computed with (slicing, stacking,
  concatenating, reshaping, transposing);
- `"activation"`: an element-wise activation function, whose Keras name `activation` gives;
- `None` for anything else (reductions, matrix products, ...), which stays unknown.
"""

import keras
import numpy as np

from keras_vis import _keras

AFFINE = "affine"
SUM = "sum"
PRODUCT = "product"
EXTREME = "extreme"
ROUTING = "routing"
ACTIVATION = "activation"

_ADDITIVE = frozenset({"Add", "Subtract"})
_DIVISIONS = frozenset({"TrueDivide", "Divide"})
_EXTREMES = frozenset({"Maximum", "Minimum"})
_ROUTING = frozenset({
    "GetItem", "Slice", "Stack", "Concatenate", "Reshape", "Transpose", "ExpandDims", "Squeeze",
    "Flip", "Cast", "Copy", "Moveaxis", "Swapaxes", "Ravel", "BroadcastTo", "Tile", "Repeat",
    "Pad", "Split", "Unstack", "Roll",
})
# Element-wise activations, by the name Keras gives the function (`keras.activations`).
_ACTIVATIONS = {
    "Relu": "relu", "Relu6": "relu6", "LeakyRelu": "leaky_relu", "Elu": "elu", "Selu": "selu",
    "Celu": "celu", "Gelu": "gelu", "Silu": "silu", "HardSilu": "hard_silu",
    "Sigmoid": "sigmoid", "HardSigmoid": "hard_sigmoid", "Softplus": "softplus",
    "Softsign": "softsign", "SparsePlus": "sparse_plus", "Squareplus": "squareplus",
    "Tanh": "tanh", "Softmax": "softmax", "LogSoftmax": "log_softmax",
}
# Activations that mix the values along an axis rather than value by value.
_AXIS_ACTIVATIONS = frozenset({"Softmax", "LogSoftmax"})


def is_operation(layer):
    """True for an operation node (`x + 1.0`), as opposed to a layer."""
    return not isinstance(layer, keras.layers.Layer) and isinstance(layer, keras.Operation)


def recorded_operands(operation):
    """The flattened positional arguments of the first recorded call of `operation` (or of a
    layer): symbolic tensors where the model's tensors were passed, the constants as they were;
    `None` when it was never called on symbolic tensors."""
    nodes = _keras.inbound_nodes(operation)
    if not nodes:
        return None
    return keras.tree.flatten(_keras.node_arguments(nodes[0])[0])


def is_symbolic(value):
    """True for a symbolic tensor of the model's graph, as opposed to a constant operand."""
    return isinstance(value, keras.KerasTensor)


def tensor_positions(operation):
    """The positions of the tensors among the operation's flattened positional arguments."""
    return [i for i, value in enumerate(recorded_operands(operation) or ()) if is_symbolic(value)]


def constants(operation):
    """The constant operands of the operation (numbers and arrays), flattened."""
    return [value for value in recorded_operands(operation) or ()
            if not is_symbolic(value) and _is_number_like(value)]


def _is_number_like(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, np.number, np.ndarray)):
        return True
    return hasattr(value, "shape") and hasattr(value, "dtype")  # a backend constant tensor


def kind(operation):
    """What `operation` computes: one of the module's kinds, or `None` (see the module
    docstring). Layers are `None` too."""
    name = _keras.operation_type(operation)
    if name is None:
        return None
    if name in _ACTIVATIONS:
        return ACTIVATION
    if name in _ROUTING:
        return ROUTING
    positions = tensor_positions(operation)
    if not positions:
        return None
    count = len(positions)
    if name == "Negative":
        return AFFINE
    if name in _ADDITIVE or name == "Multiply" or (name in _DIVISIONS and positions == [0]):
        if count == 1:
            return AFFINE
    if name in _ADDITIVE:
        return SUM
    if name == "Multiply" and count == 2:
        return PRODUCT
    if name in _EXTREMES and count >= 2:
        return EXTREME
    return None


def activation(operation):
    """The Keras name of the element-wise activation `operation` computes (`"relu"`), or `None`."""
    return _ACTIVATIONS.get(_keras.operation_type(operation))


def per_position(operation):
    """True when each output value depends on the input values at its own position only, in the
    same way at every position: element-wise maps whose constants vary along the channels at most
    (`x - mean` with a per-channel mean), element-wise activations, and casts."""
    found = kind(operation)
    name = _keras.operation_type(operation)
    if found == ACTIVATION:
        if name in _AXIS_ACTIVATIONS:
            return getattr(operation, "axis", -1) in (-1, 3)
        return True
    if found == ROUTING:
        return name == "Cast"
    if found != AFFINE:
        return False
    for value in constants(operation):
        shape = tuple(np.shape(value))
        if any(size != 1 for size in shape[:-1]):
            return False
    return True


def describe(operation):
    """The operation in words for messages: `"operation 'add' (Add)"`."""
    return f"operation '{operation.name}' ({type(operation).__name__})"
