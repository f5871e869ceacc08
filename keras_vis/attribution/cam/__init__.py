"""Class activation maps: CAM, Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM, Score-CAM, XGrad-CAM,
Eigen-CAM, Eigen-Grad-CAM, Ablation-CAM and FullGrad.

Every variant is a `BaseCAM` subclass overriding one hook, `channel_weights` (FullGrad, which
weights no single layer, overrides `compute`); `cam` picks one by name from `keras_vis.registry`,
where each variant is one entry. Every variant takes `aug_smooth` (the mean of the maps of mirrored
and zoomed copies, mapped back) and, except FullGrad, `eigen_smooth` (the first principal component
of the weighted feature maps).
"""

from keras_vis import registry
from keras_vis._checks import check_choice, expected
from keras_vis.attribution import _defaults
from keras_vis.attribution.cam.ablationcam import AblationCAM
from keras_vis.attribution.cam.base import AUGMENTATIONS, BaseCAM, CamContext, principal_map
from keras_vis.attribution.cam.classic import ClassicCAM
from keras_vis.attribution.cam.eigencam import EigenCAM, EigenGradCAM
from keras_vis.attribution.cam.fullgrad import FullGrad
from keras_vis.attribution.cam.gradcam import GradCAM
from keras_vis.attribution.cam.gradcampp import GradCAMPlusPlus
from keras_vis.attribution.cam.hirescam import HiResCAM
from keras_vis.attribution.cam.layercam import LayerCAM
from keras_vis.attribution.cam.scorecam import ScoreCAM
from keras_vis.attribution.cam.xgradcam import XGradCAM

# name -> `BaseCAM` subclass, in registry order.
METHODS = {spec.name: spec.load_variant() for spec in registry.cam_variants()}


def _variant(method, options):
    """An instance of the variant `method`, given the `cam` keywords that configure a variant
    (`None`: not given)."""
    variants = registry.cam_variants()
    check_choice(method, "method", tuple(spec.name for spec in variants))
    spec = registry.find(method)
    for option, value in options.items():
        if value is not None and option not in spec.variant_options:
            takers = " or ".join(f"method={s.name!r}" for s in variants
                                 if option in s.variant_options)
            raise ValueError(expected(option, f"None unless {takers}", value))
    return spec.load_variant()(**{k: v for k, v in options.items() if k in spec.variant_options})


def cam(model, images, target=None, *, layer=None, method=_defaults.CAM_METHOD, max_maps=None,
        max_channels=None, fill=None, logits=None, aug_smooth=False, eigen_smooth=False,
        normalize=True, batch_size=_defaults.BATCH_SIZE, progress=True):
    """Class activation map: where in the image the evidence for the target lies.

    Args:
        model: a built single-input, channels-last functional or sequential `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: `None` (the predicted class), a class index, one index per image, a callable
            `f(outputs) -> (N,)`, or a `keras_vis` target; `method="cam"` needs a class.
        layer: the layer whose feature maps are weighted (name, index or layer object, nested
            models searched; it must have a spatial output `(N, h, w, C)`); `None` for
            `keras_vis.last_conv_layer(model)` (for `"cam"`: the layer feeding the pooling;
            `"fullgrad"` aggregates every convolution instead of one layer's maps).
        method: how the layer's feature maps `A_k` are weighted (`w_k`) and combined into
            `ReLU(sum_k w_k A_k)`:

            - `"gradcam"`: the mean gradient `dS/dA_k` (Selvaraju et al.);
            - `"gradcam++"`: higher-order gradient terms (Chattopadhyay et al.);
            - `"layercam"`: the positive gradient, position by position (Jiang et al.);
            - `"hirescam"`: the gradient, position by position (Draelos & Carin);
            - `"xgradcam"`: the gradient averaged with the channel's activations as weights
              (Fu et al.);
            - `"scorecam"`: the target's score of the image seen through each channel's map
              (Wang et al.; see `max_maps` and `fill`);
            - `"ablationcam"`: the drop of the score when each channel is zeroed, the layers below
              the layer run once (Desai & Ramaswamy; see `max_channels`);
            - `"eigencam"`: no weights: the first principal component of the activations, no
              gradient needed, so models whose outputs have no usable gradient work too (Muhammad
              & Yeasin); `"eigengradcam"`: that of the activations times their gradients;
            - `"fullgrad"`: the input gradient times the input plus the bias gradients of every
              convolution, aggregated over the layers (Srinivas & Fleuret);
            - `"cam"`: the dense layer's weights (Zhou et al.); only for models ending in global
              average pooling and one dense layer.
        max_maps: Score-CAM only: how many channels to score, those of highest activation
            variance (the others get weight 0): `None` for at most 64
            (`scorecam.DEFAULT_MAX_MAPS`), an integer for at most that many, or `"all"` for every
            channel, as in the paper (one forward pass per channel and image: minutes for a layer
            of hundreds of channels).
        max_channels: Ablation-CAM only: how many channels to ablate, as `max_maps` (`None` for
            the variant's default, an integer, or `"all"`).
        fill: Score-CAM only: the value the pixels its masks hide take, in the vocabulary of
            `keras_vis.occlusion` and `keras_vis.rise`; `None` for the mean of each image.
        logits: score the pre-softmax logit (True) or the model's output (False); `None` for the
            method's default: probabilities for Score-CAM, as in its paper, logits otherwise.
        aug_smooth: average the maps of each image mirrored left-right and zoomed by 1.0, 1.1
            and 0.9 about its centre (six copies, `base.AUGMENTATIONS`), each map transformed back
            to the image's geometry; the copies explain the class resolved for the image itself
            and run as one batch (six times the work).
        eigen_smooth: combine the weighted feature maps `w_k A_k` by their first principal
            component instead of their sum (`base.principal_map`), as Eigen-CAM does the feature
            maps themselves; not for `"fullgrad"`.
        normalize: scale each map to [0, 1]; False returns the raw ReLU-ed maps.
        batch_size: images (Score-CAM and Ablation-CAM: altered copies) per compiled call.
        progress: show a progress bar on stderr if the work runs more than a couple of seconds
            (Score-CAM's and Ablation-CAM's copies; see `keras_vis.progress`); the other methods
            run one pass and show none.

    Returns:
        float32 array `(N, H, W)`: the map at the layer's resolution, bilinearly upsampled.

    Raises:
        TypeError: for an `aug_smooth`, `eigen_smooth`, `normalize` or `logits` that is not a
            bool.
        ValueError: for a layer without spatial output (a Dense layer), `"cam"` on a model that
            does not end in pooling and one dense layer, a variant option (`max_maps`,
            `max_channels`, `fill`) given to a method that does not take it or out of its range,
            or `eigen_smooth=True` with `"fullgrad"`.
    """
    variant = _variant(method, {"max_maps": max_maps, "max_channels": max_channels, "fill": fill})
    return variant(model, images, target, layer=layer, logits=logits, normalize=normalize,
                   batch_size=batch_size, progress=progress, aug_smooth=aug_smooth,
                   eigen_smooth=eigen_smooth)


def gradcam(model, images, target=None, *, layer=None, logits=True, aug_smooth=False,
            eigen_smooth=False, normalize=True, batch_size=_defaults.BATCH_SIZE, progress=True):
    """Grad-CAM: `cam(..., method="gradcam")`; see `cam` for the arguments."""
    return GradCAM()(model, images, target, layer=layer, logits=logits, normalize=normalize,
                     batch_size=batch_size, progress=progress, aug_smooth=aug_smooth,
                     eigen_smooth=eigen_smooth)


__all__ = ["AUGMENTATIONS", "AblationCAM", "BaseCAM", "CamContext", "ClassicCAM", "EigenCAM",
           "EigenGradCAM", "FullGrad", "GradCAM", "GradCAMPlusPlus", "HiResCAM", "LayerCAM",
           "METHODS", "ScoreCAM", "XGradCAM", "cam", "gradcam", "principal_map"]
