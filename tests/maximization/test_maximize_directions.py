"""Objectives with float data: directions, blended channels and diversity match naive references,
a one-hot direction is its channel, new vectors reuse the compiled step, and diversity rises to
its known optimum on a linear layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.maximize_models import pooled_cnn

from keras_vis.maximization import callbacks, maximize, objectives, render

QUIET = dict(progress=False)


def _term(objective):
    ((_, term),) = objective.terms
    return term


def _value(objective, activation, border=0):
    """The objective's `(K,)` value on an activation, with the float data it feeds the step."""
    total = 0.0
    count = len(activation)
    for (weight, term), floats in zip(objective.terms, objective.floats(count)):
        indices = tf.constant(term.data(count))
        total += weight * term.value(tf.constant(activation), None, None, indices, border,
                                     tf.constant(floats))
    return np.asarray(total)


def naive_cosine_dot(activation, vector, cossim_pow):
    dot = float(activation @ vector)
    cosine = dot / (np.linalg.norm(activation) * np.linalg.norm(vector) + 1e-8)
    return dot * max(cosine, 0.1) ** cossim_pow


def naive_diversity(activation):
    """Lucid's diversity, written out: minus each image's summed Gram cosine to the others / K."""
    count, channels = len(activation), activation.shape[-1]
    grams = []
    for a in activation:
        flat = a.reshape(-1, channels).astype(np.float64)
        gram = (flat.T @ flat).ravel()
        grams.append(gram / np.linalg.norm(gram))
    return np.array([
        -sum(grams[i] @ grams[j] for j in range(count) if j != i) / count for i in range(count)
    ])


def test_direction_values_match_naive_references(rng):
    activation = rng.normal(size=(3, 6, 7, 4)).astype(np.float32)
    vectors = rng.normal(size=(3, 4)).astype(np.float32)

    got = _value(objectives.direction("conv", vectors, border=1), activation)
    want = [np.mean(activation[i, 1:-1, 1:-1] @ vectors[i]) for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    got = _value(objectives.direction("conv", vectors[0]), activation, border=2)
    want = [np.mean(activation[i, 2:-2, 2:-2] @ vectors[0]) for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    got = _value(objectives.direction("conv", vectors, cossim_pow=2), activation)
    want = [np.mean([naive_cosine_dot(v, vectors[i], 2) for v in activation[i].reshape(-1, 4)])
            for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)

    got = _value(objectives.direction_neuron("conv", vectors, (1, 5), cossim_pow=1), activation)
    want = [naive_cosine_dot(activation[i, 1, 5], vectors[i], 1) for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)

    got = _value(objectives.direction_neuron("conv", vectors), activation)
    np.testing.assert_allclose(got, [activation[i, 3, 3] @ vectors[i] for i in range(3)],
                               rtol=1e-5, atol=1e-6)

    dense = activation[:, 0, 0]
    got = _value(objectives.direction_neuron("dense", vectors), dense)
    np.testing.assert_allclose(got, np.sum(dense * vectors, axis=1), rtol=1e-5, atol=1e-6)


def test_one_hot_direction_is_its_channel(rng):
    activation = rng.normal(size=(4, 6, 6, 5)).astype(np.float32)
    channels = [3, 0, 4, 1]
    one_hot = np.eye(5, dtype=np.float32)[channels]
    np.testing.assert_allclose(_value(objectives.direction("conv", one_hot), activation),
                               _value(objectives.channel("conv", channels), activation),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_value(objectives.direction_neuron("conv", one_hot), activation),
                               _value(objectives.neuron("conv", channels), activation),
                               rtol=1e-6, atol=1e-7)

    keras.backend.clear_session()
    model = pooled_cnn(pools=2)
    options = dict(size=16, steps=6, seed=3, transforms=(), **QUIET)
    by_direction = maximize(model, objectives.direction("conv2", np.eye(4)[[2, 0]]), **options)
    by_channel = maximize(model, objectives.channel("conv2", [2, 0]), **options)
    np.testing.assert_allclose(by_direction.astype(np.float32), by_channel.astype(np.float32),
                               atol=1.0)


def test_new_vectors_of_one_length_reuse_the_compiled_step(rng):
    keras.backend.clear_session()
    model = pooled_cnn(pools=2)
    options = dict(size=16, steps=2, **QUIET)
    images = maximize(model, objectives.direction("conv2", rng.normal(size=(3, 4))), seed=0,
                      **options)
    assert images.shape == (3, 16, 16, 3)
    traces = render.trace_count(model)
    again = maximize(model, objectives.direction("conv2", rng.normal(size=(5, 4))), seed=1,
                     **options)
    assert again.shape[0] == 5
    maximize(model, objectives.direction("conv2", rng.normal(size=(4,))), seed=[1, 2], **options)
    assert render.trace_count(model) == traces
    for first, second in [
        (objectives.direction_neuron("conv2", rng.normal(size=(2, 4))),
         objectives.direction_neuron("conv2", rng.normal(size=(2, 4)))),
        (objectives.channel_interpolate("conv1", 0, "conv2", 3, count=3),
         objectives.channel_interpolate("conv1", 2, "conv2", 1, count=5)),
    ]:
        maximize(model, first, seed=0, **options)
        traces = render.trace_count(model)
        maximize(model, second, seed=0, **options)
        assert render.trace_count(model) == traces


def test_channel_interpolate_blends_from_one_channel_to_the_other(rng):
    activation = rng.normal(size=(5, 6, 6, 4)).astype(np.float32)
    blend = objectives.channel_interpolate("conv", 1, "conv", 3, count=5)
    assert blend.count == 5
    first = _value(objectives.channel("conv", 1), activation)
    second = _value(objectives.channel("conv", 3), activation)
    t = np.linspace(0, 1, 5)
    np.testing.assert_allclose(_value(blend, activation), (1 - t) * first + t * second,
                               rtol=1e-5, atol=1e-6)


def test_diversity_matches_lucid_and_is_zero_for_one_image(rng):
    activation = rng.normal(size=(4, 5, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(_value(objectives.diversity("conv"), activation),
                               naive_diversity(activation), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_value(objectives.diversity("conv"), activation[:1]), [0.0])


def identity_conv(size=8):
    """Input → a 1×1 convolution that copies its 3 channels: the activations are the pixels."""
    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(3, 1, use_bias=False, name="linear")(inputs)
    head = keras.layers.GlobalAveragePooling2D()(conv)
    model = keras.Model(inputs, keras.layers.Dense(2, name="predictions")(head))
    model.get_layer("linear").set_weights([np.eye(3, dtype=np.float32)[None, None]])
    return model


def test_diversity_pushes_images_apart_to_its_optimum():
    """On non-negative linear activations the Gram cosine of two images is 0 exactly when they
    use disjoint channels, so the optimum is 0: the two images take different colours."""
    keras.backend.clear_session()
    model = identity_conv()
    history = callbacks.History()
    images = maximize(model, objectives.diversity("linear"), seed=[0, 1], size=8, steps=30,
                      value_range=(0, 1), transforms=(), param="pixel", lr=0.1,
                      callbacks=[history], **QUIET)
    values = history.values.sum(axis=1)
    assert values[0] < -0.5  # random starts: near-parallel Grams
    assert np.all(np.diff(values) > -1e-3)  # rises step by step
    assert values[-1] > -0.01  # to the optimum
    final = naive_diversity(images.astype(np.float32) / 255.0)
    assert final.sum() > -0.01
    colours = images.reshape(2, -1, 3).astype(np.float32).mean(axis=1)
    assert np.argmax(colours[0]) != np.argmax(colours[1])


def test_diversity_renders_one_batch_and_refuses_a_smaller_one():
    keras.backend.clear_session()
    model = pooled_cnn(pools=2)
    objective = objectives.channel("conv2", [1, 1, 1]) + objectives.diversity("conv1")
    assert objective.couples_batch and objective.count == 3
    images = maximize(model, objective, size=16, steps=2, seed=0, batch_size=8, **QUIET)
    assert images.shape[0] == 3
    with pytest.raises(ValueError, match="batch_size.*at least 3.*diversity"):
        maximize(model, objective, size=16, steps=2, seed=0, batch_size=2, **QUIET)


@pytest.mark.parametrize("make, error, match", [
    (lambda: objectives.direction("conv2", [[[1.0]]]), ValueError, r"\(K, C\)"),
    (lambda: objectives.direction("conv2", []), ValueError, "non-empty"),
    (lambda: objectives.direction("conv2", [1.0, np.nan]), ValueError, "finite"),
    (lambda: objectives.direction("conv2", ["a", "b"]), TypeError, "vector"),
    (lambda: objectives.direction("conv2", [1.0], cossim_pow=-1), ValueError, "cossim_pow"),
    (lambda: objectives.direction_neuron("conv2", [1.0], position=(1,)), TypeError, "position"),
    (lambda: objectives.channel_interpolate("conv1", 0, "conv2", 1, count=1), ValueError,
     "count"),
])
def test_bad_float_objectives_are_refused_when_made(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("objective, match", [
    (objectives.direction("conv2", np.ones(7)), "length 4, the channels of layer 'conv2'"),
    (objectives.direction_neuron("conv2", np.ones((2, 3))), "length 4"),
    (objectives.direction("flatten", np.ones(4)), "spatial"),
    (objectives.diversity("predictions"), "spatial"),
    (objectives.direction("conv2", np.ones((3, 4))) + objectives.channel("conv2", [0, 1]),
     "3.*2|2.*3"),
])
def test_float_objectives_that_do_not_fit_the_model_are_refused(objective, match):
    keras.backend.clear_session()
    model = pooled_cnn(pools=2)
    with pytest.raises(ValueError, match=match):
        maximize(model, objective, size=16, steps=1, seed=0, **QUIET)
