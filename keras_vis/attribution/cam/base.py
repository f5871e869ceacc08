"""The class activation map template: every variant only says how channels are weighted.

`BaseCAM.__call__` runs the model once through the gradient engine, tapping the chosen layer for its
activations `A` (and, for gradient variants, the gradients `dS/dA` of the target score), asks the
variant's `channel_weights` hook for weights `w`, and returns `ReLU(sum_k w_k * A_k)` resized to the
input resolution and normalised. A new variant is a subclass overriding `channel_weights`.
"""

import dataclasses

import keras
import numpy as np

from keras_vis import engine
from keras_vis._checks import check_layer_graph, check_positive_int
from keras_vis.attribution import _defaults
from keras_vis.attribution._inputs import check_flag, prepare, resolve_classes
from keras_vis.attribution._maps import finish
from keras_vis.layers import default_cam_layer, output_shape, tapped_layer
from keras_vis.progress import check_progress
from keras_vis.targets import Class, Target


@dataclasses.dataclass(frozen=True)
class CamContext:
    """What a `channel_weights` hook may need beyond the activations and gradients.

    Attributes:
        model: the model.
        layer: the tapped layer.
        images: the float32 input batch `(N, H, W, C)`.
        target: the `Target`.
        classes: int32 `(N,)` class per image (the predicted one filled in), or `None` for a target
            that is not a class.
        head: the engine head policy, `"linear"` (logits) or `"model"` (the model's outputs).
        batch_size: images per compiled call.
        progress: whether a long hook (Score-CAM's masked copies) may show a progress bar.
    """

    model: keras.Model
    layer: keras.layers.Layer
    images: np.ndarray
    target: Target
    classes: np.ndarray
    head: str
    batch_size: int
    progress: bool = True


class BaseCAM:
    """A class activation map method; subclasses override `channel_weights`.

    Class attributes:
        needs_gradients: whether the hook uses the gradients (otherwise the engine runs forward
            only and the hook receives `None`).
        scores_probabilities: the default of `logits` is the opposite of this: Score-CAM scores
            masked copies with the model's probabilities, the gradient variants use logits.
    """

    needs_gradients = True
    scores_probabilities = False

    def channel_weights(self, activations, gradients, context):
        """The weights of the layer's channels.

        Args:
            activations: float32 `(N, h, w, K)` activations of the layer.
            gradients: float32 `(N, h, w, K)` gradients of the target score with respect to them,
                or `None` if `needs_gradients` is False.
            context: a `CamContext`.

        Returns:
            An array broadcastable to `activations`: `(N, 1, 1, K)` for one weight per channel, or
            `(N, h, w, K)` for per-position weights.
        """
        raise NotImplementedError

    def resolve_layer(self, model, layer):
        """The layer to explain: `layer`, or by default `keras_vis.last_conv_layer(model)`.

        Raises:
            ValueError: if the layer is an input layer or has no spatial output `(N, h, w, C)`.
        """
        check_layer_graph(model)
        layer = default_cam_layer(model) if layer is None else tapped_layer(model, layer)
        shape = output_shape(layer)
        if shape is None or len(shape) != 4:
            raise ValueError(
                "Expected `layer` to be a layer with a spatial output (N, h, w, C). Received: "
                f"layer='{layer.name}' ({type(layer).__name__}) with output shape {shape}. Use a "
                f"convolution layer, such as `keras_vis.last_conv_layer(model)` "
                f"('{default_cam_layer(model).name}' here)."
            )
        return layer

    def __call__(self, model, images, target=None, *, layer=None, logits=None, normalize=True,
                 batch_size=_defaults.BATCH_SIZE, progress=True):
        """Computes the class activation maps.

        Args:
            model: a built single-input, channels-last functional or sequential `keras.Model`.
            images: numpy array or tensor `(N, H, W, C)` in the model's input units.
            target: as in `keras_vis.saliency`.
            layer: the layer (name, index or object, nested models searched) whose feature maps
                are weighted; `None` for `keras_vis.last_conv_layer(model)`.
            logits: score the pre-softmax logit (True) or the model's output (False); `None` for
                the method's default.
            normalize: scale each map to [0, 1]; False returns the raw maps (still ReLU-ed and
                resized).
            batch_size: images per compiled call.
            progress: show a progress bar on stderr if the variant's work runs long (Score-CAM's
                masked copies; the gradient variants run one pass and show none).

        Returns:
            float32 array `(N, H, W)`.
        """
        images, target = prepare(model, images, target)
        logits = (not self.scores_probabilities) if logits is None else check_flag(logits, "logits")
        normalize = check_flag(normalize, "normalize")
        batch_size = check_positive_int(batch_size, "batch_size")
        progress = check_progress(progress)
        layer = self.resolve_layer(model, layer)
        return self.compute(model, images, target, layer, "linear" if logits else "model",
                            normalize, batch_size, progress=progress)

    def compute(self, model, images, target, layer, head, normalize, batch_size, progress=True):
        """The maps for arguments `__call__` has checked (`images` a float32 batch, `target` a
        `Target`, `layer` resolved, `head` the engine's head policy)."""
        classes = target.class_indices(model, len(images)) if isinstance(target, Class) else None
        result = engine.run(model, images, target, taps=[layer], head=head, classes=classes,
                            input_grads=False, tap_grads=self.needs_gradients,
                            batch_size=batch_size)
        activations = result.activations[0]
        gradients = result.tap_grads[0] if self.needs_gradients else None
        classes = resolve_classes(model, images, target, batch_size=batch_size,
                                  outputs=result.outputs, classes=classes, head=head)
        context = CamContext(model, layer, images, target, classes, head, batch_size, progress)
        weights = self.channel_weights(activations, gradients, context)
        maps = np.maximum(np.sum(weights * activations, axis=-1), 0.0)
        return finish(maps, images.shape[1:3], normalize)
