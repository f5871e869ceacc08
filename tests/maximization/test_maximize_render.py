"""The render loop: objectives rise, optimizer steps match hand-computed ones, batches equal single
runs, seeds are reproducible, the step is traced once, any size works, bad input is refused."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.state import assert_model_unchanged, model_state
from helpers.maximize_models import dead_cnn, linear_probe, pooled_cnn, trained_stripes_cnn

from keras_vis import engine
from keras_vis.maximization import callbacks, maximize, objectives, render, transforms
from keras_vis.maximization.params import Fourier, Pixel
from keras_vis.objectives import Channel

QUIET = dict(progress=False)


def as_float(images):
    return np.asarray(images, np.float32)


@pytest.fixture(scope="module")
def stripes_cnn():
    return trained_stripes_cnn()


def channel_scores(model, images, layer):
    """Channel k's mean activation on image k, by the gradient engine (an independent path)."""
    return np.array([
        engine.run(model, as_float(images[k:k + 1]), Channel(layer, k), input_grads=False).scores[0]
        for k in range(len(images))
    ])


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_every_live_channel_of_a_trained_model_rises_tenfold(stripes_cnn, layer):
    history = callbacks.History()
    images = maximize(stripes_cnn, objectives.channel(layer, range(8)), size=16, steps=20,
                      seed=0, transforms=(), callbacks=[history], **QUIET)
    start = history.values[0]
    final = channel_scores(stripes_cnn, images, layer)  # measured on the returned uint8 images
    live = start > 1e-6
    assert live.sum() >= 6
    assert np.all(final[live] >= 10 * start[live]), (start, final)
    assert np.all(final[~live] == 0)  # dead ReLU channels stay at zero, without NaN


def test_linear_objective_known_answer_for_gradient_ascent():
    # mean(conv[..., k]) is linear in the image: its gradient is kernel[:, k] / (H * W) everywhere,
    # so each normalized ascent step adds lr * direction, direction = kernel[:, k] / norm.
    model = linear_probe(size=None)
    kernel = model.get_layer("linear").get_weights()[0][0, 0]  # (3, 2)
    size, steps, lr = 6, 4, 0.05
    start = Pixel(noise=0.2).init(np.random.default_rng(11), size, size, 3) + 0.5
    images = maximize(model, objectives.channel("linear", [0, 1]), size=size, steps=steps,
                      optimizer="ascent", lr=lr, seed=[11, 11], transforms=(),
                      param=Pixel(noise=0.2, clip=False), value_range=(0, 1),
                      deprocess=lambda x: x * 0.25, **QUIET)
    for k in range(2):
        direction = np.broadcast_to(kernel[:, k], (size, size, 3))
        direction = direction / np.linalg.norm(direction)
        want = start + steps * lr * direction
        np.testing.assert_allclose(images[k] / 255.0, np.clip(want * 0.25, 0, 1), atol=0.5 / 255)


def test_linear_objective_known_answer_for_adam():
    # A constant gradient g makes every Adam step lr * sign(g) (bias-corrected moments are g, g²).
    model = linear_probe(size=None)
    kernel = model.get_layer("linear").get_weights()[0][0, 0]
    size, steps, lr = 5, 3, 0.02
    start = Pixel(noise=0.1).init(np.random.default_rng(3), size, size, 3) + 0.5
    floats = []
    maximize(model, objectives.channel("linear", 1), size=size, steps=steps, lr=lr, seed=3,
             transforms=(), value_range=(0, 1), deprocess=lambda x: floats.append(x) or x, **QUIET)
    want = start + steps * lr * np.sign(kernel[:, 1])
    np.testing.assert_allclose(floats[-1][0], want, atol=1e-5)


def test_value_range_and_preprocess_set_what_the_model_sees():
    # The objective recorded at step 0 is the channel mean of preprocess(low + span * image).
    model = linear_probe(size=None)
    kernel, bias = model.get_layer("linear").get_weights()
    history = callbacks.History()
    floats = []
    maximize(model, objectives.channel("linear", 0), size=4, steps=1, seed=2, transforms=(),
             value_range=(-2, 6), preprocess=lambda x: x / 4.0 - 1.0, callbacks=[history],
             deprocess=lambda x: floats.append(x) or x, **QUIET)
    start = Pixel().init(np.random.default_rng(2), 4, 4, 3) + 0.5
    seen = (-2 + 8 * start) / 4.0 - 1.0
    np.testing.assert_allclose(history.values[0, 0], (seen @ kernel[0, 0, :, 0]).mean() + bias[0],
                               rtol=1e-5)


@pytest.mark.parametrize("param, optimizer", [("pixel", "adam"), ("fourier", "ascent"),
                                              (Fourier(decorrelate=True), "adam")])
def test_a_batch_equals_single_runs_with_the_same_seeds(param, optimizer):
    model = pooled_cnn(pools=2)
    objective = objectives.channel("conv2", range(4)) - 0.05 * objectives.total_variation()
    options = dict(size=20, steps=6, optimizer=optimizer, param=param,
                   transforms=transforms.standard(), **QUIET)
    batch = maximize(model, objective, seed=40, **options)
    singles = [
        maximize(model, objectives.channel("conv2", k) - 0.05 * objectives.total_variation(),
                 seed=40 + k, **options)[0]
        for k in range(4)
    ]
    np.testing.assert_array_equal(batch, np.stack(singles))
    listed = maximize(model, objective, seed=[40, 41, 42, 43], **options)
    np.testing.assert_array_equal(batch, listed)
    chunked = maximize(model, objective, seed=40, batch_size=3, **options)
    np.testing.assert_array_equal(batch, chunked)


def test_same_seed_same_images_other_seed_other_images():
    model = pooled_cnn(pools=2)
    options = dict(size=16, steps=3, **QUIET)
    first = maximize(model, objectives.channel("conv1", [0, 1]), seed=5, **options)
    again = maximize(model, objectives.channel("conv1", [0, 1]), seed=5, **options)
    other = maximize(model, objectives.channel("conv1", [0, 1]), seed=6, **options)
    np.testing.assert_array_equal(first, again)
    assert np.any(first != other)
    # an unbatched objective renders one image per listed seed
    assert maximize(model, objectives.channel("conv1", 2), seed=[1, 2, 3], **options).shape[0] == 3


def test_step_is_traced_once_across_sizes_channels_seeds_and_learning_rates():
    model = pooled_cnn(pools=2)
    objective = objectives.channel("conv2", [0, 1]) - 0.1 * objectives.l2()
    maximize(model, objective, size=16, steps=2, seed=0, **QUIET)
    traces = render.trace_count(model)
    assert traces == 1
    maximize(model, objectives.channel("conv2", [3]) - 0.4 * objectives.l2(), size=24, steps=3,
             seed=9, lr=0.2, **QUIET)
    maximize(model, objective, size=12, steps=2, upscaling_steps=2, blur=3, seed=1, **QUIET)
    assert render.trace_count(model) == traces
    maximize(model, objectives.channel("conv2", 0), size=16, steps=1, **QUIET)
    assert render.trace_count(model) == traces + 1  # another objective structure: one more trace


@pytest.mark.parametrize("param, optimizer", [
    (Pixel(decorrelate=True, noise=0.0), "ascent"), (Pixel(), "adam"),
    (Fourier(), "adam"), (Fourier(decorrelate=True), "ascent"),
])
def test_dead_channel_gives_a_finite_unchanged_image(param, optimizer):
    model = dead_cnn()
    floats = []
    images = maximize(model, objectives.channel("dead", [0, 1]), size=16, steps=4, seed=0,
                      optimizer=optimizer, param=param, transforms=transforms.standard(),
                      deprocess=lambda x: floats.append(x) or x, **QUIET)
    assert np.all(np.isfinite(floats[-1]))
    starts = [param.init(np.random.default_rng(k), 16, 16, 3) for k in range(2)]
    want = param.to_image(tf.constant(np.stack(starts)), tf.constant([16, 16])).numpy()
    np.testing.assert_allclose(floats[-1], want, atol=1e-6)
    if isinstance(param, Pixel) and param.noise == 0:
        assert np.all(images == 128)  # plain mid-grey


def test_the_model_is_unchanged_also_after_class_objectives_and_errors(stripes_cnn):
    before = model_state(stripes_cnn)
    maximize(stripes_cnn, objectives.class_logit([0, 1]) - objectives.l2(), steps=2, seed=0,
             **QUIET)
    maximize(stripes_cnn, objectives.channel("conv2", 1), size=24, steps=2, seed=0, **QUIET)
    with pytest.raises(ValueError):
        maximize(stripes_cnn, objectives.channel("conv2", 99), steps=2, **QUIET)
    with pytest.raises(ValueError):
        maximize(stripes_cnn, objectives.channel("conv2", 0), size=1, border=1, steps=2, **QUIET)
    assert_model_unchanged(stripes_cnn, before)
    assert stripes_cnn.get_layer("predictions").activation is keras.activations.softmax


def test_class_logit_rises_past_the_softmax(stripes_cnn):
    # The linear head: the logit keeps growing although the softmax saturates.
    history = callbacks.History()
    images = maximize(stripes_cnn, objectives.class_logit([0, 1]), steps=30, seed=0,
                      callbacks=[history], **QUIET)
    assert np.all(history.values[-1] > history.values[0] + 1.0)
    probabilities = stripes_cnn.predict(as_float(images), verbose=0)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), [0, 1])


def test_any_size_on_a_model_built_for_a_fixed_input():
    model = pooled_cnn(size=16, pools=3)  # Flatten + Dense head: the full model takes 16×16 only
    for size in (8, 24, (12, 40)):
        images = maximize(model, objectives.channel("conv3", [0, 1]), size=size, steps=2,
                          seed=0, **QUIET)
        expected = (size, size) if isinstance(size, int) else size
        assert images.shape == (2, *expected, 3)
    scaled = maximize(model, objectives.neuron("conv2", 1), size=8, steps=1, upscaling_steps=3,
                      upscaling_factor=1.5, seed=0, **QUIET)
    assert scaled.shape == (1, 27, 27, 3)  # 8 -> 12 -> 18 -> 27


def test_size_below_the_minimum_is_refused_with_the_minimum():
    model = pooled_cnn(size=16, pools=3)
    # conv3 follows two 2×2 pools: its map is size // 4, empty below 4 px.
    with pytest.raises(ValueError, match=r"Expected `size` to be at least 4 ") as error:
        maximize(model, objectives.channel("conv3", 0), size=3, steps=1, **QUIET)
    assert "Received: size=(3, 3)" in str(error.value)
    # a border band of 2 needs a map wider than 4: size // 4 >= 5, so 20 px.
    with pytest.raises(ValueError, match=r"at least 20 .*border band of 2"):
        maximize(model, objectives.channel("conv3", 0), size=16, border=2, steps=1, **QUIET)
    maximize(model, objectives.channel("conv3", 0), size=20, border=2, steps=1, **QUIET)
    # a VALID convolution that cannot fit raises inside TensorFlow: reported the same way
    inputs = keras.Input((None, None, 3))
    valid = keras.layers.Conv2D(2, 5, name="valid")(inputs)
    with pytest.raises(ValueError, match=r"at least 5 "):
        maximize(keras.Model(inputs, valid), objectives.channel("valid", 0), size=4, steps=1,
                 **QUIET)


@pytest.mark.parametrize(
    "options, error, match",
    [
        (dict(steps=0), ValueError, r"Expected `steps` to be an integer >= 1"),
        (dict(steps=-3), ValueError, r"`steps`"),
        (dict(steps=2.5), TypeError, r"`steps`"),
        (dict(size=0), ValueError, r"`size`"),
        (dict(size="big"), TypeError, r"`size`"),
        (dict(optimizer="sgd"), ValueError, r"'adam', 'ascent'"),
        (dict(lr=0), ValueError, r"`lr`"),
        (dict(param="wavelet"), ValueError, r"'pixel', 'fourier'"),
        (dict(transforms=[lambda x: x, 3]), TypeError, r"`transforms`"),
        (dict(value_range=(1, 0)), ValueError, r"low < high"),
        (dict(seed=-1), ValueError, r"`seed`"),
        (dict(seed=[1, 2, 3]), ValueError, r"a list of 2 seeds"),
        (dict(callbacks=[print]), TypeError, r"`callbacks`"),
        (dict(upscaling_factor=1.0), ValueError, r"`upscaling_factor`"),
        (dict(blur=0), ValueError, r"`blur`"),
        (dict(preprocess="caffe"), TypeError, r"`preprocess`"),
    ],
)
def test_bad_options_are_refused(options, error, match):
    model = pooled_cnn(pools=2)
    with pytest.raises(error, match=match):
        maximize(model, objectives.channel("conv2", [0, 1]), **{"steps": 1, **options, **QUIET})


def test_models_and_sizes_a_class_objective_cannot_use():
    model = pooled_cnn(size=16, pools=2)
    with pytest.raises(ValueError, match=r"input size \(16, 16\) for a class objective"):
        maximize(model, objectives.class_logit(0), size=24, steps=1, **QUIET)
    with pytest.raises(ValueError, match=r"input size \(16, 16\) for a class objective"):
        maximize(model, objectives.class_logit(0), upscaling_steps=1, steps=1, **QUIET)
    grey = keras.Input((8, 8, 1))
    model = keras.Model(grey, keras.layers.Conv2D(2, 3, name="conv")(grey))
    with pytest.raises(ValueError, match="RGB images"):
        maximize(model, objectives.channel("conv", 0), decorrelate=True, steps=1, **QUIET)
    grey_images = maximize(model, objectives.channel("conv", 0), size=8, steps=1, **QUIET)
    assert grey_images.shape == (1, 8, 8, 1)
    with pytest.raises(TypeError, match="keras.Model"):
        maximize("vgg16", objectives.channel("conv", 0))


def test_nested_base_model_at_another_size():
    base = pooled_cnn(size=16, pools=2)
    outer = keras.Sequential([keras.Input((16, 16, 3)), base,
                              keras.layers.Dense(2, activation="softmax", name="head")])
    before = model_state(outer)
    images = maximize(outer, objectives.channel(f"{base.name}/conv2", [0, 3]), size=28, steps=2,
                      seed=0, **QUIET)
    assert images.shape == (2, 28, 28, 3)
    assert maximize(outer, objectives.class_logit([1]), steps=2, seed=0, **QUIET).shape == (
        1, 16, 16, 3)
    assert_model_unchanged(outer, before)
