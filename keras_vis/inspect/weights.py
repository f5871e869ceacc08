"""Layer configurations and weights as plain Python data, and convolution kernels."""

import numbers

import keras
import numpy as np

from keras_vis._checks import expected
from keras_vis.inspect._walk import walk
from keras_vis.layers import convolutions_2d, is_model, layer_of


def layer_configs(model):
    """The configuration of every layer, keyed by path.

    Args:
        model: a built `keras.Model`.

    Returns:
        A dict `{path: config}` in graph order, where path is the layer name, or `"outer/inner"`
        for a layer inside a nested model (the nested model itself is keyed by its name and
        carries its full config). Each config is `layer.get_config()` made JSON-serializable:
        numpy values become Python numbers and lists, and objects without a JSON form become their
        Keras serialization or, failing that, their `repr`. A layer whose `get_config` is not
        implemented gets `{"name": ..., "class_name": ...}`.
    """
    configs = {}
    for path, _, layer in walk(model):
        try:
            config = layer.get_config()
        except NotImplementedError:
            config = {"name": layer.name, "class_name": type(layer).__name__}
        configs[path] = _jsonable(config)
    return configs


def layer_weights(model):
    """Copies of the weights of every layer, keyed by path.

    Args:
        model: a built `keras.Model`.

    Returns:
        A dict `{path: [numpy arrays]}` in graph order with one entry per layer that is not itself
        a model (a nested model's weights appear under its inner layers' paths
        `"outer/inner"`, not a second time under its own name); weightless layers map to `[]`.
        The arrays are copies: changing them never changes the model (use
        `layer.set_weights` for that).
    """
    return {
        path: [np.array(weight, copy=True) for weight in layer.get_weights()]
        for path, _, layer in walk(model)
        if not is_model(layer)
    }


def filter_weights(model, layer):
    """The kernel of a 2D convolution layer, as `(kernel_h, kernel_w, in_channels, out_channels)`.

    `Conv2DTranspose` kernels are transposed to that layout. For `DepthwiseConv2D` and
    `SeparableConv2D` the spatial (depthwise) kernel is returned, `(kh, kw, in_channels,
    depth_multiplier)`.

    Args:
        model: a built `keras.Model`.
        layer: a layer name or path, index, or layer object (nested layers included).

    Returns:
        A float32 numpy array (a copy).

    Raises:
        ValueError: if the layer is not a 2D convolution (the message lists the model's
            convolution layers).
    """
    found = layer_of(model, layer)
    if isinstance(found, keras.layers.SeparableConv2D):
        kernel = found.depthwise_kernel
    elif isinstance(found, keras.layers.DepthwiseConv2D):
        kernel = found.kernel
    elif isinstance(found, keras.layers.Conv2DTranspose):
        kernel = keras.ops.transpose(found.kernel, (0, 1, 3, 2))
    elif isinstance(found, keras.layers.Conv2D):
        kernel = found.kernel
    else:
        names = [c.name for c in convolutions_2d(model)]
        listed = ", ".join(repr(n) for n in names[:8]) + (", ..." if len(names) > 8 else "")
        raise ValueError(
            expected("layer", "a 2D convolution layer (Conv2D, DepthwiseConv2D, SeparableConv2D, "
                     "Conv2DTranspose)", found.name,
                     f"It is a {type(found).__name__}. `keras_vis.conv_layers(model)` lists the "
                     f"convolutions: {listed or 'this model has none'}.")
        )
    return np.array(keras.ops.convert_to_numpy(kernel), dtype=np.float32, copy=True)


def _jsonable(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_jsonable(item) for item in value)
    if isinstance(value, np.ndarray) or keras.ops.is_tensor(value):
        return _jsonable(keras.ops.convert_to_numpy(value).tolist())
    try:
        serialized = keras.saving.serialize_keras_object(value)
    except Exception:  # noqa: BLE001 - any object without a Keras serialization falls back to repr
        return repr(value)
    return repr(value) if serialized is value else _jsonable(serialized)
