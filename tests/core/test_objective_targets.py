"""Every objective is an attribution target: the gradient of its score, checked against a gradient
taken by hand with `tf.GradientTape` on a sub-model, and against the linearity of the objective
algebra; `Channel` and `Neuron` are its one-term objectives."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vis
from helpers.models import cnn, images
from keras_vis import objectives
from keras_vis.objectives import Channel, Neuron, Objective, ObjectiveTarget
from keras_vis.targets import as_target


def raw_saliency(model, x, target, **options):
    return keras_vis.saliency(model, x, target, reduce="sum", normalize=False, **options)


def tape_gradient(model, x, layer, score):
    """`d score(activation of layer) / d x`, summed over the colour axis, by hand."""
    tapped = keras.Model(model.inputs, model.get_layer(layer).output)
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = tf.reduce_sum(score(tapped(inputs)))
    return tf.reduce_sum(tape.gradient(value, inputs), axis=-1).numpy()


def test_a_direction_target_is_the_gradient_of_its_mean_dot_product():
    model, x = cnn(), images(3)
    vector = np.array([0.5, -1.0, 0.0, 2.0, 0.25, 1.0], np.float32)
    got = raw_saliency(model, x, objectives.direction("conv2", vector))
    want = tape_gradient(model, x, "conv2",
                         lambda a: tf.reduce_mean(tf.tensordot(a, vector, axes=1), axis=[1, 2]))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_objectives_add_up_as_their_gradients_do():
    model, x = cnn(), images(2)
    mixed = 2.0 * Channel("conv2", 0) - Neuron("conv2", 1, (2, 3))
    expected = (2.0 * raw_saliency(model, x, Channel("conv2", 0))
                - raw_saliency(model, x, Neuron("conv2", 1, (2, 3))))
    np.testing.assert_allclose(raw_saliency(model, x, mixed), expected, rtol=1e-4, atol=1e-6)
    one_hot = np.eye(6, dtype=np.float32)[4]
    np.testing.assert_allclose(raw_saliency(model, x, objectives.direction("conv2", one_hot)),
                               raw_saliency(model, x, Channel("conv2", 4)), rtol=1e-4,
                               atol=1e-6)


def test_a_neuron_is_one_unit_and_defaults_to_the_centre_of_the_map():
    model, x = cnn(), images(2)
    want = tape_gradient(model, x, "conv2", lambda a: a[:, 4, 4, 1])
    np.testing.assert_allclose(raw_saliency(model, x, Neuron("conv2", 1, (4, 4))), want,
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(raw_saliency(model, x, Neuron("conv2", 1)), want, rtol=1e-4,
                               atol=1e-6)  # the 8×8 map's centre


def test_a_batched_objective_explains_image_i_by_its_index_i():
    model, x = cnn(), images(3)
    batched = raw_saliency(model, x, objectives.channel("conv2", [2, 0, 5]))
    for i, channel in enumerate([2, 0, 5]):
        np.testing.assert_allclose(batched[i], raw_saliency(model, x[i:i + 1],
                                                            Channel("conv2", channel))[0],
                                   rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="3 images, one per index"):
        raw_saliency(model, x[:2], objectives.channel("conv2", [2, 0, 5]))


def test_a_class_logit_objective_is_the_class_target():
    model, x = cnn(), images(2)
    np.testing.assert_allclose(raw_saliency(model, x, objectives.class_logit(1)),
                               raw_saliency(model, x, 1), rtol=1e-5, atol=1e-7)


def test_cams_and_relevance_take_an_objective_too():
    model, x = cnn(), images(2)
    vector = np.linspace(-1, 1, 6).astype(np.float32)
    target = objectives.direction("conv2", vector)
    maps = keras_vis.gradcam(model, x, target, layer="conv1")
    assert maps.shape == (2, 16, 16) and np.all(np.isfinite(maps))
    relevance = keras_vis.lrp(model, x, Channel("conv2", 3), normalize=False)
    assert relevance.shape == (2, 16, 16) and np.all(np.isfinite(relevance))


def test_channel_and_neuron_are_one_term_objectives():
    assert isinstance(Channel("conv", 3), Objective)
    assert Channel("conv", 3, border=2).key() == objectives.channel("conv", 3, 2).key()
    assert Neuron("conv", 1, (2, 3)).key() == objectives.neuron("conv", 1, (2, 3)).key()
    assert isinstance(as_target(Channel("conv", 3)), ObjectiveTarget)
    assert keras_vis.Channel is Channel and keras_vis.Neuron is Neuron


@pytest.mark.parametrize("objective, message", [
    (Channel("conv2", 0) - 0.1 * objectives.total_variation(), "total_variation"),
    (objectives.l2(), "l2"),
    (Channel("conv2", 0) + objectives.diversity("conv2"), "diversity"),
], ids=["total variation", "l2", "diversity"])
def test_terms_an_explanation_cannot_score_are_refused(objective, message):
    with pytest.raises(ValueError, match=f"{message}.*reads the rendered image"):
        raw_saliency(cnn(), images(2), objective)


def test_a_direction_of_the_wrong_length_is_refused_before_any_work():
    with pytest.raises(ValueError, match="6"):
        raw_saliency(cnn(), images(2), objectives.direction("conv2", np.ones(4, np.float32)))
