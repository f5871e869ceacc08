"""Checks and target resolution shared by the attribution methods."""

import numpy as np

from keras_vis import engine
from keras_vis.blank import REGION_NOT_PREDICTED, warn_blank
from keras_vis._checks import check_flag, check_model, expected
from keras_vis.batches import check_channels_last, to_float_batch
from keras_vis.targets import (PREDICTED, Class, Region, as_target, binary_output, for_model,
                               sigmoid_output, split_classes)


def head(logits):
    """The engine head policy for a `logits` flag."""
    return "linear" if check_flag(logits, "logits") else "model"


def prepare(model, images, target):
    """Validates the arguments every attribution method shares.

    Returns:
        `(images, target)`: a float32 numpy batch `(N, H, W, C)` and a `Target`.

    Raises:
        TypeError: for a model that is not a built `keras.Model`, or a bad `images`/`target` type.
        ValueError: for a multi-input, non-image or channels-first model, and for images the model
            cannot take (wrong shape, empty batch, NaN or inf).
    """
    check_model(model)
    inputs = getattr(model, "inputs", None)
    if inputs:
        if len(inputs) != 1:
            raise ValueError(
                expected("model", "a model with one image input", model,
                         f"It has {len(inputs)} inputs; attribution maps explain one image input.")
            )
        if len(inputs[0].shape) != 4:
            raise ValueError(
                expected("model", "an image model with input shape (N, H, W, C)", model,
                         f"Its input has shape {tuple(inputs[0].shape)}.")
            )
    check_channels_last(model)
    return to_float_batch(images, model), for_model(as_target(target), model)


def broadcast_baseline(baseline, images, name="baseline"):
    """A reference input broadcast to the images' shape (a read-only view).

    Args:
        baseline: `None` (zeros), a number, or an array broadcastable to `images`.
        images: the float32 batch.
        name: the argument's name in error messages.

    Raises:
        ValueError: for a shape that does not broadcast, or non-finite values.
    """
    if baseline is None:
        return np.broadcast_to(np.float32(0), images.shape)
    what = f"None, a number, or an array broadcastable to the images' shape {images.shape}"
    try:
        values = np.broadcast_to(np.asarray(baseline, np.float32), images.shape)
    except (TypeError, ValueError) as error:
        raise ValueError(expected(name, what, baseline)) from error
    if not np.all(np.isfinite(values)):
        raise ValueError(expected(name, "finite values (no NaN or inf)", baseline))
    return values


def resolve_classes(model, images, target, *, batch_size, outputs=None, classes=None, head=None):
    """What `target` explains in each image, with the predicted classes or pixels filled in.

    Methods that run the model on altered copies of an image (noise, path points, occluded or
    masked copies) must score what was predicted for the original image, not for each copy: the
    predicted class of a `Class` target, the pixels predicted as the class of a `Region` with
    `mask=None`. This finds them on the unaltered `images`.

    Args:
        model: the model.
        images: the float32 batch.
        target: a `Target`.
        batch_size: images per compiled call, for the forward pass that finds the predictions.
        outputs: the model outputs for `images`, if already computed (saves the forward pass).
        classes: the target's per-image data, if already read (`Target.data`).
        head: the engine head policy `outputs` were computed with. A binary classifier's
            predicted label and a sigmoid segmentation output's predicted pixels need it (a logit
            and a probability have different thresholds); without it, the outputs are computed
            again.

    Returns:
        For a `Class`, int32 `(N,)` class codes (see `keras_vis.targets`): the class index, or for
        a binary classifier `0` where it predicts the positive label and
        `keras_vis.targets.NEGATIVE` where it predicts the negative one. For a `Region`, float32
        `(N, h, w)` masks at the output's resolution: the target's own, or 0/1 on the pixels
        predicted as its class. `None` for other targets.
    """
    if not isinstance(target, (Class, Region)):
        return None
    if classes is None:
        classes = target.data(model, images)
    region = isinstance(target, Region)
    unresolved = np.isnan(classes) if region else classes == PREDICTED
    if not np.any(unresolved):
        return classes.astype(np.float32 if region else np.int32)
    thresholded = (sigmoid_output if region else binary_output)(model, target.output)
    if outputs is None or (head is None and thresholded):
        # The model's own outputs have the logits' argmax, and a subclassed model's are all the
        # engine can give.
        head = "model"
        # A class asked for logits cannot be scored on the model's outputs, which is all this
        # pass needs: another target does.
        forward = _FORWARD if isinstance(target, Class) and target.logits else target
        outputs = engine.run(model, images, forward, head=head, input_grads=False,
                             classes=None if forward is _FORWARD else classes,
                             batch_size=batch_size).outputs
    values = outputs[target.output]
    if not region:
        predicted = target.predicted_classes(model, values, head)
        return np.where(unresolved, predicted, classes).astype(np.int32)
    predicted = target.predicted_masks(model, values, head)
    warn_blank(f"Region({target.class_index})", np.flatnonzero(~predicted.any(axis=(1, 2))),
               REGION_NOT_PREDICTED.format(class_index=target.class_index), count=len(predicted))
    return np.where(unresolved, predicted, classes).astype(np.float32)


_FORWARD = Class()


def resolved_target(target, classes):
    """A target explaining exactly what `resolve_classes` returned, for another method.

    Args:
        target: the `Target` the data were resolved from.
        classes: its `resolve_classes` data, or `None`.

    Returns:
        `target` itself for `None`; for a `Region`, one with the resolved masks; for a `Class`,
        the int class indices when they say it all (no negative label, output 0, no `logits`
        flag: any method takes them), else a `Class` with per-image indices and `negative` flags.
    """
    if classes is None:
        return target
    if isinstance(target, Region):
        return Region(target.class_index, mask=classes, output=target.output)
    units, negative = split_classes(classes)
    if not np.any(negative) and target.output == 0 and target.logits is None:
        return classes
    return Class(units, output=target.output, negative=negative, logits=target.logits)
