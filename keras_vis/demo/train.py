"""Trains the bundled demo CNN on generated shapes images.

Run `python -m keras_vis.demo.train [--out PATH] [--epochs N]`. Every epoch
draws fresh images from `keras_vis.demo.shapes`, so the network never sees
the same image twice and cannot memorise backgrounds. After training, the
script reports the accuracy on a fresh test set (a seed never used for
training) and the Grad-CAM pointing game on the last convolution: the share of
test images whose class activation map peaks inside the object mask. The
model is then written atomically to `--out`.
"""

import argparse
import math
import os
import tempfile
import time

import cv2
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_vis.demo import INPUT_SIZE, LAST_CONV_LAYER, MODEL_PATH, SHAPE_CLASSES, shapes

SEED = 1234
"""Seed of `keras.utils.set_random_seed`: initial weights and batch order."""
TRAIN_SEED_OFFSET = 100_000
"""Epoch `e` trains on `shapes(..., seed=TRAIN_SEED_OFFSET + e)`."""
TEST_SEED = 7
"""Seed of the test set evaluated at the end of training."""
TEST_SIZE = 1000
EPOCHS = 12
IMAGES_PER_EPOCH = 6000
BATCH_SIZE = 64
LEARNING_RATE = 2e-3


def _conv(x, filters, name):
    return layers.Conv2D(
        filters, 3, padding="same", activation="relu", kernel_initializer="he_normal", name=name
    )(x)


def _block(x, filters, index):
    """Convolution, max-pooling and batch normalization, named `block{index}_*`."""
    x = _conv(x, filters, f"block{index}_conv1")
    x = layers.MaxPooling2D(name=f"block{index}_pool")(x)
    return layers.BatchNormalization(name=f"block{index}_norm")(x)


def build_model(num_classes=len(SHAPE_CLASSES), input_size=INPUT_SIZE):
    """Builds the demo CNN: VGG-style convolution blocks, a GAP and a softmax layer.

    The model takes RGB images with values in [0, 255]. It rescales them to [0, 1], then
    standardizes each channel of each image over its pixels, which removes the background's
    overall colour. Three blocks (3×3 convolution with ReLU, 2×2 max-pooling, batch
    normalization) bring 64×64 inputs down to 8×8; two more 3×3 convolutions (`block4_conv1` and
    `last_conv`) see about 54×54 pixels each, enough to take in a whole object. Global average
    pooling of `last_conv` followed by one dense layer makes it a class activation map (CAM)
    architecture. The standardization and the batch normalizations let training leave the
    chance-level plateau within an epoch or two; without them it stalls for most of the run.

    Args:
        num_classes: Number of output classes.
        input_size: Side of the square input images.

    Returns:
        An uncompiled functional `keras.Model` named `shapes_cnn`.
    """
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    x = layers.LayerNormalization(
        axis=(1, 2), center=False, scale=False, name="standardization"
    )(x)
    x = _block(x, 16, 1)
    x = _block(x, 32, 2)
    x = _block(x, 64, 3)
    x = _conv(x, 96, "block4_conv1")
    x = _conv(x, 96, LAST_CONV_LAYER)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="shapes_cnn")


def train(model, epochs, images_per_epoch=IMAGES_PER_EPOCH, batch_size=BATCH_SIZE):
    """Trains `model` in place on fresh shapes images at every epoch.

    Args:
        model: Model returned by `build_model`.
        epochs: Number of epochs.
        images_per_epoch: Number of newly generated images per epoch.
        batch_size: Mini-batch size.
    """
    steps = epochs * math.ceil(images_per_epoch / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    size = model.input_shape[1]
    for epoch in range(epochs):
        images, labels, _ = shapes(images_per_epoch, size=size, seed=TRAIN_SEED_OFFSET + epoch)
        history = model.fit(
            images.astype("float32"), labels, batch_size=batch_size, epochs=1, verbose=0
        )
        logs = history.history
        print(
            f"epoch {epoch + 1}/{epochs}: loss {logs['loss'][-1]:.4f}, "
            f"accuracy {logs['accuracy'][-1]:.4f}",
            flush=True,
        )


def _grad_cam(model, images, classes, layer_name=LAST_CONV_LAYER, batch_size=100):
    """Grad-CAM maps of `classes` upsampled to the input size.

    The explained score is the pre-softmax logit of the class, recomputed from
    the input of the final `predictions` dense layer, so that confident
    predictions do not saturate the gradients.

    Args:
        model: A model built by `build_model`.
        images: `(n, h, w, 3)` array of model inputs.
        classes: `(n,)` class index explained for each image.
        layer_name: Name of the convolution whose activations are weighted.
        batch_size: Number of images per gradient computation.

    Returns:
        A `(n, h, w)` float32 array of non-negative maps.
    """
    head = model.get_layer("predictions")
    probe = keras.Model(model.inputs, [model.get_layer(layer_name).output, head.input])
    height, width = images.shape[1:3]
    maps = []
    for start in range(0, len(images), batch_size):
        batch = tf.convert_to_tensor(images[start:start + batch_size], dtype=tf.float32)
        target = tf.convert_to_tensor(classes[start:start + batch_size])
        with tf.GradientTape() as tape:
            activations, features = probe(batch, training=False)
            logits = tf.matmul(features, head.kernel) + head.bias
            scores = tf.gather(logits, target, axis=1, batch_dims=1)
        gradients = tape.gradient(scores, activations)
        weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
        cams = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1)).numpy()
        maps.extend(cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR)
                    for cam in cams)
    return np.stack(maps)


def _pointing_game(maps, masks):
    """Share of maps whose maximum lies inside the object mask.

    Args:
        maps: `(n, h, w)` saliency maps.
        masks: `(n, h, w)` boolean object masks.

    Returns:
        The hit rate, a float in [0, 1].
    """
    flat = maps.reshape(len(maps), -1)
    peaks = flat.argmax(axis=1)
    return float(masks.reshape(len(masks), -1)[np.arange(len(masks)), peaks].mean())


def save_atomically(model, path):
    """Saves `model` to `path` through a temporary file in the same folder.

    Readers never see a half-written file: the complete file replaces `path` in one step.

    Args:
        model: Model to save.
        path: Destination `.keras` file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(handle)
    try:
        model.save(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a package file must be readable
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise


def main(argv=None):
    """Command-line entry point: trains, evaluates and saves the demo model.

    Args:
        argv: Command-line arguments, `sys.argv[1:]` when None.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=MODEL_PATH, help="where to save the model")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="number of training epochs")
    args = parser.parse_args(argv)
    if args.epochs <= 0:
        parser.error(f"--epochs must be positive, got {args.epochs}")

    keras.utils.set_random_seed(SEED)
    model = build_model()
    began = time.perf_counter()
    train(model, args.epochs)
    elapsed = time.perf_counter() - began

    images, labels, masks = shapes(TEST_SIZE, size=INPUT_SIZE, seed=TEST_SEED)
    images = images.astype("float32")
    predicted = model.predict(images, batch_size=250, verbose=0).argmax(axis=1)
    accuracy = float((predicted == labels).mean())
    hits = _pointing_game(_grad_cam(model, images, labels), masks)
    print(f"training time: {elapsed:.1f} s ({args.epochs} epochs)")
    print(f"test accuracy: {accuracy:.4f} on {TEST_SIZE} fresh images (seed {TEST_SEED})")
    print(f"Grad-CAM pointing game ({LAST_CONV_LAYER}): {hits:.4f} on the same images")
    # An uncompiled copy, so that the file holds no optimizer state.
    inference = build_model()
    inference.set_weights(model.get_weights())
    save_atomically(inference, args.out)
    print(f"saved {args.out} ({os.path.getsize(args.out) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
