"""Class activation maps: CAM, Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM, Score-CAM.

Every variant is a `BaseCAM` subclass overriding one hook, `channel_weights`; `cam` picks one by
name from `keras_vis.registry`, where each variant is one entry.
"""

from keras_vis import registry
from keras_vis._checks import check_choice, expected
from keras_vis.attribution import _defaults
from keras_vis.attribution.cam.base import BaseCAM, CamContext
from keras_vis.attribution.cam.classic import ClassicCAM
from keras_vis.attribution.cam.gradcam import GradCAM
from keras_vis.attribution.cam.gradcampp import GradCAMPlusPlus
from keras_vis.attribution.cam.hirescam import HiResCAM
from keras_vis.attribution.cam.layercam import LayerCAM
from keras_vis.attribution.cam.scorecam import ScoreCAM

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
        logits=None, normalize=True, batch_size=_defaults.BATCH_SIZE, progress=True):
    """Class activation map: where in the image the evidence for the target lies.

    Args:
        model: a built single-input, channels-last functional or sequential `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: `None` (the predicted class), a class index, one index per image, a callable
            `f(outputs) -> (N,)`, or a `keras_vis` target; `method="cam"` needs a class.
        layer: the layer whose feature maps are weighted (name, index or layer object, nested
            models searched; it must have a spatial output `(N, h, w, C)`); `None` for
            `keras_vis.last_conv_layer(model)` (for `"cam"`: the layer feeding the pooling).
        method: how channels are weighted: `"gradcam"` (mean gradient), `"gradcam++"`,
            `"layercam"` (positive gradient per position), `"hirescam"` (gradient per position),
            `"scorecam"` (score of the image masked by each channel), or `"cam"` (dense weights;
            only for models ending in global average pooling and one dense layer).
        max_maps: Score-CAM only: how many channels to score, those of highest activation
            variance (the others get weight 0): `None` for at most 64
            (`scorecam.DEFAULT_MAX_MAPS`), an integer for at most that many, or `"all"` for every
            channel, as in the paper (one forward pass per channel and image: minutes for a layer
            of hundreds of channels).
        logits: score the pre-softmax logit (True) or the model's output (False); `None` uses
            logits for the gradient methods and probabilities for Score-CAM, as in its paper.
        normalize: scale each map to [0, 1]; False returns the raw ReLU-ed maps.
        batch_size: images (Score-CAM: masked copies) per compiled call.
        progress: show a progress bar on stderr if Score-CAM runs more than a couple of seconds
            (see `keras_vis.progress`); the other methods run one pass and show none.

    Returns:
        float32 array `(N, H, W)`: the map at the layer's resolution, bilinearly upsampled.

    Raises:
        ValueError: for a layer without spatial output (a Dense layer), `"cam"` on a model that
            does not end in pooling and one dense layer, `max_maps` with another method, or a
            `max_maps` below 1 or other than `"all"`.
    """
    variant = _variant(method, {"max_maps": max_maps})
    return variant(model, images, target, layer=layer, logits=logits, normalize=normalize,
                   batch_size=batch_size, progress=progress)


def gradcam(model, images, target=None, *, layer=None, logits=True, normalize=True,
            batch_size=_defaults.BATCH_SIZE):
    """Grad-CAM: `cam(..., method="gradcam")`; see `cam` for the arguments."""
    return GradCAM()(model, images, target, layer=layer, logits=logits, normalize=normalize,
                     batch_size=batch_size)


__all__ = ["BaseCAM", "CamContext", "ClassicCAM", "GradCAM", "GradCAMPlusPlus", "HiResCAM",
           "LayerCAM", "METHODS", "ScoreCAM", "cam", "gradcam"]
