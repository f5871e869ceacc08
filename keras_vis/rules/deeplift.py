"""DeepLIFT's rescale rule (Shrikumar et al., 2017) as backward rules on a paired batch.

The engine runs the images and their references together, the references in the second half of
the batch, so every rule sees both the input `x` and the reference input `x₀` of its layer. An
activation's multiplier is `Δy / Δx` value by value (its gradient where `Δx` vanishes); layer,
group and unit normalizations are treated the same way, value by value; a product `a · b` splits
its difference as `Δa · (b + b₀)/2 + Δb · (a + a₀)/2`; linear layers keep their gradient.
Backpropagating these multipliers and multiplying by `x - x₀` at the input gives contributions that
sum to `f(x) - f(x₀)` (summation-to-delta) for any network made of these; max-pooling keeps its
gradient, as in the paper, which makes the sum approximate.
"""

import keras
import tensorflow as tf

from keras_vis import _keras
from keras_vis.rules.base import Rule, recorded, with_backward
from keras_vis.rules.composite import ACTIVATIONS, Composite
from keras_vis.rules.neutral import Gradient
from keras_vis.rules import kinds

_FLAT = 1e-6
"""Below this input difference a non-linearity's multiplier is its gradient."""



def _halves(tensor):
    count = tf.shape(tensor)[0] // 2
    return tensor[:count], tensor[count:]


def _with_zero_reference(gradient_of_images, upstream):
    """The gradient for the images, none for the references (only images are explained)."""
    return tf.concat([gradient_of_images, tf.zeros_like(_halves(upstream)[1])], axis=0)


class Rescale(Rule):
    """The rescale rule for a shape-preserving non-linearity: multiplier `Δy / Δx` per value,
    which carries `sum(upstream · Δy)` over to the input exactly."""

    needs_reference = True

    def __call__(self, forward, inputs, site):
        (x,) = inputs
        tape, y = recorded(forward, inputs)

        def backward(upstream):
            slope = tape.gradient(y, x)  # the derivative, for an element-wise function
            x_image, x_reference = _halves(x)
            y_image, y_reference = _halves(y)
            delta_x, delta_y = x_image - x_reference, y_image - y_reference
            flat = tf.abs(delta_x) < _FLAT
            ratio = delta_y / tf.where(flat, tf.ones_like(delta_x), delta_x)
            multiplier = tf.where(flat, _halves(slope)[0], ratio)
            return [_with_zero_reference(_halves(upstream)[0] * multiplier, upstream)]

        return with_backward([x], y, backward)


class Product(Rule):
    """A product of two inputs `a · b`: multipliers `(b + b₀)/2` for `a` and `(a + a₀)/2` for `b`
    (the Shapley split of the product's difference, exact for two factors)."""

    needs_reference = True

    def __call__(self, forward, inputs, site):
        if len(inputs) != 2:
            raise _keras.pass_through_tracing(ValueError(
                f"Expected layer '{site.layer.name}' to multiply two inputs for DeepLIFT. "
                f"Received: {len(inputs)} inputs."
            ))
        output = forward(*inputs)

        def backward(upstream):
            first, second = (_halves(x) for x in inputs)
            means = [(first[0] + first[1]) / 2, (second[0] + second[1]) / 2]
            images = [first[0], second[0]]
            with tf.GradientTape() as tape:
                tape.watch(images)
                # d/da of a · mean(b) is mean(b), summed over any broadcast axes.
                linearized = images[0] * tf.stop_gradient(means[1]) + (
                    tf.stop_gradient(means[0]) * images[1])
            gradients = tape.gradient(linearized, images, output_gradients=_halves(upstream)[0])
            return [tf.concat([g, tf.zeros_like(x[1])], axis=0)
                    for g, x in zip(gradients, (first, second))]

        return with_backward(inputs, output, backward)


# Linear at inference, or passing one input's value on (max pooling keeps its gradient, as in the
# paper): the plain gradient is their multiplier.
_GRADIENT_LAYERS = (kinds.LINEAR + (keras.layers.BatchNormalization,) + kinds.PREPROCESSING
                    + kinds.AVERAGE_POOLING + kinds.SUMS + kinds.WEIGHTED_SUMS + kinds.ROUTING
                    + kinds.RESAMPLING + kinds.CHANNEL_SCALES + kinds.INFERENCE_IDENTITY
                    + kinds.WINNERS)
_GRADIENT_OPERATIONS = (kinds.AFFINE_OPERATIONS, kinds.SUM_OPERATIONS, kinds.ROUTING_OPERATIONS,
                        kinds.EXTREME_OPERATIONS)


DEEPLIFT = Composite(
    [
        (_GRADIENT_LAYERS, Gradient()),
        *[(selector, Gradient()) for selector in _GRADIENT_OPERATIONS],
        (keras.layers.Multiply, Product()),
        (kinds.PRODUCT_OPERATIONS, Product()),
        (kinds.NORMALIZATIONS, Rescale()),
        (ACTIVATIONS, Rescale()),
    ],
    strict=True, name="deeplift",
)
