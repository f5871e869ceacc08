"""Objectives: the algebra never mutates, every term's value matches a naive numpy reference, and
every misuse is caught with a clear error before anything is traced."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.maximize_models import linear_probe, pooled_cnn

from keras_vis.maximization import maximize, objectives
from keras_vis.objectives import Channel, Neuron
from keras_vis.targets import Class


def test_algebra_builds_new_objectives_and_leaves_operands_alone():
    a = objectives.channel("conv", range(4))
    b = objectives.total_variation()
    a_terms, b_terms = a.terms, b.terms
    combined = 2 * a - 0.5 * b + objectives.l2() / 4
    assert a.terms == a_terms and b.terms == b_terms
    assert [w for w, _ in combined.terms] == [2.0, -0.5, 0.25]
    assert [t.kind for _, t in combined.terms] == ["channel", "total_variation", "l2"]
    assert combined.count == 4
    assert [w for w, _ in (-a).terms] == [-1.0]
    assert sum([a, b]).terms == (a + b).terms
    assert repr(combined) == (
        "2 * channel('conv', [0, 1, 2, 3]) - 0.5 * total_variation() + 0.25 * l2()"
    )
    with pytest.raises(AttributeError, match="immutable"):
        a.extra = 1
    with pytest.raises(AttributeError, match="immutable"):
        a._terms = ()


def test_algebra_rejects_nonsense():
    a = objectives.channel("conv", 1)
    with pytest.raises(TypeError, match="multiplied"):
        a * a
    with pytest.raises(TypeError):
        a + 1
    with pytest.raises(TypeError):
        a * "2"
    with pytest.raises(ValueError, match="non-zero"):
        a / 0
    with pytest.raises(TypeError, match="finite number"):
        a * float("nan")
    mixed = objectives.channel("conv", range(3)) + objectives.channel("conv", range(5))
    with pytest.raises(ValueError, match=r"\[3, 5\] images"):
        mixed.count


@pytest.mark.parametrize(
    "bad, error",
    [([], ValueError), ([[1, 2]], ValueError), (1.5, TypeError), ([0.5, 1.0], TypeError),
     (True, TypeError), ("3", TypeError)],
)
def test_indices_are_checked(bad, error):
    with pytest.raises(error, match="Expected `channel`"):
        objectives.channel("conv", bad)


def test_indices_and_weights_are_data_not_structure():
    a = objectives.channel("conv", 3) - 0.1 * objectives.l2()
    b = objectives.channel("conv", [5, 6]) - 0.7 * objectives.l2()
    assert a.key() == b.key()
    np.testing.assert_array_equal(b.data(2), [[5, 0], [6, 0]])
    np.testing.assert_array_equal(a.data(3), [[3, 0]] * 3)
    np.testing.assert_allclose(b.weights(), [1.0, -0.7])


def _term(objective):
    (weight, term), = objective.terms
    return term


def test_term_values_match_naive_references(rng):
    activation = rng.normal(size=(3, 7, 6, 5)).astype(np.float32)
    image = rng.random((3, 8, 9, 3)).astype(np.float32)
    indices = np.array([4, 0, 2], np.int32)

    channel = _term(objectives.channel("conv", [4, 0, 2], border=2))
    got = channel.value(tf.constant(activation), None, None, tf.constant(indices), 0, None)
    want = [activation[i, 2:-2, 2:-2, k].mean() for i, k in enumerate(indices)]
    np.testing.assert_allclose(got, want, rtol=1e-5)

    defaulted = _term(objectives.channel("conv", [4, 0, 2]))  # border from maximize
    got = defaulted.value(tf.constant(activation), None, None, tf.constant(indices), 1, None)
    np.testing.assert_allclose(got, [activation[i, 1:-1, 1:-1, k].mean()
                                     for i, k in enumerate(indices)], rtol=1e-5)

    centre = _term(objectives.neuron("conv", [4, 0, 2]))
    got = centre.value(tf.constant(activation), None, None, tf.constant(indices), 0, None)
    np.testing.assert_allclose(got, [activation[i, 3, 3, k] for i, k in enumerate(indices)])

    placed = _term(objectives.neuron("conv", [4, 0, 2], (1, 5)))
    got = placed.value(tf.constant(activation), None, None, tf.constant(indices), 0, None)
    np.testing.assert_allclose(got, [activation[i, 1, 5, k] for i, k in enumerate(indices)])

    dense = rng.normal(size=(3, 5)).astype(np.float32)
    got = centre.value(tf.constant(dense), None, None, tf.constant(indices), 0, None)
    np.testing.assert_allclose(got, dense[np.arange(3), indices])

    logit = _term(objectives.class_logit([4, 0, 2]))
    got = logit.value(None, [tf.constant(dense)], None, tf.constant(indices), 0, None)
    np.testing.assert_allclose(got, dense[np.arange(3), indices])

    tv = _term(objectives.total_variation()).value(None, None, tf.constant(image), None, 0, None)
    want = [np.abs(np.diff(im, axis=0)).mean() + np.abs(np.diff(im, axis=1)).mean()
            for im in image]
    np.testing.assert_allclose(tv, want, rtol=1e-5)

    l2 = _term(objectives.l2()).value(None, None, tf.constant(image), None, 0, None)
    np.testing.assert_allclose(l2, ((image - 0.5) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)


def test_targets_and_class_indices_convert():
    assert objectives.as_objective(Channel("conv", 3, border=2)).key() == (("channel", "conv", 2),)
    assert objectives.as_objective(Neuron("conv", 1, (2, 3))).key() == (
        ("neuron", "conv", (2, 3)),)
    assert objectives.as_objective(Class(7)).key() == (("class_logit", 0),)
    assert objectives.as_objective(7).key() == (("class_logit", 0),)
    with pytest.raises(TypeError, match="Say what to maximize"):
        objectives.as_objective(None)


@pytest.fixture
def probe():
    return linear_probe(size=8)


@pytest.mark.parametrize(
    "objective, match",
    [
        (objectives.channel("linear", [0, 2]), r"an index in \[0, 1\].*has 2 channels"),
        (objectives.channel("linear", -1), r"an index in \[0, 1\]"),
        (objectives.neuron("linear", 5, (0, 0)), r"an index in \[0, 1\]"),
        (objectives.channel("predictions", 0), r"spatial output.*objectives.neuron"),
        (objectives.neuron("predictions", 0, (1, 1)), r"spatial output"),
        (objectives.channel("linaer", 0), r"Did you mean: 'linear'"),
        (objectives.class_logit(2), r"class indices in \[0, 1\]"),
        (objectives.neuron("linear", 0, (8, 0)), r"inside the 8×8 map"),
    ],
)
def test_objectives_the_model_cannot_compute_are_refused(probe, objective, match):
    with pytest.raises(ValueError, match=match):
        maximize(probe, objective, steps=1, progress=False)


def test_layer_without_spatial_output_is_refused_for_spatial_objectives():
    model = pooled_cnn()
    with pytest.raises(ValueError, match="spatial output") as error:
        maximize(model, objectives.channel("flatten", 0), steps=1, progress=False)
    assert "Received: layer='flatten'" in str(error.value)
    # a dense unit is fine as a neuron without position
    images = maximize(model, objectives.neuron("predictions", 1), size=16, steps=1,
                      progress=False, transforms=())
    assert images.shape == (1, 16, 16, 3)
    keras.backend.clear_session()
