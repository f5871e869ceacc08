"""Argument checks shared by the deconvnet functions."""

import numbers

import numpy as np

from keras_vis._checks import check_layer_graph, check_model, expected
from keras_vis.batches import check_channels_last
from keras_vis.layers import output_shape, spatial_layers, tapped_layer


def single_input(model):
    """Returns `model` if it is a built, channels-last functional or sequential model with exactly
    one input."""
    check_model(model)
    check_layer_graph(model)
    check_channels_last(model)
    if len(model.inputs) != 1:
        raise ValueError(
            expected("model", "a model with one image input", model,
                     f"Model '{model.name}' has {len(model.inputs)} inputs.")
        )
    return model


def spatial_layer(model, layer):
    """Finds `layer` and checks that its output is a feature map `(N, H, W, C)`."""
    found = tapped_layer(model, layer)
    shape = output_shape(found)
    if shape is None or len(shape) != 4:
        names = [candidate.name for candidate in spatial_layers(model)]
        hint = f"Layer '{found.name}' has output shape {shape}."
        if names:
            hint += f" Pick a convolution or pooling layer, e.g. {', '.join(map(repr, names[-3:]))}."
        raise ValueError(expected("layer", "a layer with a spatial output (N, H, W, C)", layer, hint))
    return found


def channel_count(layer):
    """The number of channels of a spatial layer's output (`None` if unknown)."""
    return output_shape(layer)[-1]


def _is_int(value):
    integral = isinstance(value, (numbers.Integral, np.integer))
    return integral and not isinstance(value, (bool, np.bool_))


def channel_indices(layer, channels, name, *, count=None):
    """Checks channel indices of `layer` and returns them as an int32 array.

    Args:
        layer: a spatial layer.
        channels: an int, or a sequence of ints.
        name: the argument's name in error messages.
        count: if given, an int is repeated `count` times and a sequence must have `count` items.
    """
    what = "an int or a list of ints"
    if count is not None:
        what = f"an int or a list of {count} ints (one per image)"
    values = np.asarray(channels)
    if values.dtype == object or values.ndim > 1 or not all(_is_int(v) for v in values.reshape(-1)):
        raise TypeError(expected(name, what, channels))
    if values.ndim == 0:
        values = values.reshape(1) if count is None else np.full((count,), values)
    if values.size == 0 or (count is not None and len(values) != count):
        raise ValueError(expected(name, what, channels))
    total = channel_count(layer)
    if total is not None and (np.any(values < 0) or np.any(values >= total)):
        raise ValueError(
            expected(name, f"channel indices in [0, {total - 1}]", channels,
                     f"Layer '{layer.name}' has {total} channels.")
        )
    return values.astype(np.int32)
