"""CAM (Zhou et al., 2016): for a network ending in global average pooling and one dense layer,
each channel is weighted by the dense weight connecting it to the class."""

import keras
import numpy as np

from keras_vis._checks import NotApplicable
from keras_vis.attribution.cam.base import BaseCAM
from keras_vis.graph import output_chain
from keras_vis.layers import layer_of
from keras_vis.targets import Class, split_classes

# Layers that may sit between the global average pooling and the dense layer without changing the
# pooled features at inference time.
_PASS_THROUGH = (keras.layers.Dropout, keras.layers.Flatten, keras.layers.Reshape,
                 keras.layers.Identity)


def _is_linear_activation(layer):
    return (isinstance(layer, keras.layers.Activation)
            and getattr(layer.activation, "__name__", None) == "linear")


def gap_dense_head(model, output=0):
    """For a model ending in `features -> GlobalAveragePooling2D -> Dense`, returns
    `(features_layer, dense_layer)`; a final softmax (fused or separate) and dropout in between are
    allowed.

    Raises:
        NotApplicable: a `ValueError`, if the model does not end that way.
    """
    chain = output_chain(model, output)
    layer = next(chain, None)
    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        layer = next(chain, None)
    dense = layer if isinstance(layer, keras.layers.Dense) else None
    layer = next(chain, None) if dense is not None else None
    while isinstance(layer, _PASS_THROUGH) or _is_linear_activation(layer):
        layer = next(chain, None)
    pooled = isinstance(layer, keras.layers.GlobalAveragePooling2D)
    features = next(chain, None) if pooled else None
    if features is None or isinstance(features, keras.layers.InputLayer):
        raise NotApplicable(
            f"Expected `model` to end in global average pooling followed by one dense layer, as "
            f"CAM requires. Received: model '{model.name}', whose output {output} is not computed "
            "that way. Use method='gradcam', which equals CAM on such models and works on any."
        )
    return features, dense


def unavailable(model, layer=None, **options):
    """Why CAM cannot run on `model` at `layer` (`None`: the layer feeding the global average
    pooling), or `None` if it can; `options`, the method's others, change nothing."""
    try:
        features, _ = gap_dense_head(model)
        if layer is None or layer_of(model, layer) is features:
            return None
    except ValueError as error:
        return str(error)
    return (f"CAM weights the layer feeding the global average pooling ('{features.name}'), "
            f"not '{getattr(layer, 'name', layer)}'.")


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
        units, negative = split_classes(context.classes)
        weights = kernel[:, units].T * np.where(negative, -1.0, 1.0)[:, None]
        return weights[:, None, None, :]
