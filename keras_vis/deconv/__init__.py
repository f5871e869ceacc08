"""Zeiler–Fergus deconvnet reconstructions and the dataset inputs that activate a channel most.

- `deconvnet`: one feature map's strongest activation (or the whole map) projected back to pixels
  through unpooling with the max-pool switches, ReLU and transposed convolution.
- `top_activations`: the k inputs of a stream that activate each chosen channel most, with their
  receptive-field crops and deconvnet projections (the classic 3×3 panels).
- `receptive_field`: size, jump and offset of a layer's receptive field in input pixels.
"""

from keras_vis.deconv.receptive_field import ReceptiveField, receptive_field
from keras_vis.deconv.reconstruction import Reconstruction, deconvnet
from keras_vis.deconv.top import TopActivations, top_activations

__all__ = [
    "ReceptiveField",
    "Reconstruction",
    "TopActivations",
    "deconvnet",
    "receptive_field",
    "top_activations",
]
