"""LayerCAM (Jiang et al., 2021): each position weighted by its positive gradient."""

import numpy as np

from keras_vis.attribution.cam.base import BaseCAM


class LayerCAM(BaseCAM):
    """Weights: `ReLU(dS/dA)`, per position."""

    def channel_weights(self, activations, gradients, context):
        return np.maximum(gradients, 0.0)
