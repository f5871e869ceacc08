"""The recipes reproduce the classic write-ups: each is compared with a naive transcription of the
original loop (one filter at a time, in plain TensorFlow/numpy) on a tiny model."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.maximize_models import trained_stripes_cnn

from keras_vis.maximization import (
    class_visualization,
    deprocess,
    filter_visualization,
    multiscale_visualization,
    objectives,
    render,
)
from keras_vis.maximization.params import Pixel
from keras_vis.maximization.render import box_blur


def keras_example_deprocess(img, crop):
    """The Keras example's `deprocess_image`, rounding instead of truncating to uint8."""
    img = img - img.mean()
    img /= img.std() + 1e-5
    img *= 0.15
    if crop:
        img = img[crop:-crop, crop:-crop, :]
    img += 0.5
    img = np.clip(img, 0, 1)
    img *= 255
    return np.round(img).astype("uint8")


def small_convnet(size=None):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    return keras.Model(inputs, x, name="small_convnet")


def test_deprocess_matches_the_keras_example(rng):
    images = rng.normal(3, 2, (3, 20, 16, 3)).astype(np.float32)
    got = deprocess(images, crop=4)
    assert got.shape == (3, 12, 8, 3) and got.dtype == np.uint8
    for image, result in zip(images, got):
        np.testing.assert_array_equal(result, keras_example_deprocess(image.copy(), 4))
    np.testing.assert_array_equal(deprocess(np.full((1, 4, 4, 3), 7.0), crop=0), 128)
    with pytest.raises(ValueError, match="less than half"):
        deprocess(images, crop=8)
    with pytest.raises(ValueError, match="finite"):
        deprocess(np.full((1, 4, 4, 3), np.nan))


def test_filter_visualization_equals_the_keras_example_loop():
    model = small_convnet(size=24)
    size, crop, seed = 24, 3, 10
    grid = filter_visualization(model, "conv1", size=size, crop=crop, margin=2,
                                value_range=(-1, 1), seed=seed, progress=False)
    tile = size - 2 * crop
    assert grid.shape == (3 * tile + 2 * 2, 3 * tile + 2 * 2, 3)  # 8 filters on a 3×3 grid

    extractor = keras.Model(model.inputs, model.get_layer("conv1").output)
    for k in range(8):
        # The example's start, (uniform - 0.5) * 0.25 in [-1, 1] units, from this image's seed.
        uniform = np.random.default_rng(seed + k).random((size, size, 3), dtype=np.float32)
        img = tf.constant(((uniform - 0.5) * 0.25)[None])
        for _ in range(30):
            with tf.GradientTape() as tape:
                tape.watch(img)
                loss = tf.reduce_mean(extractor(img)[:, 2:-2, 2:-2, k])
            img += 10.0 * tf.math.l2_normalize(tape.gradient(loss, img))
        want = keras_example_deprocess(img[0].numpy(), crop)
        row, col = divmod(k, 3)
        top, left = row * (tile + 2), col * (tile + 2)
        got = grid[top:top + tile, left:left + tile]
        difference = np.abs(got.astype(int) - want)
        assert difference.max() <= 1 and difference.mean() < 0.05
    assert np.all(grid[tile:tile + 2] == 0)  # black margins
    assert np.all(grid[2 * (tile + 2):, 2 * (tile + 2):] == 0)  # the empty cell after filter 8


def test_multiscale_recipe_equals_the_fastai_loop():
    model = small_convnet()
    extractor = keras.Model(model.inputs, model.get_layer("conv1").output)
    size, steps, scales, lr, blur, seed = 10, 4, 3, 0.1, 3, 2
    images = multiscale_visualization(model, objectives.channel("conv1", [5]), size=size,
                                      steps=steps, scales=scales, lr=lr, blur=blur, seed=seed,
                                      progress=False)
    assert images.shape == (1, 14, 14, 3)  # 10 -> 12 -> 14

    mean = 165 / 255
    param = Pixel(mean=mean, noise=30 / 255)
    image = mean + param.init(np.random.default_rng(seed), size, size, 3)[None]
    for scale in range(scales):
        p, m, v = image - mean, 0.0, 0.0  # a new torch.optim.Adam(weight_decay=1e-6) per scale
        for t in range(1, steps + 1):
            variable = tf.constant(p)
            with tf.GradientTape() as tape:
                tape.watch(variable)
                loss = -tf.reduce_mean(extractor(255.0 * (mean + variable))[..., 5])
            g = tape.gradient(loss, variable).numpy() + 1e-6 * p
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            p = p - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        image = mean + p
        if scale < scales - 1:
            size = int(size * 1.2)
            image = box_blur(tf.image.resize(image, (size, size), method="bicubic"), blur).numpy()
    want = np.round(np.clip(image[0], 0, 1) * 255)
    assert np.abs(images[0].astype(int) - want).max() <= 1


def test_multiscale_sizes_of_the_classic_settings():
    sizes = render._scale_sizes((56, 56), 11, 1.2)
    assert [s[0] for s in sizes] == [56, 67, 80, 96, 115, 138, 165, 198, 237, 284, 340, 408]


def test_class_visualization_makes_the_model_see_each_class():
    model = trained_stripes_cnn()
    images = class_visualization(model, [0, 1], steps=48, seed=0, progress=False)
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    probabilities = model.predict(images.astype(np.float32), verbose=0)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), [0, 1])
    assert probabilities.max(axis=1).min() > 0.9


def test_class_visualization_penalties_smooth_the_image():
    model = trained_stripes_cnn()

    def variation(images):
        images = images.astype(np.float32) / 255
        return np.abs(np.diff(images, axis=1)).mean() + np.abs(np.diff(images, axis=2)).mean()

    options = dict(steps=24, seed=0, param="pixel", transforms=(), progress=False)
    plain = class_visualization(model, 0, **options)
    smooth = class_visualization(model, 0, tv_weight=30.0, **options)
    assert variation(smooth) < 0.5 * variation(plain)
    with pytest.raises(ValueError, match="`tv_weight`"):
        class_visualization(model, 0, tv_weight=-1.0, **options)


def test_filter_visualization_refuses_a_crop_larger_than_the_image():
    with pytest.raises(ValueError, match="`crop`"):
        filter_visualization(small_convnet(), "conv1", size=40, crop=20, progress=False)
