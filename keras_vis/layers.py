"""Finding layers, also inside nested models (a pretrained base inside a transfer-learning model)."""

import difflib
import numbers

import keras

from keras_vis import _keras
from keras_vis._checks import check_model, describe, expected

_CONV_TYPES = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv2DTranspose,
)
_POOLING_TYPES = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
# The last global pooling starts the head (earlier ones sit in squeeze-and-excitation blocks); with
# `keepdims=True` it keeps a (1, 1) map, so what follows it can still look spatial.
_GLOBAL_POOLING_TYPES = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)


def is_model(layer):
    """True for layers that are themselves models (nested functional or sequential models)."""
    return isinstance(layer, keras.Model)


def iter_layers(model):
    """Yields every layer of `model` in graph order, descending into nested models.

    A nested model is yielded before its own layers, so both the base and its inner layers can be
    looked up.
    """
    for layer in model.layers:
        yield layer
        if is_model(layer):
            yield from iter_layers(layer)


def graph_nodes(model):
    """The layers and the operation nodes of `model`'s own graph, in graph order: `model.layers`
    with the operations written between them (`x + 1.0`, the arithmetic of `preprocess_input`, a
    residual `inputs + x`), which are not layers but compute, and can be tapped, like them."""
    if isinstance(model, keras.Sequential) or _keras.layer_graph(model) is None:
        return list(model.layers)
    return list(getattr(model, "operations", None) or model.layers)


def iter_nodes(model):
    """`iter_layers`, with each model's operation nodes (see `graph_nodes`) in their place."""
    for node in graph_nodes(model):
        yield node
        if is_model(node):
            yield from iter_nodes(node)


def output_shape(layer):
    """The symbolic output shape of `layer` (first output, first call), or `None` if unknown."""
    try:
        output = layer.output
    except (AttributeError, ValueError):
        nodes = _keras.inbound_nodes(layer)
        if not nodes:
            return None
        output = _keras.node_outputs(nodes[0])[0]
    if isinstance(output, (list, tuple)):
        output = output[0]
    return tuple(output.shape)


def find_layer(model, name_or_index):
    """Finds a layer by name or index, searching nested models too.

    Args:
        model: a built `keras.Model`.
        name_or_index: a layer name (a nested layer may also be written as a path such as
            `"vgg16/block5_conv3"`), an integer index into `model.layers` (negative counts from the
            end), or a layer object that belongs to the model. Operation nodes of a functional
            model (the `add` of a residual `inputs + x`, the `true_divide` of `preprocess_input`)
            are found by their names too, as `keras_vis.summary` lists them.

    Returns:
        The `keras.layers.Layer` (or the operation node).

    Raises:
        ValueError: for an unknown name (the message lists the closest names) or an index out of
            range.
        TypeError: for anything that is not a name, an index or a layer.
    """
    check_model(model)
    return layer_of(model, name_or_index)


def layer_of(model, name_or_index):
    """`find_layer` for a model already checked: the package's own lookups use it."""
    if isinstance(name_or_index, keras.Operation):
        if any(layer is name_or_index for layer in iter_nodes(model)):
            return name_or_index
        raise ValueError(
            f"Expected `layer` to be a layer of model '{model.name}'. "
            f"Received: layer=<{type(name_or_index).__name__} '{name_or_index.name}'>, "
            "which belongs to another model. Pass its name instead."
        )
    if isinstance(name_or_index, numbers.Integral) and not isinstance(name_or_index, bool):
        count = len(model.layers)
        if not -count <= name_or_index < count:
            raise ValueError(
                f"Expected `layer` to be an index in [{-count}, {count - 1}] for model "
                f"'{model.name}' with {count} layers. Received: layer={name_or_index}"
            )
        return model.layers[name_or_index]
    if not isinstance(name_or_index, str):
        raise TypeError(
            f"Expected `layer` to be a layer name, an integer index or a layer. "
            f"Received: layer={describe(name_or_index)}"
        )
    found = _find_by_path(model, name_or_index)
    if found is not None:
        return found
    names = [layer.name for layer in iter_nodes(model)]
    close = difflib.get_close_matches(name_or_index, names, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(repr(n) for n in close)}?" if close else ""
    raise ValueError(
        f"Expected `layer` to name a layer of model '{model.name}'. "
        f"Received: layer={name_or_index!r}, which is not among its {len(names)} layers.{hint} "
        "Use `keras_vis.summary(model)` to list them."
    )


def tapped_layer(model, name_or_index, name="layer"):
    """`layer_of` for a layer whose output is read (a CAM layer, a channel or neuron target).

    Raises:
        ValueError: for an input layer, which computes nothing: it has no feature maps, and a
            forward pass never reaches it as a layer.
    """
    layer = layer_of(model, name_or_index)
    if isinstance(layer, keras.layers.InputLayer):
        raise ValueError(
            expected(name, "a layer after the input, with feature maps of its own", name_or_index,
                     f"'{layer.name}' is an input layer: it has no feature maps, its output is the "
                     f"images themselves. {_suggest_conv_layer(model)}")
        )
    return layer


def _suggest_conv_layer(model):
    try:
        suggested = f" ('{default_cam_layer(model).name}' here)"
    except ValueError:
        suggested = ""
    return f"Use a convolution layer, such as `keras_vis.last_conv_layer(model)`{suggested}."


def _find_by_path(model, name):
    if "/" in name:
        head, _, rest = name.partition("/")
        for layer in model.layers:
            if layer.name == head and is_model(layer):
                return _find_by_path(layer, rest)
        return None
    for layer in iter_nodes(model):
        if layer.name == name:
            return layer
    return None


def conv_layers(model):
    """All convolution layers of `model`, nested ones included, in graph order.

    Args:
        model: a built `keras.Model`.

    Returns:
        A list of layers (Conv1D/2D/3D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose).
    """
    check_model(model)
    return convolutions(model)


def convolutions(model):
    """`conv_layers` for a model already checked."""
    return [layer for layer in iter_layers(model) if isinstance(layer, _CONV_TYPES)]


def convolutions_2d(model):
    """The 2D convolutions of a checked `model` (Conv2D, DepthwiseConv2D, SeparableConv2D,
    Conv2DTranspose), whose kernels can be drawn as images, nested ones included."""
    return [layer for layer in convolutions(model) if len(layer.kernel_size) == 2]


def spatial_layers(model):
    """Layers whose output is a 4D feature map `(N, H, W, C)`, nested ones included, in graph
    order; operation nodes computing one (a residual `inputs + x`) too."""
    found = []
    for layer in iter_nodes(model):
        if is_model(layer) or isinstance(layer, keras.layers.InputLayer):
            continue
        shape = output_shape(layer)
        if shape is not None and len(shape) == 4:
            found.append(layer)
    return found


def last_conv_layer(model):
    """The layer whose feature maps class activation maps should use by default.

    That is the last layer with a spatial output that is not a pooling layer, after the last
    convolution: `block5_conv3` in VGG16, `post_relu` in ResNet50V2, `out_relu` in MobileNetV2,
    `top_activation` in EfficientNet — the activated output of the last convolutional stage. Layers
    after the last global pooling (the 1×1 convolutions of the MobileNetV3 head) are skipped.

    Args:
        model: a built `keras.Model`.

    Returns:
        The layer.

    Raises:
        ValueError: if the model has no convolution layer.
    """
    check_model(model)
    return default_cam_layer(model)


def default_cam_layer(model):
    """`last_conv_layer` for a model already checked."""
    spatial = spatial_layers(model)
    head_pools = [i for i, layer in enumerate(spatial) if isinstance(layer, _GLOBAL_POOLING_TYPES)]
    head_start = head_pools[-1] if head_pools else len(spatial)
    candidates = [
        layer
        for layer in spatial[:head_start]
        if not isinstance(layer, _POOLING_TYPES + _GLOBAL_POOLING_TYPES)
    ]
    if not any(isinstance(layer, _CONV_TYPES) for layer in candidates):
        raise ValueError(
            f"Expected `model` to contain a convolution layer with spatial output. Received: model "
            f"'{model.name}' with none. Class activation maps need a layer with spatial feature "
            "maps; pass `layer=` explicitly if yours is not a standard convolution."
        )
    return candidates[-1]
