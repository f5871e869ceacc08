"""Ablation-CAM (Desai & Ramaswamy, 2020): each channel weighted by the score lost without it."""

import numpy as np
import tensorflow as tf

from keras_vis import steps
from keras_vis._checks import expected
from keras_vis.attribution._copies import _bar, _chunks
from keras_vis.attribution.cam.base import ALL_CHANNELS, BaseCAM, check_channel_count
from keras_vis.graph import Downstream
from keras_vis.targets import Class, Region

def check_max_channels(max_channels):
    """The number of channels to ablate, or `ALL_CHANNELS` (for `None` too).

    Raises:
        TypeError: for a value that is neither `None`, an integer nor a string.
        ValueError: for an integer below 1 or a string other than `"all"`.
    """
    return check_channel_count(max_channels, "max_channels", ALL_CHANNELS, "every channel")


class AblationCAM(BaseCAM):
    """Weights: how much the target's score drops when each channel of the layer is zeroed.

    `w_k = y - y_k`, where `y` is the score of the image and `y_k` its score with channel `k` of
    the layer set to zero; the map is `ReLU(sum_k w_k A_k)`. By default the score is the logit,
    as for the gradient variants (`logits=False` scores the model's outputs). The paper divides
    the drop by `y`, one factor per image that a normalised map does not show when `y > 0` (and
    that would flip the map of a negative logit). On a network ending in global average pooling
    and one dense layer, `y - y_k = W_kc mean(A_k)`: CAM.

    The layers below the layer run once per image; each ablated copy runs only the layers
    computed from the layer's output (for VGG16's `block5_conv3`: a pooling and the dense top),
    fed the activations with one channel zeroed. Where those layers also read values from below
    the layer (a residual connection around a layer inside a block), the image's values of those
    are fed too, tapped in the same forward pass. Copies, each image's intact one among
    them, go `batch_size` at a time through one compiled step, so memory stays bounded.

    Args:
        max_channels: how many channels to ablate per image: `None` or `"all"` for every channel
            (the copies run only the layers above the layer, usually a small part of the model),
            or an integer for that many, those of largest mean activation, which contribute
            most to the weighted sum; the others get weight 0.
    """

    needs_gradients = False

    def __init__(self, max_channels=None):
        self.max_channels = check_max_channels(max_channels)

    def extra_taps(self, model, layer, target, head):
        # The layers below whose outputs the layers above read too, tapped in the same pass.
        return _frontier_layers(_step(model, layer, target, head), layer)

    def channel_weights(self, activations, gradients, context):
        count, _, _, channels = activations.shape
        if self.max_channels == ALL_CHANNELS or self.max_channels >= channels:
            chosen = np.broadcast_to(np.arange(channels), (count, channels))
        else:
            means = activations.mean(axis=(1, 2))
            chosen = np.argsort(-means, axis=1, kind="stable")[:, :self.max_channels]
        scores = ablated_scores(context, activations, chosen)
        weights = np.zeros((count, channels), np.float32)
        weights[np.arange(count)[:, None], chosen] = scores[:, :1] - scores[:, 1:]
        return weights[:, None, None, :]


def ablated_scores(context, activations, chosen):
    """The target's score of each image, then of each of its ablated copies.

    Args:
        context: the `CamContext`.
        activations: float32 `(N, h, w, K)` activations of `context.layer`.
        chosen: int `(N, M)`: the channels to zero, one copy each, per image.

    Returns:
        float32 `(N, 1 + M)`: column 0 the intact activations' score, column `1 + m` the score
        with channel `chosen[:, m]` zeroed.
    """
    model = context.model
    step = _step(model, context.layer, context.target, context.head)
    count = len(activations)
    tapped = iter(context.extra_activations)
    frontier = [context.images if source is None else next(tapped)
                for source, _ in step.downstream.frontier]
    targets = context.classes
    if targets is None:
        targets = context.target.data(model, context.images)
    copies = 1 + chosen.shape[1]
    table = np.empty((count, copies), np.float32)
    with _bar(count, copies, "Ablation-CAM", context.progress) as bar:
        for image, copy in _chunks(count, copies, context.batch_size):
            zeroed = np.where(copy == 0, -1, chosen[image, np.maximum(copy - 1, 0)])
            table[image, copy] = step(activations[image], zeroed.astype(np.int32),
                                      [values[image] for values in frontier], targets[image])
            bar.advance(len(image))
    return table


def _step(model, layer, target, head):
    """The cached `AblationStep` of the model, layer, target kind and head policy."""
    return steps.cached(model, "ablationcam", (id(layer), target.key(), head),
                        lambda: AblationStep(model, layer, target, head))


def _frontier_layers(step, layer):
    """The frontier layers of `step` (what the layers above `layer` read from below it, model
    inputs left out), each a single-output layer called once.

    Raises:
        ValueError: for a layer called several times, or one output of several.
    """
    downstream = step.downstream
    sources = []
    for source, index in downstream.frontier:
        if source is None:
            continue
        calls = downstream.calls(source)
        if calls > 1 or index:
            reason = (f"layer '{source.name}', which the model calls {calls} times" if calls > 1
                      else f"output {index} of layer '{source.name}', one of several")
            raise ValueError(expected(
                "layer", "a layer whose skip connections come from single-output layers called "
                "once", layer.name, f"The layers above it also read {reason}."))
        sources.append(source)
    return sources


class AblationStep:
    """The compiled steps scoring ablated copies of a layer's activations.

    One per model, layer, target kind and head policy (cached in `keras_vis.steps`), tracing once
    per shape of the activations and frontier values; the zeroed channels and what the target
    explains per image (class codes, region masks: `Target.data`) are data.

    Args:
        model: the model.
        layer: the ablated layer.
        target: the `Target`.
        head: the head policy.

    Raises:
        ValueError: if the target's score does not depend on `layer`.
    """

    def __init__(self, model, layer, target, head):
        self.target = target.bind(model, head)
        self.downstream = Downstream(model, layer, self.target.resolve(model), head=head)
        reaches = self.downstream.reaches
        scored = self.target.layers or (reaches[self.target.output]
                                        if isinstance(self.target, (Class, Region))
                                        else all(reaches))
        if not scored:
            raise ValueError(expected(
                "layer", "a layer the target's score is computed from", layer.name,
                "The model output it scores does not depend on this layer."))
        self._steps = {}

    @property
    def trace_count(self):
        return sum(step.trace_count for step in self._steps.values())

    def _scores(self, activations, zeroed, frontier, targets):
        # A channel index of -1 has an all-zero one-hot row: the intact activations.
        keep = 1.0 - tf.one_hot(zeroed, tf.shape(activations)[-1], dtype=activations.dtype)
        outputs, tapped = self.downstream(activations * keep[:, None, None, :], list(frontier))
        return self.target.score(outputs, tapped, targets)

    def __call__(self, activations, zeroed, frontier, targets):
        """The scores `(B,)` of `activations` `(B, h, w, K)` with channel `zeroed[b]` (`-1`:
        none) of row `b` zeroed, given the rows' frontier values and target data (numpy)."""
        signature = tuple((a.shape[1:], a.dtype) for a in [activations, *frontier])
        data = self.target.data_spec()
        step = self._steps.get(signature)
        if step is None:
            specs = [tf.TensorSpec((None,) + shape, dtype) for shape, dtype in signature]
            step = steps.CompiledStep(self._scores, (specs[0], tf.TensorSpec((None,), tf.int32),
                                                     specs[1:], data))
            self._steps[signature] = step
        targets = np.asarray(targets, data.dtype.as_numpy_dtype)
        return step(activations, zeroed, frontier, targets).numpy()
