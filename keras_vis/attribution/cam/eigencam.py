"""Eigen-CAM (Muhammad & Yeasin, 2020) and Eigen-Grad-CAM: the first principal component of a
layer's activations (of the activations times their gradients), per image.

The map is the projection of the `(h*w, K)` activations on their first right singular vector, not
centred, its sign chosen to agree with the activations' sum over channels (see
`base.principal_map`); for rank-1 activations `u vᵀ` with `u, v >= 0` it is `u |v|`, `u` once
normalised.
"""

import numpy as np

from keras_vis.attribution.cam.base import BaseCAM


class EigenCAM(BaseCAM):
    """The principal component of the activations themselves.

    No gradient is computed and the target's score plays no part, so it explains models whose
    outputs have no usable gradient; `eigen_smooth` changes nothing (the map already is the
    principal component).
    """

    needs_gradients = False
    principal_component = True

    def channel_weights(self, activations, gradients, context):
        return np.ones((len(activations), 1, 1, 1), activations.dtype)


class EigenGradCAM(BaseCAM):
    """The principal component of the activations times their gradients, position by position:
    the class-specific counterpart of Eigen-CAM."""

    principal_component = True

    def channel_weights(self, activations, gradients, context):
        return gradients
