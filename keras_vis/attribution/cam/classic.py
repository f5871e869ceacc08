"""CAM (Zhou et al., 2016): for a network ending in global average pooling and one dense layer,
each channel is weighted by the dense weight connecting it to the class."""

import keras

from keras_vis import _keras
from keras_vis.attribution.cam.base import BaseCAM
from keras_vis.graph import head_layers
from keras_vis.layers import is_model
from keras_vis.targets import Class

# Layers that may sit between the global average pooling and the dense layer without changing the
# pooled features at inference time.
_PASS_THROUGH = (keras.layers.Dropout, keras.layers.Flatten, keras.layers.Reshape,
                 keras.layers.Identity)


def _producer(tensor):
    """The layer that computed `tensor`, followed into nested models."""
    operation, _, index = _keras.history(tensor)
    while is_model(operation):
        operation, _, index = _keras.history(operation.outputs[index])
    return operation


def _input_producer(layer):
    nodes = _keras.inbound_nodes(layer)
    inputs = _keras.node_inputs(nodes[0]) if len(nodes) == 1 else []
    return _producer(inputs[0]) if len(inputs) == 1 else None


def _is_linear_activation(layer):
    return (isinstance(layer, keras.layers.Activation)
            and getattr(layer.activation, "__name__", None) == "linear")


def gap_dense_head(model, output=0):
    """For a model ending in `features -> GlobalAveragePooling2D -> Dense`, returns
    `(features_layer, dense_layer)`; a final softmax (fused or separate) and dropout in between are
    allowed.

    Raises:
        ValueError: if the model does not end that way.
    """
    layer = head_layers(model)[output]
    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        layer = _input_producer(layer)
    dense = layer if isinstance(layer, keras.layers.Dense) else None
    layer = _input_producer(dense) if dense is not None else None
    while isinstance(layer, _PASS_THROUGH) or _is_linear_activation(layer):
        layer = _input_producer(layer)
    pooled = isinstance(layer, keras.layers.GlobalAveragePooling2D)
    features = _input_producer(layer) if pooled else None
    if features is None or isinstance(features, keras.layers.InputLayer):
        raise ValueError(
            f"Expected `model` to end in global average pooling followed by one dense layer, as "
            f"CAM requires. Received: model '{model.name}', whose output {output} is not computed "
            "that way. Use method='gradcam', which equals CAM on such models and works on any."
        )
    return features, dense


class ClassicCAM(BaseCAM):
    """Weights: the dense layer's kernel column of the target class; no gradient needed."""

    needs_gradients = False

    def resolve_layer(self, model, layer):
        features, _ = gap_dense_head(model)
        if layer is not None and super().resolve_layer(model, layer) is not features:
            raise ValueError(
                "Expected `layer` to be the layer feeding the global average pooling, as CAM "
                f"requires. Received: layer={layer!r}. Pass layer=None or layer='{features.name}', "
                "or use method='gradcam' for other layers."
            )
        return features

    def channel_weights(self, activations, gradients, context):
        if not isinstance(context.target, Class):
            raise ValueError(
                "Expected `target` to be a class (None, an int, a list of ints or `Class`) for "
                f"method='cam'. Received: target={type(context.target).__name__}. CAM weights "
                "belong to classes; use method='gradcam' for other targets."
            )
        features, dense = gap_dense_head(context.model, context.target.output)
        if features is not context.layer:
            raise ValueError(
                f"Expected output {context.target.output} to be computed from layer "
                f"'{context.layer.name}' by global average pooling and a dense layer. Received: it "
                f"is computed from '{features.name}'."
            )
        kernel = keras.ops.convert_to_numpy(dense.kernel)
        return kernel[:, context.classes].T[:, None, None, :]
