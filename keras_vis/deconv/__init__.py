"""Zeiler–Fergus deconvnet reconstructions.

- `deconvnet`: one feature map's strongest activation (or the whole map) projected back to pixels
  through unpooling with the max-pool switches, ReLU and transposed convolution.
"""

from keras_vis.deconv.reconstruction import Reconstruction, deconvnet

__all__ = ["Reconstruction", "deconvnet"]
