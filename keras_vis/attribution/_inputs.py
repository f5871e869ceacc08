"""Checks and target resolution shared by the attribution methods."""

import numpy as np

from keras_vis import engine
from keras_vis._checks import check_channels_last, check_model, expected, to_float_batch
from keras_vis.targets import PREDICTED, Class, as_target, binary_output, split_classes


def check_flag(value, name):
    """Returns `value` if it is a bool, else raises `TypeError`."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(expected(name, "True or False", value))
    return bool(value)


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
    return to_float_batch(images, model), as_target(target)


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
    """Per-image class codes with the predicted class filled in, or `None` for non-class targets.

    Methods that run the model on altered copies of an image (noise, path points, occluded or
    masked copies) must score the class predicted for the original image, not for each copy.

    Args:
        model: the model.
        images: the float32 batch.
        target: a `Target`.
        batch_size: images per compiled call, for the forward pass that finds predicted classes.
        outputs: the model outputs for `images`, if already computed (saves the forward pass).
        classes: the target's class indices, if already read (`Class.class_indices`).
        head: the engine head policy `outputs` were computed with. A binary classifier's
            predicted label needs it (a logit and a probability have different thresholds);
            without it, its outputs are computed again.

    Returns:
        int32 array `(N,)` of class codes (see `keras_vis.targets`): the class index, or for a
        binary classifier `0` where it predicts the positive label and `keras_vis.targets.NEGATIVE`
        where it predicts the negative one; `None` if `target` is not a `Class`.
    """
    if not isinstance(target, Class):
        return None
    if classes is None:
        classes = target.class_indices(model, len(images))
    if np.any(classes == PREDICTED):
        if outputs is None or (head is None and binary_output(model, target.output)):
            # The model's own outputs have the logits' argmax, and a subclassed model's are all
            # the engine can give.
            head = "model"
            outputs = engine.run(model, images, target, head=head, classes=classes,
                                 input_grads=False, batch_size=batch_size).outputs
        predicted = target.predicted_classes(model, outputs[target.output], head)
        classes = np.where(classes == PREDICTED, predicted, classes)
    return classes.astype(np.int32)


def resolved_target(target, classes):
    """A target explaining exactly the codes `resolve_classes` returned, for another method.

    Args:
        target: the `Target` the codes were resolved from.
        classes: its `resolve_classes` codes, or `None`.

    Returns:
        `target` itself for `None`, the int class indices when none is a negative label (any
        method takes them), else a `Class` with per-image `negative` flags.
    """
    if classes is None:
        return target
    units, negative = split_classes(classes)
    if not np.any(negative):
        return classes
    return Class(units, output=target.output, negative=negative)
