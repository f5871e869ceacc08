"""Grad-CAM (Selvaraju et al., 2017): each channel weighted by its spatially averaged gradient."""

from keras_vis.attribution.cam.base import BaseCAM


class GradCAM(BaseCAM):
    """Weights: the mean over positions of `dS/dA_k`."""

    def channel_weights(self, activations, gradients, context):
        return gradients.mean(axis=(1, 2), keepdims=True)
