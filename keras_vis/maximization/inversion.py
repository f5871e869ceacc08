"""Feature inversion: images whose activations at a layer match those of given images.

What an inversion keeps of the original shows what the layer keeps: colours and fine texture
vanish in deep layers, object parts stay. It is activation maximization whose objective is the
similarity to target activations, so it reuses the render loop (parameterisations, transforms,
one compiled step for any targets of the same channel count).
"""

import numpy as np
import tensorflow as tf

from keras_vis import engine, objectives
from keras_vis._checks import check_choice, check_model, expected
from keras_vis.batches import to_float_batch
from keras_vis.layers import layer_of
from keras_vis.objectives import Objective, LayerTerm
from keras_vis.maximization.render import maximize
from keras_vis.maximization.transforms import jitter

LOSSES = ("cosine", "l2")


class MatchTerm(LayerTerm):
    """How close a layer's activations are to one target per image: their cosine similarity, or
    minus the squared error relative to the target's squared norm (both at most 1 and 0)."""

    kind = "match"

    def __init__(self, layer, targets, loss):
        super().__init__(layer)
        self.loss = loss
        self.vectors = targets
        # Spatial axes stay unknown in the compiled step, so any image size reuses it; the
        # images are rendered at their own size, where the activations have the targets' shape.
        self.float_shape = (None,) * (targets.ndim - 2) + (targets.shape[-1],)

    def key(self):
        return (self.kind, self._layer, self.float_shape, self.loss)

    def value(self, tapped, outputs, image, indices, border, floats):
        count = tf.shape(tapped)[0]
        flat = tf.reshape(tf.cast(tapped, tf.float32), [count, -1])
        target = tf.reshape(floats, [count, -1])
        if self.loss == "cosine":
            return tf.reduce_sum(tf.math.l2_normalize(flat, axis=1, epsilon=1e-12)
                                 * tf.math.l2_normalize(target, axis=1, epsilon=1e-12), axis=1)
        error = tf.reduce_sum(tf.square(flat - target), axis=1)
        return -error / (tf.reduce_sum(tf.square(target), axis=1) + 1e-12)

    def __repr__(self):
        return f"match({self._layer!r}, <{len(self.vectors)} targets>, loss={self.loss!r})"


def _regularizers(regularizers):
    if regularizers is None:
        return []
    if isinstance(regularizers, str) and regularizers == "standard":
        return (-0.05 * objectives.total_variation()).terms
    if isinstance(regularizers, Objective):
        return regularizers.terms
    raise TypeError(
        expected("regularizers", "'standard', None or an Objective (e.g. "
                 "`-0.05 * objectives.total_variation() - 0.1 * objectives.l2()`)", regularizers)
    )


def invert(model, images, layer, *, steps=256, loss="cosine", regularizers="standard",
           transforms="jitter", param="fourier", decorrelate=None, lr=None, seed=0,
           value_range=(0, 255), preprocess=None, batch_size=None, callbacks=(), progress=True):
    """Feature inversion: renders images whose activations at `layer` match those of `images`.

    Starting from noise, each image is optimized so that the layer's activations on it come as
    close as possible to the activations on the original (Mahendran & Vedaldi; Lucid's
    regularized version). Information the layer discards is not recovered: a linear layer's
    inversion equals the original up to the layer's null space.

    Example:
        >>> seen = keras_vis.invert(model, images, "block2_conv1", steps=64)

    Args:
        model: a built `keras.Model` with one image input.
        images: a batch `(N, H, W, C)` in `value_range` units (0–255 by default), as
            `maximize` returns them; inverted at their own size.
        layer: a layer name, nested path, index or layer object.
        steps: optimization steps.
        loss: `"cosine"` (maximize the cosine similarity of the whole activation tensors, which
            ignores their overall scale) or `"l2"` (minimize the squared error relative to the
            target's squared norm).
        regularizers: `"standard"` (`-0.05 * total_variation()`), `None`, or an `Objective` of
            image terms added to the match (a penalty carries a negative weight).
        transforms: `"jitter"` (a random shift of up to 2 px each step, which keeps the result
            free of high-frequency patterns), any `maximize` transforms, or `()` for none.
        param: `"fourier"` (Lucid's choice, smoother images), `"pixel"` or a `Param`.
        decorrelate: optimize colours in the decorrelated ImageNet basis; default for RGB images.
        lr: learning rate (Adam) in [0, 1] image units; default 0.05.
        seed: the starting noise: `None` (fresh), an int `s` (image `i` uses `s + i`) or a list.
        value_range: `(low, high)`, the model input values image values 0 and 1 stand for.
        preprocess: `None` or the function the model's inputs need, applied inside the step and
            to `images` for their targets (e.g. `keras.applications.vgg16.preprocess_input`).
        batch_size: render at most this many images at once (default: bounded by pixels).
        callbacks: `keras_vis.maximization.callbacks` objects (`History` records the match).
        progress: show a progress bar.

    Returns:
        uint8 `(N, H, W, C)` images, values 0–255 standing for `value_range`.

    Raises:
        TypeError, ValueError: for images the model cannot take, an unknown layer, an unknown
            `loss`, malformed `regularizers` and the errors of `maximize`.
    """
    check_model(model)
    batch = to_float_batch(images, model)
    loss = check_choice(loss, "loss", LOSSES)
    extra = _regularizers(regularizers)
    if isinstance(transforms, str) and transforms == "jitter":
        transforms = (jitter(2),)
    if decorrelate is None:
        decorrelate = batch.shape[-1] == 3
    tapped = layer_of(model, layer)
    seen = tf.constant(batch)
    if preprocess is not None:
        seen = preprocess(seen)
    result = engine.run(model, np.asarray(seen, np.float32), None, taps=[tapped], head="model",
                        input_grads=False, taps_only=True)
    targets = result.activations[0].astype(np.float32)
    if not np.all(np.isfinite(targets)):
        raise ValueError(expected("images", "images with finite activations at the layer",
                                  f"non-finite activations at '{tapped.name}'"))
    targets.setflags(write=False)
    objective = Objective([(1.0, MatchTerm(layer, targets, loss)), *extra])
    return maximize(model, objective, size=batch.shape[1:3], steps=steps, lr=lr, seed=seed,
                    transforms=transforms, param=param, decorrelate=decorrelate,
                    value_range=value_range, preprocess=preprocess, batch_size=batch_size,
                    callbacks=callbacks, progress=progress)
