"""Which calls of a model can be computed on a region of their feature map, and what they cost.

A call is *local* when each position of its output depends on a window of positions of its inputs
only: convolutions of every kind, poolings, paddings and croppings (read through
`keras_vis.spatial`), per-position layers (BatchNormalization, activations, rescalings, dropouts in
inference, ConvNeXt's `LayerScale`) and operations (`x + 1.0`, the `x / 127.5 - 1` of
`preprocess_input`, `keras.ops.relu`), and merges of maps of one size (Add, Concatenate, a
residual `inputs + x`, ...). The local part of a model is every local call reached from the image
input through local calls only; the rest (from the first Flatten, global pooling, Dense, or any
layer or operation this module does not know) is computed whole.
"""

import dataclasses
import math

import keras

from keras_vis import operations
from keras_vis.graph import (ACTIVATION_LAYER_TYPES, Placeholder, head_layers, output_count,
                             reads, record_calls)
from keras_vis.rules.kinds import CHANNEL_SCALES
from keras_vis.spatial import SHIFT_TYPES, WINDOW_TYPES, UnsupportedLayer, window_axes

_IDENTITY_TYPES = (
    keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianNoise,
    keras.layers.GaussianDropout, keras.layers.AlphaDropout, keras.layers.ActivityRegularization,
    keras.layers.Identity,
)
_MERGE_TYPES = (
    keras.layers.Add, keras.layers.Subtract, keras.layers.Multiply, keras.layers.Average,
    keras.layers.Maximum, keras.layers.Minimum, keras.layers.Concatenate,
)
_LAST_AXIS = (-1, 3)


class NotLocal(ValueError):
    """Raised when a model (or target) cannot be computed on regions of its feature maps."""


@dataclasses.dataclass(eq=False)
class Node:
    """A feature map of the local part: the image input (`call is None`) or a local call's output.

    Attributes:
        call: the call's number in `keras_vis.graph.record_calls` order; `None` for the input.
        layer: the layer called (`None` for the input).
        kind: `"input"`, `"window"`, `"pointwise"` or `"merge"`.
        inputs: the nodes it reads, in the call's order.
        shape: its `(height, width, channels)`.
        axes: for a window call, its `(rows, columns)` `keras_vis.spatial.AxisWindow`s.
        cost: multiply-adds (or element operations) of computing the whole map once.
    """

    call: object
    layer: object
    kind: str
    inputs: list
    shape: tuple
    axes: tuple = None
    cost: float = 0.0


def _is_last_axis(axis):
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    return len(axis) == 1 and axis[0] in _LAST_AXIS


def _pointwise(layer):
    """Whether each output position of `layer` depends on the same input position only."""
    if operations.is_operation(layer):
        return operations.per_position(layer)
    if isinstance(layer, CHANNEL_SCALES):
        return True
    if isinstance(layer, keras.layers.PReLU):
        return all(size == 1 for size in tuple(layer.alpha.shape)[:-1])
    if isinstance(layer, keras.layers.Softmax):
        return _is_last_axis(layer.axis)
    if isinstance(layer, ACTIVATION_LAYER_TYPES + _IDENTITY_TYPES):
        return True
    if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                          keras.layers.UnitNormalization, keras.layers.Normalization)):
        return _is_last_axis(layer.axis)
    if isinstance(layer, keras.layers.Rescaling):
        return all(len(getattr(v, "shape", ())) <= 1 for v in (layer.scale, layer.offset))
    return False


def _kind(layer, shapes):
    """The local kind of a call of `layer` on inputs of `shapes`, or `None`."""
    if any(shape is None or len(shape) != 3 for shape in shapes) or not shapes:
        return None
    if isinstance(layer, WINDOW_TYPES + SHIFT_TYPES):
        return "window" if len(shapes) == 1 else None
    if isinstance(layer, _MERGE_TYPES) or _merging_operation(layer, shapes):
        same = all(shape[:2] == shapes[0][:2] for shape in shapes)
        if isinstance(layer, keras.layers.Concatenate) and not _is_last_axis(layer.axis):
            return None
        return "merge" if same else None
    return "pointwise" if len(shapes) == 1 and _pointwise(layer) else None


def _merging_operation(layer, shapes):
    """An element-wise operation of several maps of one shape (`inputs + x`), without constants
    that could vary over positions."""
    return (operations.is_operation(layer) and len(shapes) > 1
            and operations.kind(layer) in (operations.SUM, operations.PRODUCT, operations.EXTREME)
            and all(shape == shapes[0] for shape in shapes)
            and not operations.constants(layer))


def _output_shape(layer, shapes):
    """The `(H, W, C)`-like output shape of a call (batch axis left out), `None` if unknown."""
    if operations.is_operation(layer):
        # Element-wise operations keep their maps' shape; no other kind is local.
        elementwise = operations.per_position(layer) or _merging_operation(layer, shapes)
        return tuple(shapes[0]) if shapes and elementwise else None
    batched = [(None,) + tuple(shape) for shape in shapes]
    try:
        shape = layer.compute_output_shape(batched[0] if len(batched) == 1 else batched)
    except Exception:  # a layer that cannot tell its shape ahead of running is costed by weights
        return None
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        shape = shape[0]
    return tuple(shape)[1:] if shape is not None else None


def _cost(layer, shape):
    weights = sum(math.prod(tuple(w.shape)) for w in getattr(layer, "weights", ()))
    if shape is None or None in shape:
        return float(weights)
    area = math.prod(shape[:-1]) if len(shape) > 1 else 1
    return float(area * (weights + (shape[-1] if shape else 1)))


@dataclasses.dataclass(eq=False)
class LocalPart:
    """The local part of a model for one image shape.

    Attributes:
        nodes: the input node, then the local calls' nodes in execution order.
        rest: the numbers of the calls computed whole.
        boundary: the nodes the rest reads (their maps are completed for it).
        rest_cost: the cost of computing the rest once.
    """

    nodes: list
    rest: frozenset
    boundary: list
    rest_cost: float

    @property
    def full_cost(self):
        return sum(node.cost for node in self.nodes) + self.rest_cost


def local_part(model, image_shape, *, excluded=()):
    """The local part of `model` on images of `image_shape` `(H, W, C)`.

    Args:
        model: a built single-input functional or sequential model.
        image_shape: the images' `(height, width, channels)`.
        excluded: layers to compute whole even if local (the layers a target taps).

    Raises:
        NotLocal: when no call after the input is local.
    """
    calls, outputs = record_calls(model)
    heads = {id(layer) for layer in head_layers(model)} | {id(layer) for layer in excluded}
    shapes = {(None, 0): tuple(image_shape)}
    input_node = Node(None, None, "input", [], tuple(image_shape))
    by_value = {(None, 0): input_node}
    nodes, rest, rest_cost = [input_node], set(), 0.0
    for index, (layer, args, kwargs) in enumerate(calls):
        read = reads(args, kwargs)
        keys = [(value.call, value.index) for value in read]
        read_shapes = [shapes.get(key) for key in keys]
        local = (id(layer) not in heads and all(key in by_value for key in keys)
                 and output_count(layer) == 1)
        kind = _kind(layer, read_shapes) if local else None
        axes = None
        if kind == "window":
            try:
                axes = window_axes(layer, read_shapes[0][:2])
            except UnsupportedLayer:
                kind = None
        shape = _output_shape(layer, read_shapes) if None not in read_shapes else None
        if kind == "pointwise" and shape is None:  # a custom layer that cannot tell its shape
            shape = read_shapes[0]
        if kind is not None and axes is not None and shape is not None:
            shape = (axes[0].output_size, axes[1].output_size, shape[-1])
        if kind is not None and (shape is None or len(shape) != 3 or None in shape):
            kind = None
        for k in range(output_count(layer)):
            shapes[(index, k)] = shape if k == 0 else None
        cost = _cost(layer, shape)
        if kind is None:
            rest.add(index)
            rest_cost += cost
            continue
        node = Node(index, layer, kind, [by_value[key] for key in keys], shape, axes, cost)
        nodes.append(node)
        by_value[(index, 0)] = node
    if len(nodes) == 1:
        first = calls[0][0] if calls else None
        named = "" if first is None else (
            f" (the first, '{first.name}', is a {type(first).__name__}, which keras_vis cannot "
            "compute on a region of its map)")
        raise NotLocal("no layer after the input computes each position from a window of "
                       f"it{named}")
    read_by_rest = {(value.call, value.index) for index in rest
                    for value in reads(*calls[index][1:])}
    read_by_rest |= {(value.call, value.index) for value in outputs
                     if isinstance(value, Placeholder)}
    boundary = [by_value[key] for key in sorted(read_by_rest, key=_order) if key in by_value]
    return LocalPart(nodes, frozenset(rest), boundary, rest_cost)


def _order(key):
    return -1 if key[0] is None else key[0]
