"""Binary sigmoid heads: `target=None` explains the predicted label, positive or negative."""

import keras
import numpy as np
import pytest
from helpers.state import signed_gradient

import keras_vis
from keras_vis import engine, steps
from keras_vis.attribution._inputs import resolve_classes, resolved_target
from keras_vis.targets import NEGATIVE, Class, as_target

WEIGHTS = (np.arange(16, dtype=np.float32) - 5.0) / 8.0  # mixed signs, so a flipped map shows


def binary_model(bias=0.0):
    """(4, 4, 1) → Flatten → Dense(1, sigmoid): the logit is `WEIGHTS · x + bias`."""
    inputs = keras.Input((4, 4, 1))
    flat = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="dense")(flat)
    model = keras.Model(inputs, outputs)
    model.get_layer("dense").set_weights([WEIGHTS[:, None], np.array([bias], np.float32)])
    return model


def logits_of(images, bias):
    return images.reshape(len(images), -1) @ WEIGHTS + bias


def weight_map(count):
    return np.broadcast_to(WEIGHTS.reshape(4, 4), (count, 4, 4))


@pytest.fixture
def images(rng):
    return rng.random((2, 4, 4, 1), dtype=np.float32)


def test_the_brief_example_explains_the_negative_label():
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones",
                                 bias_initializer=keras.initializers.Constant(-20.0))(inputs)
    model = keras.Model(inputs, outputs)
    result = engine.run(model, np.ones((1, 4), "float32"), None)
    np.testing.assert_allclose(result.scores, [16.0])


def test_predicted_negative_scores_minus_the_logit(images):
    model = binary_model(bias=-20.0)
    result = engine.run(model, images, None)
    np.testing.assert_allclose(result.scores, -logits_of(images, -20.0), rtol=1e-5)
    np.testing.assert_allclose(result.input_grads[0][..., 0], -weight_map(2), rtol=1e-6)


def test_saliency_of_a_negative_prediction_is_minus_the_weights(images):
    model = binary_model(bias=-20.0)
    np.testing.assert_allclose(signed_gradient(model, images, None), -weight_map(2), rtol=1e-6)


def test_saliency_of_a_positive_prediction_is_the_weights(images):
    model = binary_model(bias=20.0)
    np.testing.assert_allclose(signed_gradient(model, images, None), weight_map(2), rtol=1e-6)


def test_a_mixed_batch_gets_each_sign_in_one_compiled_step(images):
    model = binary_model(bias=-float(logits_of(images, 0.0).mean()))
    signs = np.sign(logits_of(images, model.get_layer("dense").bias.numpy()[0]))
    assert sorted(signs) == [-1, 1]
    maps = signed_gradient(model, images, None)
    np.testing.assert_allclose(maps, signs[:, None, None] * weight_map(2), rtol=1e-6)
    traces = steps.trace_count(model)
    swapped = signed_gradient(model, images[::-1], None)
    np.testing.assert_allclose(swapped, maps[::-1], rtol=1e-6)
    assert steps.trace_count(model) == traces


def test_class_zero_is_the_positive_label_whatever_the_prediction(images):
    model = binary_model(bias=-20.0)
    for target in (0, Class(0), [0, 0]):
        result = engine.run(model, images, target)
        np.testing.assert_allclose(result.scores, logits_of(images, -20.0), rtol=1e-5)


def test_negative_true_is_the_negative_label_whatever_the_prediction(images):
    model = binary_model(bias=20.0)
    result = engine.run(model, images, Class(0, negative=True))
    np.testing.assert_allclose(result.scores, -logits_of(images, 20.0), rtol=1e-5)
    np.testing.assert_allclose(signed_gradient(model, images, Class(0, negative=True)), -weight_map(2),
                               rtol=1e-6)


def test_negative_can_be_chosen_per_image(images):
    model = binary_model(bias=0.5)
    result = engine.run(model, images, Class([0, 0], negative=[True, False]))
    logits = logits_of(images, 0.5)
    np.testing.assert_allclose(result.scores, [-logits[0], logits[1]], rtol=1e-5)


def test_class_one_on_one_unit_suggests_the_negative_keyword(images):
    model = binary_model()
    for target in (1, Class(1), [0, 1]):
        with pytest.raises(ValueError, match=r"Class\(0, negative=True\)"):
            engine.run(model, images, target)


def test_negative_needs_a_class_index_and_a_sigmoid_output(images, tiny_cnn):
    with pytest.raises(ValueError, match="negative=True"):
        engine.run(binary_model(), images, Class(None, negative=True))
    with pytest.raises(ValueError, match="sigmoid"):
        Class(0, negative=True).class_indices(tiny_cnn, 2)
    with pytest.raises(ValueError, match="one per image"):
        Class(0, negative=[True]).class_indices(binary_model(), 2)
    with pytest.raises(TypeError, match="negative"):
        Class(0, negative="yes").class_indices(binary_model(), 2)


def test_probabilities_score_p_or_one_minus_p(images):
    for bias, sign in ((-6.0, -1.0), (2.0, 1.0)):
        model = binary_model(bias=bias)
        p = 1.0 / (1.0 + np.exp(-logits_of(images, bias)))
        assert np.all(np.sign(p - 0.5) == sign)
        result = engine.run(model, images, None, head="model")
        np.testing.assert_allclose(result.scores, np.where(p >= 0.5, p, 1.0 - p), rtol=1e-5)
        expected = sign * (p * (1 - p))[:, None, None] * weight_map(2)
        np.testing.assert_allclose(signed_gradient(model, images, None, logits=False), expected,
                                   rtol=1e-4, atol=1e-7)
        negative = engine.run(model, images, Class(0, negative=True), head="model")
        np.testing.assert_allclose(negative.scores, 1.0 - p, rtol=1e-5)


def test_resolved_classes_keep_the_predicted_label(images):
    for bias, code in ((-20.0, NEGATIVE), (20.0, 0)):
        model = binary_model(bias=bias)
        classes = resolve_classes(model, images, as_target(None), batch_size=8)
        np.testing.assert_array_equal(classes, [code, code])
        logits = engine.run(model, images, None, head="linear").outputs
        np.testing.assert_array_equal(
            resolve_classes(model, images, as_target(None), batch_size=8, outputs=logits,
                            head="linear"), [code, code])
        again = engine.run(model, images, resolved_target(as_target(None), classes))
        np.testing.assert_allclose(again.scores, np.abs(logits_of(images, bias)), rtol=1e-5)


def test_methods_on_altered_copies_keep_the_original_sign(images):
    model = binary_model(bias=-20.0)
    methods = (
        lambda target: keras_vis.integrated_gradients(model, images, target, reduce="sum",
                                                      normalize=False),
        lambda target: keras_vis.saliency(model, images, target, smooth_samples=4, seed=0,
                                          reduce="sum", normalize=False),
        lambda target: keras_vis.occlusion(model, images, target, patch=2, stride=1,
                                           normalize=False),
    )
    for method in methods:
        predicted = method(None)
        negative = method(Class(0, negative=True))
        positive = method(Class(0))
        np.testing.assert_allclose(predicted, negative, rtol=1e-5, atol=1e-7)
        assert not np.allclose(predicted, positive)


def conv_binary_model(bias):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="dense")(x)
    model = keras.Model(inputs, outputs)
    dense = model.get_layer("dense")
    dense.set_weights([np.array([[1.0], [-1.0], [2.0], [-2.0]], np.float32),
                       np.array([bias], np.float32)])
    return model


def test_gradcam_of_a_negative_prediction_explains_the_negative_label(rng):
    images = rng.random((2, 8, 8, 1), dtype=np.float32)
    model = conv_binary_model(bias=-50.0)
    predicted = keras_vis.gradcam(model, images, None, normalize=False)
    negative = keras_vis.gradcam(model, images, Class(0, negative=True), normalize=False)
    positive = keras_vis.gradcam(model, images, Class(0), normalize=False)
    np.testing.assert_allclose(predicted, negative, rtol=1e-5, atol=1e-7)
    assert negative.max() > 0
    assert not np.allclose(predicted, positive)


def test_softmax_and_multi_label_heads_keep_the_argmax(rng, tiny_cnn):
    images = rng.random((3, 16, 16, 3), dtype=np.float32)
    outputs = engine.run(tiny_cnn, images, None, input_grads=False).outputs[0]
    np.testing.assert_array_equal(resolve_classes(tiny_cnn, images, as_target(None), batch_size=8),
                                  outputs.argmax(axis=1))
    inputs = keras.Input((4, 4, 1))
    labels = keras.layers.Dense(3, activation="sigmoid")(keras.layers.Flatten()(inputs))
    multi_label = keras.Model(inputs, labels)
    small = rng.random((3, 4, 4, 1), dtype=np.float32)
    result = engine.run(multi_label, small, None)
    np.testing.assert_allclose(result.scores, result.outputs[0].max(axis=1), rtol=1e-6)
    absent = engine.run(multi_label, small, Class(2, negative=True))
    np.testing.assert_allclose(absent.scores, -result.outputs[0][:, 2], rtol=1e-6)
