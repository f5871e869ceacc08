"""XGrad-CAM (Fu et al., 2020): axiom-based weights, the gradients averaged with the activations'
own spatial distribution as weights."""

import numpy as np

from keras_vis.attribution.cam.base import BaseCAM


class XGradCAM(BaseCAM):
    """Weights: `w_k = sum_ij (A_ij^k / sum_ab A_ab^k) dS/dA_ij^k`; 0 for a channel whose
    activations sum to zero.

    Where the gradient is the same at every position (a network ending in global average pooling
    and one dense layer) this is Grad-CAM's weight, so the map is CAM's up to scale.
    """

    def channel_weights(self, activations, gradients, context):
        sums = activations.sum(axis=(1, 2), keepdims=True)
        shares = np.divide(activations, sums, out=np.zeros_like(activations), where=sums != 0)
        return (shares * gradients).sum(axis=(1, 2), keepdims=True)
