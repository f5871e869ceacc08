"""Receptive fields: which input pixels a unit of a feature map can see.

Walks the layer graph from the input to the chosen layer (into nested models too) with the usual
arithmetic, per axis (each layer's window read by `keras_vis.spatial`): a window of `k` taps
(dilation included) with stride `s` and leading padding `p` (negative for a cropping) turns
(size `r`, jump `j`, offset `o`) into (`r + (k - 1) j`, `j s`, `o - p j`), where the offset is the
input row (or column) of the first pixel seen by unit 0 — negative when padding reaches outside
the image. Where branches merge, the field is the union of theirs.
"""

import dataclasses

from keras_vis import _keras
from keras_vis._checks import check_positive_int, expected
from keras_vis.deconv._arguments import single_input, spatial_layer
from keras_vis.layers import is_model
from keras_vis.spatial import UnsupportedLayer, window_axes


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of a layer's units, per axis `(rows, columns)`.

    Attributes:
        size: input pixels spanned by one unit's field.
        jump: input pixels between the fields of neighbouring units.
        offset: input row/column of the first pixel of unit (0, 0)'s field (negative with padding).
        map_size: height and width of the layer's feature map.
        input_size: height and width of the input image.
    """

    size: tuple
    jump: tuple
    offset: tuple
    map_size: tuple
    input_size: tuple

    def box(self, position):
        """`(top, left, bottom, right)` (bottom/right exclusive) of the field of unit `(y, x)`,
        clipped to the image."""
        corners = []
        for axis, p in enumerate(position):
            start = self.offset[axis] + int(p) * self.jump[axis]
            stop = start + self.size[axis]
            corners.append((max(start, 0), min(stop, self.input_size[axis])))
        (top, bottom), (left, right) = corners
        return top, left, bottom, right

    def window(self, position):
        """`(top, left, bottom, right)` of a crop of fixed size `min(size, input size)` holding the
        clipped field of unit `(y, x)`: near a border it is shifted to stay inside the image, so
        every unit's crop has the same shape."""
        top, left, _, _ = self.box(position)
        corners = []
        for axis, start in enumerate((top, left)):
            length = min(self.size[axis], self.input_size[axis])
            start = min(start, self.input_size[axis] - length)
            corners.append((start, start + length))
        (top, bottom), (left, right) = corners
        return top, left, bottom, right


def _through_window(field, axes):
    """The field after a layer whose axes read their input as `axes` (`keras_vis.spatial`)."""
    return dataclasses.replace(
        field,
        size=tuple(s + (a.extent - 1) * j for s, a, j in zip(field.size, axes, field.jump)),
        jump=tuple(j * a.stride for a, j in zip(axes, field.jump)),
        offset=tuple(o - a.lead * j for o, a, j in zip(field.offset, axes, field.jump)),
        map_size=tuple(a.output_size for a in axes),
    )


def _union(fields):
    first = [min(f.offset[a] for f in fields) for a in range(2)]
    last = [max(f.offset[a] + f.size[a] for f in fields) for a in range(2)]
    return dataclasses.replace(
        fields[0],
        size=tuple(b - a for a, b in zip(first, last)),
        jump=tuple(max(f.jump[a] for f in fields) for a in range(2)),
        offset=tuple(first),
    )


def _through(node, fields):
    """The field of `node`'s output from the fields of its inputs (`None` where not spatial)."""
    present = [f for f in fields if f is not None]
    if not present:
        return None
    field = present[0] if len(present) == 1 else _union(present)
    layer = _keras.node_layer(node)
    axes = window_axes(layer, field.map_size)
    if axes is not None:
        return _through_window(field, axes)
    before, after = _keras.node_inputs(node)[0].shape, _keras.node_outputs(node)[0].shape
    if len(after) != 4:
        return None
    if len(before) == 4 and tuple(before[1:3]) == tuple(after[1:3]):
        return field
    raise UnsupportedLayer(f"layer '{layer.name}' of type {type(layer).__name__}")


class _Walk:
    """Carries fields through a model's nodes in graph order until `target` is reached."""

    def __init__(self, target):
        self.target = target
        self.found = None

    def run(self, model, fields):
        graph = _keras.layer_graph(model)
        if graph is None:
            raise UnsupportedLayer(f"subclassed model '{model.name}'")
        known = {id(tensor): field for tensor, field in zip(graph.inputs, fields)}
        by_depth = _keras.nodes_by_depth(graph)
        for depth in sorted(by_depth, reverse=True):
            for node in by_depth[depth]:
                layer = _keras.node_layer(node)
                if layer is None:
                    continue
                inputs = [known.get(id(tensor)) for tensor in _keras.node_inputs(node)]
                if is_model(layer):
                    outputs = self.run(layer, inputs)
                    if self.found is not None:
                        return None
                else:
                    outputs = [_through(node, inputs)] * len(_keras.node_outputs(node))
                for tensor, field in zip(_keras.node_outputs(node), outputs):
                    known[id(tensor)] = field
                if layer is self.target:
                    self.found = outputs[0]
                    return None
        return [known.get(id(tensor)) for tensor in graph.outputs]


def receptive_field(model, layer, *, input_size=None):
    """The receptive field of the units of `layer`, in input pixels.

    Args:
        model: a built single-input `keras.Model` (nested models are followed).
        layer: name, index or object of a layer with a spatial output.
        input_size: `(height, width)` of the input images; needed only when the model's input
            shape leaves them open (`None`).

    Returns:
        A `ReceptiveField` (size, jump and offset per axis; `box((y, x))` gives a unit's field).

    Raises:
        ValueError: for a layer without spatial output, an unknown input size, or a layer on the
            way that changes the map size in a way not covered (e.g. `UpSampling2D`,
            `Conv2DTranspose`, resizing).
    """
    single_input(model)
    target = spatial_layer(model, layer)
    input_shape = tuple(model.inputs[0].shape)
    if input_size is None:
        input_size = input_shape[1:3]
        if None in input_size:
            raise ValueError(
                expected("input_size", "the (height, width) of the images", None,
                         f"Model '{model.name}' takes inputs of shape {input_shape}.")
            )
    if len(input_size) != 2:
        raise ValueError(expected("input_size", "a (height, width) pair", input_size))
    input_size = tuple(check_positive_int(s, "input_size") for s in input_size)
    start = ReceptiveField((1, 1), (1, 1), (0, 0), input_size, input_size)
    walk = _Walk(target)
    try:
        walk.run(model, [start])
    except UnsupportedLayer as error:
        raise UnsupportedLayer(
            f"Expected the layers from the input to `layer` to be convolutions, poolings, paddings, "
            f"croppings or layers that keep the map size. Received: {error}, whose receptive field "
            "arithmetic is not known."
        ) from None
    if walk.found is None:
        raise UnsupportedLayer(
            f"Expected `layer` to be reached from the image input through spatial layers. Received: "
            f"layer={target.name!r}"
        )
    return walk.found
