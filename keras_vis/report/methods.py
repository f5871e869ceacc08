"""Every attribution method a report shows, with the words and colours it is shown with.

A method turns a `Subject`, a target and the `Settings` into `(N, H, W)` maps in [0, 1]. Gradient
saliency maps are drawn on their own (their detail is the point); class activation maps are drawn
over the image (their location is the point).
"""

import dataclasses
import typing

from keras_vis.attribution import (
    cam,
    gradient_input,
    guided_gradcam,
    integrated_gradients,
    saliency,
)
from keras_vis.attribution.cam.classic import gap_dense_head


@dataclasses.dataclass(frozen=True)
class Method:
    """One attribution method as a report shows it.

    Attributes:
        name: the command-line and file name (`"gradcam++"`).
        title: the title under the picture.
        group: `"saliency"` or `"cam"`.
        compute: `compute(subject, target, settings) -> (N, H, W)` float32 maps in [0, 1].
        caption: how to read the picture.
        over_image: draw the map over the image (True) or on its own (False).
        unavailable: `unavailable(subject, settings) -> None` or the reason it cannot run.
    """

    name: str
    title: str
    group: str
    compute: typing.Callable
    caption: str
    over_image: bool
    unavailable: typing.Callable = lambda subject, settings: None


def _common(settings):
    return {"batch_size": settings.batch_size}


def _cam(method, **options):
    def compute(subject, target, settings):
        return cam(subject.model, subject.inputs, target, layer=settings.cam_layer, method=method,
                   **options, **_common(settings))

    return compute


def _score_cam(subject, target, settings):
    return cam(subject.model, subject.inputs, target, layer=settings.cam_layer, method="scorecam",
               max_maps=settings.score_cam_maps, **_common(settings))


def _classic_cam_unavailable(subject, settings):
    try:
        features, _ = gap_dense_head(subject.model)
    except ValueError as error:
        return str(error)
    if settings.cam_layer is not None and settings.cam_layer != features.name:
        return (f"CAM weights the layer feeding the global average pooling ('{features.name}'), "
                f"not '{settings.cam_layer}'.")
    return None


def _classic_cam(subject, target, settings):
    return cam(subject.model, subject.inputs, target, method="cam", **_common(settings))


METHODS = (
    Method(
        "vanilla", "Gradient", "saliency",
        lambda s, t, o: saliency(s.model, s.inputs, t, **_common(o)),
        "How much each pixel changes the class logit (Simonyan et al.).", False),
    Method(
        "guided", "Guided backprop", "saliency",
        lambda s, t, o: saliency(s.model, s.inputs, t, method="guided", **_common(o)),
        "Gradients kept only where both the forward input and the backward signal are positive.",
        False),
    Method(
        "deconvnet", "Deconvnet backprop", "saliency",
        lambda s, t, o: saliency(s.model, s.inputs, t, method="deconvnet", **_common(o)),
        "Gradients with every ReLU's backward pass rectified (Zeiler & Fergus).", False),
    Method(
        "smoothgrad", "SmoothGrad", "saliency",
        lambda s, t, o: saliency(s.model, s.inputs, t, smooth_samples=o.smooth_samples,
                                 seed=o.seed, **_common(o)),
        "Gradients averaged over noisy copies of the image.", False),
    Method(
        "gradient_input", "Gradient × input", "saliency",
        lambda s, t, o: gradient_input(s.model, s.inputs, t, **_common(o)),
        "Gradient times pixel value.", False),
    Method(
        "integrated_gradients", "Integrated gradients", "saliency",
        lambda s, t, o: integrated_gradients(s.model, s.inputs, t, steps=o.ig_steps,
                                             baseline=s.black_input, **_common(o)),
        "Gradients averaged along the path from a black image (Sundararajan et al.).", False),
    Method(
        "cam", "CAM", "cam", _classic_cam,
        "Feature maps weighted by the dense layer's weights of the class (Zhou et al.).", True,
        _classic_cam_unavailable),
    Method(
        "gradcam", "Grad-CAM", "cam", _cam("gradcam"),
        "Feature maps weighted by their mean gradient (Selvaraju et al.).", True),
    Method(
        "gradcam++", "Grad-CAM++", "cam", _cam("gradcam++"),
        "Feature maps weighted by higher-order gradient terms (Chattopadhyay et al.).", True),
    Method(
        "layercam", "LayerCAM", "cam", _cam("layercam"),
        "Each position weighted by its own positive gradient (Jiang et al.).", True),
    Method(
        "hirescam", "HiResCAM", "cam", _cam("hirescam"),
        "Feature maps times their gradients, position by position (Draelos & Carin).", True),
    Method(
        "scorecam", "Score-CAM", "cam", _score_cam,
        "Feature maps weighted by the class probability of the image masked by each (Wang et al.).",
        True),
    Method(
        "guided_gradcam", "Guided Grad-CAM", "cam",
        lambda s, t, o: guided_gradcam(s.model, s.inputs, t, layer=o.cam_layer, **_common(o)),
        "Guided backprop sharpened where Grad-CAM points.", False),
)

BY_NAME = {method.name: method for method in METHODS}


def group(name):
    """The methods of group `"saliency"` or `"cam"`, in display order."""
    return [method for method in METHODS if method.group == name]
