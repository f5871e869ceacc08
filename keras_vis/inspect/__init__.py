"""Model inspection: the layer table, layer configs and weights, convolution kernels, feature maps."""

from keras_vis.inspect.features import feature_maps
from keras_vis.inspect.summary import LayerRow, LayerTable, summary
from keras_vis.inspect.weights import filter_weights, layer_configs, layer_weights

__all__ = [
    "LayerRow",
    "LayerTable",
    "feature_maps",
    "filter_weights",
    "layer_configs",
    "layer_weights",
    "summary",
]
