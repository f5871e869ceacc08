"""HiResCAM (Draelos & Carin, 2020): the gradient times the activation, position by position.

Unlike Grad-CAM's averaged gradient, this keeps where the gradient points, so the map sums exactly
the first-order contribution of each position to the score.
"""

from keras_vis.attribution.cam.base import BaseCAM


class HiResCAM(BaseCAM):
    """Weights: `dS/dA` itself, per position."""

    def channel_weights(self, activations, gradients, context):
        return gradients
