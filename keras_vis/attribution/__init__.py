"""Attribution maps: which pixels explain a prediction.

Every function takes `(model, images, target=None, *, options)`, accepts numpy arrays or tensors of
a batch `(N, H, W, C)` and returns a float32 numpy `(N, H, W)` map at the input resolution, each map
scaled to [0, 1] unless `normalize=False`.
"""

from keras_vis.attribution.cam import cam, gradcam
from keras_vis.attribution.deeplift import deeplift
from keras_vis.attribution.guided import guided_gradcam
from keras_vis.attribution.integrated import integrated_gradients
from keras_vis.attribution.lrp import lrp
from keras_vis.attribution.occlusion import apply_mask, occlusion, occlusion_mask
from keras_vis.attribution.rise import rise
from keras_vis.attribution.saliency import gradient_input, saliency
from keras_vis.attribution.shap import gradient_shap

__all__ = [
    "apply_mask",
    "cam",
    "deeplift",
    "gradcam",
    "gradient_input",
    "gradient_shap",
    "guided_gradcam",
    "integrated_gradients",
    "lrp",
    "occlusion",
    "occlusion_mask",
    "rise",
    "saliency",
]
