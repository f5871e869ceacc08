"""Maps that show nothing, said out loud.

A map with no variation (all zeros after a CAM's rectification, a gradient that vanished, an
occlusion curve that never moves) is drawn as a black or uniform tile that looks like an answer.
Every method checks its maps before scaling them and warns once per call with a `BlankMapWarning`
that names the images and what to try; the report, the command line and the explorer catch it and
write its sentence on the picture instead.
"""

import contextlib
import os
import sys
import warnings

import numpy as np

# A map counts as blank when its range is this small against its largest magnitude: float32
# rounding, not a signal (untrained networks' 1e-13 gradients still vary relative to themselves).
_RELATIVE_RANGE = 1e-6


class BlankMapWarning(UserWarning):
    """Some maps of a call show nothing.

    Attributes:
        images: the indices of the blank maps in the batch.
        reason: one sentence: why they are blank and what to try, as pictures show it.
    """

    def __init__(self, message, images, reason):
        super().__init__(message)
        self.images = tuple(int(index) for index in images)
        self.reason = reason


def headline(reason):
    """The first sentence of a reason: what a picture has room to say."""
    first, dot, _ = reason.partition(". ")
    return first + "." if dot else reason


@contextlib.contextmanager
def collected():
    """Collects the `BlankMapWarning`s raised inside, instead of showing them.

    Yields a dict filled as they come: `{image index: reason}` (the first reason for an image).
    Other warnings are shown as usual.
    """
    found = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BlankMapWarning)
        yield found
    for record in caught:
        if isinstance(record.message, BlankMapWarning):
            for index in record.message.images:
                found.setdefault(index, record.message.reason)
        else:
            warnings.warn_explicit(record.message, record.category, record.filename,
                                   record.lineno, source=record.source)


def blank_images(maps):
    """The indices of the maps of a batch `(N, ...)` that have no variation (constant or zero)."""
    maps = np.asarray(maps, np.float64)
    flat = maps.reshape(len(maps), -1)
    spread = np.ptp(flat, axis=1) if flat.shape[1] else np.zeros(len(flat))
    peak = np.abs(flat).max(axis=1) if flat.shape[1] else np.zeros(len(flat))
    return np.flatnonzero((spread <= _RELATIVE_RANGE * peak) | ~np.isfinite(spread)).tolist()


def warn_blank(method, images, reason, *, count):
    """Warns, once for the call, that the maps of `images` (indices into a batch of `count`) are
    blank, with `reason`; nothing when `images` is empty.

    Returns:
        `images`.
    """
    images = list(images)
    if not images:
        return images
    which = ("every image" if len(images) == count else
             f"image{'s' if len(images) > 1 else ''} {', '.join(map(str, images[:10]))}"
             + (" ..." if len(images) > 10 else ""))
    warnings.warn(BlankMapWarning(f"{method}: the map of {which} is blank. {reason}", images,
                                  reason), stacklevel=_caller_level())
    return images


def _caller_level():
    """The `stacklevel` of the first frame outside keras_vis: the user's call."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(2), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def check_maps(method, reason, maps, target=None):
    """Warns (`warn_blank`) for the maps of a batch that have no variation.

    Args:
        method: the method's name, for the message.
        reason: why such a map is blank and what to try (a sentence), worded for a class score.
        maps: the raw maps `(N, H, W)`, before any scaling.
        target: the `keras_vis` target explained: one that scores units of inner layers (an
            objective such as `Channel`) gets the advice of `INNER_UNITS` instead of a class's.
    """
    return warn_blank(method, blank_images(maps), reason_for(target, reason), count=len(maps))


def reason_for(target, reason):
    """`reason`, or, for a target scoring units of inner layers and a reason worded for a class,
    `INNER_UNITS` naming that target."""
    if getattr(target, "layers", ()) and reason in CLASS_REASONS:
        return INNER_UNITS.format(target=target)
    return reason


GRADIENT = ("The score does not change with any pixel here: the network is saturated or dead for "
            "this class (an untrained network, or a probability at 0 or 1). Explain the logit "
            "(logits=True), another class, or try a perturbation method such as occlusion.")
"""Why a gradient map is blank."""

RELEVANCE = ("No relevance reached the pixels: the score is zero, or the rules absorbed or dropped "
             "all of it (`lrp(..., return_layers=True)` shows where). Try composite='epsilon', "
             "another class or another method.")
"""Why a relevance map is blank."""

CAM = ("The class has no positive evidence at this layer: every weighted feature map is negative, "
       "and a class activation map keeps only the positive part. Check the class (the predicted "
       "one?), try an earlier layer, or a method that keeps all evidence such as 'hirescam' or "
       "'layercam'.")
"""Why a class activation map is blank."""

EIGEN = ("The feature maps' first principal component points against the class, and the map keeps "
         "only its positive part. Try method='gradcam' or 'eigencam' without the gradients.")
"""Why an Eigen-CAM map is blank."""

SMALL_LAYER = ("Layer '{layer}' has a {height}×{width} feature map at this image size: one value "
               "per channel, so the map is the same everywhere. Choose an earlier layer with a "
               "larger map (`layer=`), or give the model larger images.")
"""Why a CAM of a layer with a one-position map is blank."""

PERTURBATION = ("Hiding parts of the image never changes the score: the model scores it the same "
                "whatever is hidden (an untrained network, or a probability saturated at 0 or "
                "1). Explain the logit (logits=True), use a larger patch, or another class.")
"""Why an occlusion or RISE map is blank."""

DIFFERENCE = ("The image scores as its baseline does, or no difference from the baseline reached "
              "the pixels: there is nothing to share out. Try another `baseline` (a blurred "
              "image, the dataset's mean) or another class.")
"""Why a DeepLIFT map is blank."""

NO_REGION = ("No region lowers the score below {threshold:.0%} of the map's maximum, so the mask "
             "is empty and the whole image is dimmed. Raise `threshold` (`--threshold`), or "
             "explain the logit (logits=True), whose drops a saturated probability hides.")
"""Why an occlusion mask is empty."""

REGION = ("The `Region` mask of this image is empty: there is nothing to explain. Pass a mask with "
          "at least one pixel, or `mask=None` for the pixels predicted as the class.")
"""Why the map of an empty region is blank."""

REGION_NOT_PREDICTED = ("No pixel is predicted as class {class_index}, so the region is empty and "
                        "the map is zero. Pass a `mask` to `keras_vis.Region` to explain a region "
                        "of your choice, or explain a class the model predicts here.")
"""Why the map of a region of predicted pixels is blank."""

INNER_UNITS = ("The score of {target} does not reach the pixels here: the units it reads are "
               "dead or saturated on this image (an untrained network, BatchNorm statistics never "
               "set from images, a ReLU that never fires). Try another channel or position, "
               "another layer, or images that excite it (`keras_vis.top_activations`).")
"""Why a map of an objective on inner units (a channel, a neuron, a direction) is blank."""

CLASS_REASONS = (GRADIENT, RELEVANCE, CAM, EIGEN, PERTURBATION, DIFFERENCE)
"""The reasons worded for a class score."""
