"""FullGrad (Srinivas & Fleuret, 2019): input-gradient × input plus every bias's gradient × bias."""

import keras
import numpy as np
import tensorflow as tf

from keras_vis import steps
from keras_vis._checks import check_layer_graph, expected
from keras_vis import blank
from keras_vis.attribution._maps import finish
from keras_vis.attribution.cam.base import BaseCAM
from keras_vis.graph import GraphRunner
from keras_vis.layers import iter_layers, output_shape
from keras_vis.rules import kinds

_BATCH_NORM = (keras.layers.BatchNormalization,)
_BIASED = kinds.CONV + kinds.DENSE + _BATCH_NORM


def bias_layers(model):
    """The layers whose biases FullGrad sums, in graph order: every convolution (and dense layer
    applied at each position of a feature map, a 1×1 convolution) with a bias and every batch
    normalization over channels, whose output is a feature map `(N, h, w, C)`.

    Dense layers on flat features and normalizations of flat features are left out, as in the
    authors' code: their bias gradients have no spatial layout.

    Raises:
        ValueError: for a batch normalization over another axis than the channels.
    """
    found = []
    for layer in iter_layers(model):
        shape = output_shape(layer) if isinstance(layer, _BIASED) else None
        if shape is None or len(shape) != 4:
            continue
        if isinstance(layer, _BATCH_NORM):
            if layer.axis not in (-1, 3):
                raise ValueError(expected(
                    "model", "a model whose batch normalizations normalize the channels (axis=-1)",
                    model, f"Layer '{layer.name}' normalizes axis {layer.axis}."))
            found.append(layer)
        elif getattr(layer, "bias", None) is not None:
            found.append(layer)
    return found


def bias(layer):
    """The bias a layer adds after its linear map, per channel (float32 tensor `(C,)`).

    A batch normalization's is implicit: `beta - mean * gamma / sqrt(variance + epsilon)`, the
    value its inference-time affine map `x * gamma / sqrt(variance + epsilon) + bias` adds.
    """
    if not isinstance(layer, _BATCH_NORM):
        return tf.cast(layer.bias, tf.float32)
    mean = tf.cast(layer.moving_mean, tf.float32)
    scale = tf.math.rsqrt(tf.cast(layer.moving_variance, tf.float32) + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * tf.cast(layer.gamma, tf.float32)
    beta = 0.0 if layer.beta is None else tf.cast(layer.beta, tf.float32)
    return beta - mean * scale


def post_process(values, size):
    """The authors' aggregation of one term: absolute value, min-max scaled per image over all its
    positions and channels, summed over the channels and bilinearly resized to `size`.

    Args:
        values: float32 tensor `(N, h, w, C)`.
        size: the `(H, W)` of the input.

    Returns:
        float32 tensor `(N, H, W)`.
    """
    magnitude = tf.abs(values)
    low = tf.reduce_min(magnitude, axis=(1, 2, 3), keepdims=True)
    span = tf.reduce_max(magnitude, axis=(1, 2, 3), keepdims=True) - low
    scaled = tf.math.divide_no_nan(magnitude - low, span)
    summed = tf.reduce_sum(scaled, axis=-1, keepdims=True)
    return tf.image.resize(summed, size, method="bilinear")[..., 0]


class FullGrad(BaseCAM):
    """FullGrad: where the input-gradient and the bias-gradients of the score lie.

    The map is the sum of post-processed terms (`post_process`: absolute value, min-max scaled
    per image, summed over channels, bilinearly resized to the input, as in the authors' code):
    one of the input gradient times the input, and one per convolution and batch normalization
    with a bias (`bias_layers`) of the gradient with respect to its output before any fused
    activation times its bias. Layers without a bias contribute nothing; so on a model without
    biases the map is the post-processed gradient × input. It uses no layer of its own: `layer`
    must be `None`. Every term comes from one gradient pass per `batch_size` images, in which
    the maps are also summed.
    """

    supports_eigen_smooth = False

    def resolve_layer(self, model, layer):
        """Checks that no layer is given: FullGrad reads every bias of the model.

        Raises:
            ValueError: for a `layer` other than `None`, or a subclassed model.
        """
        check_layer_graph(model)
        if layer is not None:
            raise ValueError(expected(
                "layer", "None for method='fullgrad'", layer,
                "FullGrad sums the input gradient and the bias gradients of every convolution; "
                "it has no layer to choose."))
        return None

    def compute(self, model, images, target, layer, head, normalize, batch_size, progress=True, *,
                eigen_smooth=False, check_blank=True):
        data = target.data(model, images)
        step = steps.cached(model, "fullgrad", (target.key(), head),
                            lambda: FullGradStep(model, target, head))
        chunks = [slice(start, start + batch_size) for start in range(0, len(images), batch_size)]
        maps = np.concatenate([step(images[chunk], data[chunk]) for chunk in chunks])
        return finish(maps, images.shape[1:3], normalize,
                      blank=self.blank_reason(layer) if check_blank else None, target=target)

    def blank_reason(self, layer, eigen_smooth=False, map_size=None):
        """Its map is made of gradients, not of a layer's feature maps: blank where they vanish."""
        return self.warning_name, blank.GRADIENT


class FullGradStep:
    """The compiled FullGrad pass of one model, target kind and head policy; one trace per
    image shape.

    Args:
        model: the model.
        target: the `Target`.
        head: the head policy.
    """

    def __init__(self, model, target, head):
        self.target = target.bind(model, head)
        self.target_layers = self.target.resolve(model)
        self.layers = bias_layers(model)
        self._runner = GraphRunner(model, self.target_layers, head=head,
                                   linear_taps=self.layers)
        self._steps = {}

    @property
    def trace_count(self):
        return sum(step.trace_count for step in self._steps.values())

    def _maps(self, images, targets):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(images)
            outputs, tapped = self._runner([images])
            scores = self.target.score(outputs, tapped[:len(self.target_layers)], targets)
        linear = tapped[len(self.target_layers):]
        gradients = steps.gradients(tape, scores, [images] + linear)
        size = tf.shape(images)[1:3]
        maps = post_process(gradients[0] * images, size)
        for layer, gradient in zip(self.layers, gradients[1:]):
            maps += post_process(gradient * bias(layer), size)
        return maps

    def __call__(self, images, targets):
        """The raw FullGrad maps `(B, H, W)` of `images`, given what the target explains in each
        (`Target.data`; numpy)."""
        data = self.target.data_spec()
        step = self._steps.get(images.shape[1:])
        if step is None:
            step = steps.CompiledStep(self._maps, (
                tf.TensorSpec((None,) + images.shape[1:], tf.float32), data))
            self._steps[images.shape[1:]] = step
        return step(images, np.asarray(targets, data.dtype.as_numpy_dtype)).numpy()
