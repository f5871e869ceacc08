"""What the class activation map tests share: the GAP → Dense model whose CAM is known, its feature
maps, and the rectified weighted sum every CAM ends with."""

import keras
import numpy as np


def gap_model(size=8, pool=False):
    """size²×3 → conv1(relu) [→ pool] → conv2(relu, bias 1) → GAP → Dropout → Dense(3, softmax):
    CAM's own head, with a layer that acts only in training between the pooling and the dense."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    if pool:
        x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", bias_initializer="ones",
                            name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


def features(model, layer, images):
    """The output of `model`'s layer `layer` on `images`, as numpy."""
    return keras.Model(model.inputs[0], model.get_layer(layer).output)(images).numpy()


def relu_sum(weights, activations):
    """The map of channel `weights` on `activations` `(N, h, w, K)`: their rectified sum."""
    return np.maximum((weights * activations).sum(-1), 0)


def class_weights(model, classes):
    """The weights of `model`'s layer `dense` for each class of `classes`, `(N, 1, 1, K)`: CAM's
    channel weights."""
    kernel = model.get_layer("dense").kernel.numpy()
    return kernel[:, classes].T[:, None, None, :]
