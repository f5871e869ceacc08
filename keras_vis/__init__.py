"""keras_vis: see inside convolutional networks built with Keras 3."""

__version__ = "0.1.0"

from keras_vis.layers import conv_layers, find_layer, last_conv_layer
from keras_vis.targets import Channel, Class, Neuron

__all__ = [
    "Channel",
    "Class",
    "Neuron",
    "conv_layers",
    "find_layer",
    "last_conv_layer",
]
