"""Grad-CAM++ (Chattopadhyay et al., 2018)."""

import numpy as np

from keras_vis.attribution.cam.base import BaseCAM


class GradCAMPlusPlus(BaseCAM):
    """Weights: `w_k = sum_ij alpha_ij^k ReLU(g_ij^k)`, with the paper's closed form (exponential
    score, so higher derivatives are powers of the gradient `g`)
    `alpha = g^2 / (2 g^2 + sum_ab A_ab^k g^3)`, which is `1 / (2 + sum_ab A_ab^k g)` where g > 0.
    """

    def channel_weights(self, activations, gradients, context):
        positive = np.maximum(gradients, 0.0)
        denominator = 2.0 + activations.sum(axis=(1, 2), keepdims=True) * positive
        alpha = np.divide(1.0, denominator, out=np.zeros_like(denominator),
                          where=(positive > 0) & (denominator != 0))
        return (alpha * positive).sum(axis=(1, 2), keepdims=True)
