"""Guided Grad-CAM (Selvaraju et al., 2017): guided backprop sharpened where Grad-CAM points."""

from keras_vis._checks import check_positive_int
from keras_vis import blank
from keras_vis.attribution import _defaults
from keras_vis.attribution._inputs import check_flag, head, prepare
from keras_vis.attribution._maps import check_reduce, finish, reduce_channels
from keras_vis.attribution.cam import GradCAM
from keras_vis.attribution.saliency import COMPOSITES, input_gradients


def guided_gradcam(model, images, target=None, *, layer=None, reduce=_defaults.SALIENCY_REDUCE,
                   logits=True, normalize=True, batch_size=_defaults.BATCH_SIZE):
    """Guided Grad-CAM: the guided-backprop saliency times the upsampled Grad-CAM map, per pixel.

    With `normalize=False` the result is exactly
    `saliency(method="guided", normalize=False) * gradcam(normalize=False)`.

    Args:
        model: a built single-input, channels-last functional or sequential `keras.Model`.
        images: numpy array or tensor `(N, H, W, C)` in the model's input units.
        target: as in `keras_vis.saliency`.
        layer: the Grad-CAM layer; `None` for `keras_vis.last_conv_layer(model)`.
        reduce: how the colour axis of the guided gradients is collapsed (see `saliency`).
        logits: score the pre-softmax logit (True) or the model's output probability (False).
        normalize: scale each map to [0, 1].
        batch_size: images per compiled call.

    Returns:
        float32 array `(N, H, W)`.

    Raises:
        keras_vis.rules.NoRuleMatches: a `ValueError`, for a model without a rectifier (ReLU,
            swish, GELU, ...; see `saliency`), whose guided map would be its plain gradient.
    """
    images, target = prepare(model, images, target)
    check_reduce(reduce)
    normalize = check_flag(normalize, "normalize")
    batch_size = check_positive_int(batch_size, "batch_size")
    grad_cam = GradCAM()
    cam_layer = grad_cam.resolve_layer(model, layer)
    # Guided first: a model it refuses is refused before Grad-CAM runs.
    fine = reduce_channels(input_gradients(model, images, target, composite=COMPOSITES["guided"],
                                           logits=logits, batch_size=batch_size), reduce)
    coarse = grad_cam.compute(model, images, target, cam_layer, head(logits), False, batch_size,
                              check_blank=False)
    return finish(coarse * fine, images.shape[1:3], normalize,
                  blank=("guided_gradcam", blank.CAM), target=target)
