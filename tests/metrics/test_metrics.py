"""Known-answer tests of the faithfulness metrics: deletion/insertion curves and pointing."""

import keras
import numpy as np
import pytest
import scipy.ndimage
from helpers.state import assert_model_unchanged, model_state
from helpers.models import dense_probabilities, linear_softmax

from keras_vis import engine
from keras_vis.metrics import deletion, energy_pointing, insertion, pointing_game
from keras_vis.targets import Class

SIDE, CHANNELS = 4, 2


@pytest.fixture
def linear_model(rng):
    return linear_softmax(SIDE, CHANNELS, rng)


def _reference_curves(model, images, maps, classes, steps, fill, kind):
    """One image and one step at a time: the literal definition of the curves."""
    curves = np.zeros((len(images), steps + 1))
    for n, (image, saliency) in enumerate(zip(images, maps)):
        order = np.argsort(-saliency.ravel(), kind="stable")
        for i in range(steps + 1):
            chosen = order[: i * SIDE * SIDE // steps]
            start, end = (image, fill[n]) if kind == "deletion" else (fill[n], image)
            altered = start.copy().reshape(SIDE * SIDE, CHANNELS)
            altered[chosen] = end.reshape(SIDE * SIDE, CHANNELS)[chosen]
            curves[n, i] = dense_probabilities(model, altered.reshape(1, SIDE, SIDE, CHANNELS))[0, classes[n]]
    return curves


def _trapezoid(curves):
    steps = curves.shape[1] - 1
    x = np.linspace(0, 1, steps + 1)
    return np.array([sum((x[i + 1] - x[i]) * (c[i] + c[i + 1]) / 2 for i in range(steps)) for c in curves])


def test_deletion_curve_matches_the_definition(linear_model, rng):
    images = rng.uniform(0, 1, (5, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(0, 1, (5, SIDE, SIDE)).astype("float32")
    maps[0, :2] = 0.5  # ties are broken by position
    before = model_state(linear_model)
    result = deletion(linear_model, images, maps, steps=4, batch_size=3)
    predicted = dense_probabilities(linear_model, images).argmax(axis=1)
    expected = _reference_curves(linear_model, images, maps, predicted, 4, np.zeros_like(images), "deletion")
    np.testing.assert_array_equal(result.classes, predicted)
    np.testing.assert_allclose(result.curves, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(result.auc, _trapezoid(expected), rtol=1e-5)
    assert result.mean_auc == pytest.approx(_trapezoid(expected).mean(), rel=1e-5)
    assert result.curves.shape == (5, 5) and result.curves.dtype == np.float32
    assert "deletion AUC" in str(result)
    assert_model_unchanged(linear_model, before)


def test_insertion_from_channel_means_for_a_fixed_class_and_uneven_steps(linear_model, rng):
    images = rng.uniform(0, 1, (3, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.normal(size=(3, SIDE, SIDE)).astype("float32")
    result = insertion(linear_model, keras.ops.convert_to_tensor(images), maps, target=1, steps=3,
                       baseline="mean")
    fill = np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), images.shape)
    expected = _reference_curves(linear_model, images, maps, [1, 1, 1], 3, fill, "insertion")
    np.testing.assert_allclose(result.curves, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.fractions, [0, 5 / 16, 10 / 16, 1])  # 16 * i // 3 pixels


def test_insertion_starts_from_a_gaussian_blur_and_ends_at_the_image(linear_model, rng):
    images = rng.uniform(0, 1, (2, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(size=(2, SIDE, SIDE)).astype("float32")
    result = insertion(linear_model, images, maps, target=0, steps=2, blur_sigma=1.5)
    blurred = np.stack([
        np.stack([scipy.ndimage.gaussian_filter(image[..., c], 1.5, mode="nearest")
                  for c in range(CHANNELS)], axis=-1)
        for image in images
    ])
    np.testing.assert_allclose(result.curves[:, 0], dense_probabilities(linear_model, blurred)[:, 0], rtol=1e-5)
    np.testing.assert_allclose(result.curves[:, -1], dense_probabilities(linear_model, images)[:, 0], rtol=1e-5)


def test_the_true_contributions_give_the_best_deletion_and_insertion_auc(linear_model, rng):
    # For a linear logit with a zero baseline, removing (revealing) the pixels of largest
    # contribution first gives the lowest (highest) probability at every step: the optimal curve.
    images = rng.uniform(0, 1, (6, SIDE, SIDE, CHANNELS)).astype("float32")
    kernel = linear_model.get_layer("predictions").get_weights()[0].reshape(SIDE, SIDE, CHANNELS, 2)
    classes = dense_probabilities(linear_model, images).argmax(axis=1)
    margin = kernel[..., classes] - kernel[..., 1 - classes]  # (H, W, C, N)
    perfect = np.einsum("nhwc,hwcn->nhw", images, margin)
    random_maps = rng.uniform(size=perfect.shape).astype("float32")
    steps = 8
    best, other = (deletion(linear_model, images, m, steps=steps) for m in (perfect, random_maps))
    assert np.all(best.auc <= other.auc + 1e-6) and best.mean_auc < other.mean_auc
    assert np.all(best.curves <= other.curves + 1e-6)
    best, other = (insertion(linear_model, images, m, steps=steps, baseline=0.0)
                   for m in (perfect, random_maps))
    assert np.all(best.auc >= other.auc - 1e-6) and best.mean_auc > other.mean_auc


def test_curves_compile_once_and_batch_every_step(linear_model, rng):
    images = rng.uniform(size=(3, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(size=(3, SIDE, SIDE)).astype("float32")
    deletion(linear_model, images, maps, steps=5, batch_size=4)
    deletion(linear_model, images, maps, steps=7, batch_size=5)
    step = engine.get_engine(linear_model, (), Class(None), head="model", input_grads=False)
    assert step.trace_count == 1


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"steps": 0}, ValueError, "`steps`"),
        ({"steps": 2.5}, TypeError, "`steps`"),
        ({"baseline": "noise"}, ValueError, "'mean' or 'blur'"),
        ({"baseline": np.zeros((3, 3))}, ValueError, "broadcastable"),
        ({"baseline": None}, TypeError, "`baseline`"),
        ({"baseline": "blur", "blur_sigma": 0}, ValueError, "`blur_sigma`"),
        ({"batch_size": 0}, ValueError, "`batch_size`"),
    ],
)
def test_bad_options_are_refused_clearly(linear_model, kwargs, error, words):
    images = np.ones((2, SIDE, SIDE, CHANNELS), "float32")
    with pytest.raises(error, match=words):
        deletion(linear_model, images, np.ones((2, SIDE, SIDE)), **kwargs)


@pytest.mark.parametrize(
    "maps, words",
    [
        (np.ones((2, SIDE, SIDE + 1)), r"shape \(2, 4, 4\)"),
        (np.ones((3, SIDE, SIDE)), r"shape \(2, 4, 4\)"),
        (np.ones((2, SIDE, SIDE, 3)), "Collapse the colour axis"),
        (np.full((2, SIDE, SIDE), np.nan), "finite"),
    ],
)
def test_maps_must_match_the_images(linear_model, maps, words):
    images = np.ones((2, SIDE, SIDE, CHANNELS), "float32")
    with pytest.raises(ValueError, match=words):
        insertion(linear_model, images, maps)


def test_pointing_game_known_hits_and_first_maximum_on_ties():
    maps = np.zeros((3, 5, 6), "float32")
    masks = np.zeros((3, 5, 6), bool)
    masks[:, 1:3, 1:3] = True
    maps[0, 2, 2] = 1.0  # on the object
    maps[1, 4, 5] = 1.0  # far off
    maps[2, 1, 1] = maps[2, 4, 4] = 1.0  # tie: the first in row-major order counts
    result = pointing_game(maps, masks)
    np.testing.assert_array_equal(result.hits, [True, False, True])
    np.testing.assert_array_equal(result.points, [[2, 2], [4, 5], [1, 1]])
    assert result.mean == pytest.approx(2 / 3)
    assert "66.7%" in str(result)


def test_pointing_tolerance_is_a_euclidean_distance_to_the_mask():
    masks = np.zeros((1, 8, 8), bool)
    masks[0, 2, 2] = True
    maps = np.zeros((1, 8, 8))
    maps[0, 4, 3] = 1.0  # distance sqrt(5) ≈ 2.236 from (2, 2)
    assert not pointing_game(maps, masks, tolerance=2.2).hits[0]
    assert pointing_game(maps, masks, tolerance=np.sqrt(5)).hits[0]
    assert pointing_game(maps, masks, tolerance=15).hits[0]


def test_pointing_game_matches_a_brute_force_reference(rng):
    maps = rng.normal(size=(20, 9, 7))
    masks = rng.uniform(size=(20, 9, 7)) < 0.15
    masks[:, 0, 0] = True
    for tolerance in (0, 1, 2.5):
        expected = []
        for saliency, mask in zip(maps, masks):
            y, x = np.unravel_index(np.argmax(saliency), saliency.shape)
            distances = [np.hypot(y - i, x - j) for i, j in zip(*np.nonzero(mask))]
            expected.append(min(distances) <= tolerance)
        np.testing.assert_array_equal(pointing_game(maps, masks, tolerance=tolerance).hits, expected)


def test_energy_pointing_known_fractions():
    maps = np.zeros((3, 4, 4), "float32")
    masks = np.zeros((3, 4, 4, 1), "uint8")  # 0/1 masks with a channel axis are accepted
    masks[:, :2, :2] = 1
    maps[0, 0, 0], maps[0, 3, 3] = 3.0, 1.0  # 3 of 4 on the object
    maps[1] = 1.0  # uniform: the mask's share of the image
    result = energy_pointing(maps, masks)  # maps[2] is zero: scored as uniform
    np.testing.assert_allclose(result.energy, [0.75, 0.25, 0.25])
    assert result.energy.dtype == np.float32
    assert result.mean == pytest.approx(5 / 12)
    assert "energy pointing" in str(result)


@pytest.mark.parametrize(
    "maps, masks, words",
    [
        (-np.ones((1, 4, 4)), np.ones((1, 4, 4), bool), "non-negative"),
        (np.ones((1, 4, 4)), np.zeros((1, 4, 4), bool), r"empty"),
        (np.ones((1, 4, 4)), np.ones((1, 4, 5), bool), r"shape \(1, 4, 4\)"),
        (np.ones((1, 4, 4)), np.full((1, 4, 4), 0.5), "masks > 0.5"),
        (np.ones((4, 4)), np.ones((4, 4), bool), r"maps\[None\]"),
    ],
)
def test_energy_pointing_refuses_bad_input(maps, masks, words):
    with pytest.raises(ValueError, match=words):
        energy_pointing(maps, masks)


def test_pointing_refuses_a_negative_tolerance_and_non_arrays():
    with pytest.raises(ValueError, match="`tolerance`"):
        pointing_game(np.ones((1, 4, 4)), np.ones((1, 4, 4), bool), tolerance=-1)
    with pytest.raises(TypeError, match="`maps`"):
        pointing_game("maps.npy", np.ones((1, 4, 4), bool))
