"""Tiny models beyond the simple case, for the reliability tests.

Every builder returns a fresh, built model whose weights come from the seed `conftest` sets before
each test; the twins (`flat_twin`, `single_head_twin`, `functional_twin`) get the very same weights,
so a technique's answer on the unusual model can be checked against the plain one.
"""

import keras
import numpy as np

SIZE = 16
CLASSES = 3


def _trunk(inputs):
    """conv1(relu) → pool1 → conv2(relu) → gap: the features of every CNN here."""
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    return keras.layers.GlobalAveragePooling2D(name="gap")(x)


def cnn(name="cnn"):
    """conv(relu) → pool → conv(relu) → GAP → Dense(softmax), as `conftest.tiny_cnn`."""
    inputs = keras.Input((SIZE, SIZE, 3))
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(_trunk(inputs))
    return keras.Model(inputs, outputs, name=name)


def channels_first_cnn():
    """A model built with `data_format="channels_first"`: input `(N, 3, H, W)`."""
    inputs = keras.Input((3, SIZE, SIZE))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", data_format="channels_first",
                            name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(data_format="channels_first", name="gap")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="transposed")


def lambda_cnn():
    """A model with a `Lambda` layer: its saved file holds Python code, refused in safe mode."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="with_lambda")


def mixed_precision_cnn():
    """`cnn` built under the current dtype policy, with the softmax kept in float32 as the Keras
    mixed-precision guide recommends; call it with the `mixed_float16` policy set."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Dense(CLASSES, name="logits")(_trunk(inputs))
    outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mixed")


def multi_output_cnn():
    """One trunk, two softmax heads: `head_a` (3 classes) and `head_b` (2 classes)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    pooled = _trunk(inputs)
    head_a = keras.layers.Dense(3, activation="softmax", name="head_a")(pooled)
    head_b = keras.layers.Dense(2, activation="softmax", name="head_b")(pooled)
    return keras.Model(inputs, [head_a, head_b], name="two_heads")


def single_head_twin(model, head):
    """A single-output model with `multi_output_cnn`'s layers up to `head`, holding copies of the
    same weights (its own variables, its own graph)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    units = model.get_layer(head).units
    outputs = keras.layers.Dense(units, activation="softmax", name=head)(_trunk(inputs))
    twin = keras.Model(inputs, outputs, name=f"only_{head}")
    for name in ("conv1", "conv2", head):
        twin.get_layer(name).set_weights(model.get_layer(name).get_weights())
    return twin


def multi_input_cnn():
    """An image `(16, 16, 3)` and a vector `(4,)`: conv → GAP, concatenated with the vector."""
    image = keras.Input((SIZE, SIZE, 3), name="image")
    vector = keras.Input((4,), name="vector")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(image)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Concatenate(name="joined")([x, vector])
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(x)
    return keras.Model([image, vector], outputs, name="image_and_vector")


def nested_cnn():
    """A pretrained-base layout nested two levels deep: `Sequential(Model(Sequential(convs)))`.

    `outer` → `base` (functional) → `inner` (sequential: deep_conv1 → deep_pool → deep_conv2),
    then GAP and a softmax head in `outer`.
    """
    inner = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="deep_conv1"),
            keras.layers.MaxPooling2D(name="deep_pool"),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="deep_conv2"),
        ],
        name="inner",
    )
    base_input = keras.Input((SIZE, SIZE, 3))
    base = keras.Model(base_input, inner(base_input), name="base")
    return keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(CLASSES, activation="softmax", name="predictions"),
        ],
        name="outer",
    )


def flat_twin(nested):
    """`cnn` holding copies of `nested_cnn`'s weights: the same function, with no nesting."""
    flat = cnn("flat")
    flat.set_weights(nested.get_weights())
    return flat


def bn_dropout_cnn():
    """conv → BatchNorm → ReLU → Dropout(0.5) → GAP → Dense(softmax), with moving statistics far
    from a batch's own, so inference mode (moving stats, no dropout) is told apart from training
    mode."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="bn_dropout")
    rng = np.random.default_rng(7)
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.5, 4)
    mean, variance = rng.normal(0.3, 0.2, 4), rng.uniform(2.0, 4.0, 4)
    model.get_layer("bn").set_weights([w.astype(np.float32) for w in (gamma, beta, mean, variance)])
    return model


def dense_classifier(shape, classes, hidden=None):
    """Flatten → [Dense(hidden, relu) "hidden"] → Dense(classes, softmax) "dense", random biases."""
    inputs = keras.Input(shape)
    x = keras.layers.Flatten()(inputs)
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu", bias_initializer="random_normal",
                               name="hidden")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", bias_initializer="random_normal",
                                 name="dense")(x)
    return keras.Model(inputs, outputs)


def logits_of(model, images):
    """The pre-softmax logits of a model whose head is the layer "dense", in float64, from the
    features feeding the head and its weights."""
    dense = model.get_layer("dense")
    features = keras.Model(model.inputs[0], dense.input)(images).numpy().astype(np.float64)
    kernel, bias = dense.get_weights()
    return features @ kernel + bias


class Double(keras.layers.Layer):
    """A layer no backward rule knows: `x * 2`."""

    def call(self, inputs):
        return inputs * 2.0


def cnn_with_unknown_layer():
    """conv(relu) → `Double` (named "doubling") → GAP → Dense: a layer no relevance rule covers."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = Double(name="doubling")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES)(x), name="unknown_layer")


class SubclassedCNN(keras.Model):
    """conv(relu) → GAP → Dense(softmax) as a subclassed model: its graph hides in `call`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")
        self.gap = keras.layers.GlobalAveragePooling2D(name="gap")
        self.dense = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")

    def call(self, inputs):
        return self.dense(self.gap(self.conv(inputs)))


def subclassed_cnn():
    """A built `SubclassedCNN`."""
    model = SubclassedCNN(name="subclassed")
    model(np.zeros((1, SIZE, SIZE, 3), np.float32))
    return model


def functional_twin(subclassed):
    """The functional equivalent of `SubclassedCNN`, holding copies of its weights."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(x)
    twin = keras.Model(inputs, outputs, name="functional")
    twin.set_weights(subclassed.get_weights())
    return twin


def images(count=2, *, size=SIZE, channels=3, seed=0):
    """`count` float32 images with values in [0, 1]."""
    shape = (count, size, size, channels)
    return np.random.default_rng(seed).uniform(0, 1, shape).astype(np.float32)


def linear_softmax(side, channels, rng):
    """`side`×`side`×`channels` → flatten → dense(2, softmax) with random weights: a probability
    that is an exact function of the pixels (`dense_probabilities`)."""
    inputs = keras.Input((side, side, channels))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    kernel = rng.normal(size=(side * side * channels, 2)).astype("float32")
    model.get_layer("predictions").set_weights([kernel, np.array([0.3, -0.2], "float32")])
    return model


def dense_probabilities(model, images):
    """Naive softmax of a `linear_softmax` model's dense layer, written out in numpy (float64)."""
    kernel, bias = model.get_layer("predictions").get_weights()
    logits = np.asarray(images).reshape(len(images), -1).astype(np.float64) @ kernel + bias
    logits -= logits.max(axis=1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def conv_gap_cnn(size):
    """An image of `size` `(height, width)` → conv(relu, biases 1) → GAP → Dense(3, softmax): a
    model whose every input size is its own (no flatten)."""
    inputs = keras.Input(tuple(size) + (3,))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            bias_initializer="ones")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


class FlipThenNormalize(keras.layers.Layer):
    """A custom block written as many library blocks are: its `call` takes no `training`.

    It calls a random flip (whose own `call` defaults to `training=True`, as every augmentation
    and `Resizing` do) and then a `Sequential` holding a BatchNormalization. Under `predict`,
    Keras' call context gives both `training=False`: the flip is the identity and the
    normalization uses its moving statistics. Run without that context, the flip would flip and
    the statistics would move.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flip = keras.layers.RandomFlip("horizontal", seed=3, name="flip")
        self.body = keras.Sequential([
            keras.layers.Conv2D(4, 3, padding="same", name="stem_conv"),
            keras.layers.BatchNormalization(name="stem_bn"),
            keras.layers.ReLU(name="stem_relu"),
        ], name="stem_body")

    def build(self, input_shape):
        self.body.build(input_shape)

    def call(self, inputs):
        return self.body(self.flip(inputs))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (4,)


def custom_block_cnn():
    """`FlipThenNormalize` ("stem"), then `cnn`'s layers: conv1(relu) → pool1 → conv2(relu) → GAP →
    Dense(softmax). The stem's moving statistics are far from any batch's own, so inference mode is
    told apart from training mode."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = FlipThenNormalize(name="stem")(inputs)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(_trunk(x))
    model = keras.Model(inputs, outputs, name="custom_block")
    rng = np.random.default_rng(11)
    bn = model.get_layer("stem").body.get_layer("stem_bn")
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.5, 4)
    mean, variance = rng.normal(0.3, 0.2, 4), rng.uniform(2.0, 4.0, 4)
    bn.set_weights([w.astype(np.float32) for w in (gamma, beta, mean, variance)])
    return model


def alexnet_like_layers(widths, kernels):
    """The Zeiler–Fergus write-up's AlexNet at toy size: convolutions of `widths` channels and
    `kernels` sides (the first with stride 2, the second `same`-padded), each followed by an
    overlapping 3×3/2 max-pool; the layers are `conv1`, `pool1`, `conv2`, ..."""
    layers = []
    for number, (width, kernel) in enumerate(zip(widths, kernels), start=1):
        layers += [keras.layers.Conv2D(width, kernel, strides=2 if number == 1 else 1,
                                       padding="same" if number == 2 else "valid",
                                       activation="relu", name=f"conv{number}"),
                   keras.layers.MaxPooling2D(3, 2, name=f"pool{number}")]
    return layers


def alexnet_like(side, classes, widths, kernels, *, seed):
    """`alexnet_like_layers` on `side`² RGB images, then Flatten → Dense(`classes`), built from
    `seed` in a fresh Keras session."""
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((side, side, 3)), *alexnet_like_layers(widths, kernels),
                             keras.layers.Flatten(), keras.layers.Dense(classes)])


def gap_cnn(name="tiny_cnn"):
    """16×16×3 → conv(relu) → pool → conv(relu) → GAP → Dense(3, softmax): the CAM-able shape of
    most CNNs."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def flatten_cnn():
    """6×6×2 → conv(relu, bias 1) → Flatten → Dense(4, softmax): a head a class activation map
    cannot read as CAM; the dense weights are mostly positive, of both signs, so every class has
    some positive evidence."""
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", bias_initializer="ones",
                            name="conv")(inputs)
    dense = keras.layers.Dense(4, activation="softmax", name="dense",
                               kernel_initializer=keras.initializers.RandomNormal(0.2, 0.3, seed=1))
    return keras.Model(inputs, dense(keras.layers.Flatten()(x)))
