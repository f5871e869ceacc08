"""Known-answer tests of ROAD: the noisy linear imputation and the curves scored on it."""

import time

import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state
from helpers.models import dense_probabilities, linear_softmax

from keras_vis import engine
from keras_vis.metrics import RoadResult, road
from keras_vis.metrics.road import impute
from keras_vis.targets import Class

SIDE, CHANNELS = 6, 2
DIRECT, DIAGONAL = 1 / 6, 1 / 12


@pytest.fixture
def linear_model(rng):
    return linear_softmax(SIDE, CHANNELS, rng)


def _naive_impute(image, removed):
    """One equation per removed pixel, written pixel by pixel, solved densely."""
    height, width, _ = image.shape
    unknown = list(zip(*np.nonzero(removed)))
    number = {pixel: i for i, pixel in enumerate(unknown)}
    system = np.zeros((len(unknown), len(unknown)))
    right = np.zeros((len(unknown), image.shape[2]))
    for i, (y, x) in enumerate(unknown):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ny, nx = y + dy, x + dx
                if (dy, dx) == (0, 0) or not (0 <= ny < height and 0 <= nx < width):
                    continue
                weight = DIRECT if dy == 0 or dx == 0 else DIAGONAL
                system[i, i] += weight
                if removed[ny, nx]:
                    system[i, number[ny, nx]] -= weight
                else:
                    right[i] += weight * image[ny, nx]
    result = image.astype(np.float64).copy()
    for (y, x), value in zip(unknown, np.linalg.solve(system, right)):
        result[y, x] = value
    return result


def test_a_linear_image_is_imputed_exactly_away_from_the_border(rng):
    rows, cols = np.mgrid[:20, :30]
    image = np.stack([0.3 * rows + 0.2 * cols + 1, -0.1 * rows + 0.5 * cols, 2 + 0 * rows], -1)
    removed = np.zeros((20, 30), bool)
    removed[1:-1, 1:-1] = rng.uniform(size=(18, 28)) < 0.7
    removed[3:12, 4:20] = True  # a large hole too: imputed from its rim only
    np.testing.assert_allclose(impute(image, removed), image, atol=2e-5)


def test_one_removed_pixel_is_the_weighted_mean_of_its_neighbours(rng):
    image = rng.uniform(size=(3, 3, 2))
    removed = np.zeros((3, 3), bool)
    removed[1, 1] = True
    direct = image[0, 1] + image[2, 1] + image[1, 0] + image[1, 2]
    diagonal = image[0, 0] + image[0, 2] + image[2, 0] + image[2, 2]
    result = impute(image, removed)
    np.testing.assert_allclose(result[1, 1], direct / 6 + diagonal / 12, rtol=1e-6)
    known = ~removed
    np.testing.assert_allclose(result[known], image[known], rtol=1e-6)
    # A corner has two direct neighbours and one diagonal inside: weights 1/6, 1/6, 1/12 over 5/12.
    removed = np.zeros((3, 3), bool)
    removed[0, 0] = True
    corner = (2 * image[0, 1] + 2 * image[1, 0] + image[1, 1]) / 5
    np.testing.assert_allclose(impute(image, removed)[0, 0], corner, rtol=1e-6)


@pytest.mark.parametrize("shape, share", [((5, 7, 1), 0.5), ((9, 8, 3), 0.8), ((12, 12, 2), 0.95)])
def test_imputation_solves_the_joint_system_of_a_naive_reference(rng, shape, share):
    image = rng.normal(size=shape)
    removed = rng.uniform(size=shape[:2]) < share
    removed[0, 0] = False  # at least one pixel stays
    np.testing.assert_allclose(impute(image, removed), _naive_impute(image, removed),
                               rtol=1e-5, atol=1e-5)


def test_noise_is_relative_to_the_value_range_and_only_on_removed_pixels(rng):
    image = rng.uniform(0, 255, size=(40, 40, 3))
    removed = rng.uniform(size=(40, 40)) < 0.5
    plain = impute(image, removed)
    noisy = impute(image, removed, noise=0.05, rng=np.random.default_rng(3))
    again = impute(image, removed, noise=0.05, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(noisy, again)
    np.testing.assert_array_equal(noisy[~removed], plain[~removed])
    spread = np.std(noisy[removed] - plain[removed])
    assert spread == pytest.approx(0.05 * np.ptp(image), rel=0.05)


def test_a_224_image_half_removed_is_imputed_quickly(rng):
    image = rng.uniform(size=(224, 224, 3))
    removed = rng.uniform(size=(224, 224)) < 0.5
    start = time.perf_counter()
    result = impute(image, removed, noise=0.01, rng=rng)
    assert time.perf_counter() - start < 2.0  # about 0.1 s
    assert np.all(np.isfinite(result))


def test_impute_refuses_a_mask_that_removes_everything():
    with pytest.raises(ValueError, match="keeps at least one pixel"):
        impute(np.ones((3, 3, 1)), np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="booleans of shape"):
        impute(np.ones((3, 3, 1)), np.ones((3, 4), bool))


def _reference_curves(model, images, maps, classes, percentiles, order):
    """One image and one percentile at a time, with the naive imputation."""
    curves = np.zeros((len(images), len(percentiles)))
    for n, (image, saliency) in enumerate(zip(images, maps)):
        values = -saliency.ravel() if order == "morf" else saliency.ravel()
        ranking = np.argsort(values, kind="stable")
        for i, p in enumerate(percentiles):
            removed = np.zeros(SIDE * SIDE, bool)
            removed[ranking[: int(p * SIDE * SIDE + 1e-9)]] = True
            altered = _naive_impute(image, removed.reshape(SIDE, SIDE))
            curves[n, i] = dense_probabilities(model, altered[None])[0, classes[n]]
    return curves


@pytest.mark.parametrize("order", ["morf", "lerf"])
def test_road_curve_matches_the_definition(linear_model, rng, order):
    images = rng.uniform(0, 1, (4, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(0, 1, (4, SIDE, SIDE)).astype("float32")
    maps[0, :2] = 0.5  # ties are broken by position
    percentiles = (0.25, 0.5, 0.75)  # 9, 18 and 27 of the 36 pixels
    before = model_state(linear_model)
    result = road(linear_model, images, maps, percentiles=percentiles, order=order, noise=0.0,
                  batch_size=5)
    predicted = dense_probabilities(linear_model, images).argmax(axis=1)
    expected = _reference_curves(linear_model, images, maps, predicted, percentiles, order)
    assert isinstance(result, RoadResult) and result.order == order
    np.testing.assert_array_equal(result.classes, predicted)
    np.testing.assert_allclose(result.curves, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result.percentiles, percentiles)
    assert result.curves.shape == (4, 3) and result.curves.dtype == np.float32
    # The trapezoid area over [0.25, 0.75], divided by the span: the curve's mean height.
    area = ((expected[:, 0] + expected[:, 1]) / 2 + (expected[:, 1] + expected[:, 2]) / 2) * 0.25
    np.testing.assert_allclose(result.auc, area / 0.5, rtol=1e-4)
    assert result.mean_auc == pytest.approx(float(np.mean(area / 0.5)), rel=1e-4)
    assert f"ROAD {order.upper()} AUC" in str(result)
    assert ("lower" if order == "morf" else "higher") in str(result)
    assert_model_unchanged(linear_model, before)


def test_uneven_percentiles_weigh_the_area_by_their_spacing():
    result = RoadResult("morf", np.array([0.1, 0.2, 0.6], np.float32),
                        np.array([[1.0, 0.5, 0.0]], np.float32), np.array([0], np.int32))
    assert result.auc[0] == pytest.approx((0.1 * 0.75 + 0.4 * 0.25) / 0.5)
    single = RoadResult("lerf", np.array([0.3], np.float32), np.array([[0.7]], np.float32),
                        np.array([0], np.int32))
    assert single.auc[0] == pytest.approx(0.7)


def test_the_same_seed_gives_the_same_curves_whatever_the_batch(linear_model, rng):
    images = rng.uniform(0, 1, (3, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(size=(3, SIDE, SIDE)).astype("float32")
    options = dict(percentiles=(0.2, 0.6), noise=0.2, target=1)
    first = road(linear_model, images, maps, seed=4, batch_size=2, **options)
    second = road(linear_model, images, maps, seed=4, batch_size=6, **options)
    alone = road(linear_model, images[:1], maps[:1], seed=4, **options)
    other = road(linear_model, images, maps, seed=5, **options)
    np.testing.assert_array_equal(first.curves, second.curves)
    assert not np.allclose(first.curves, other.curves)
    # Each image's noise is its own stream: the same whatever other images are scored with it.
    np.testing.assert_array_equal(first.curves[0], alone.curves[0])
    plain = road(linear_model, images, maps, percentiles=(0.2, 0.6), noise=0.0, target=1)
    assert not np.allclose(first.curves, plain.curves)


def test_road_compiles_once(linear_model, rng):
    images = rng.uniform(size=(2, SIDE, SIDE, CHANNELS)).astype("float32")
    maps = rng.uniform(size=(2, SIDE, SIDE)).astype("float32")
    road(linear_model, images, maps, percentiles=(0.5,), batch_size=1)
    road(linear_model, images, maps, order="lerf", batch_size=4)
    step = engine.get_engine(linear_model, (), Class(None), head="model", input_grads=False)
    assert step.trace_count == 1


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"order": "random"}, ValueError, "`order`"),
        ({"percentiles": (0.0, 0.5)}, ValueError, r"in \(0, 1\)"),
        ({"percentiles": (0.5, 1.0)}, ValueError, r"in \(0, 1\)"),
        ({"percentiles": (10, 20)}, ValueError, "0.1 for 10 %"),
        ({"percentiles": (0.6, 0.3)}, ValueError, "Sort them"),
        ({"percentiles": (0.3, 0.3)}, ValueError, "Sort them"),
        ({"percentiles": ()}, TypeError, "`percentiles`"),
        ({"percentiles": "0.5"}, TypeError, "`percentiles`"),
        ({"noise": -0.1}, ValueError, "`noise`"),
        ({"seed": -1}, ValueError, "`seed`"),
        ({"seed": 1.5}, TypeError, "`seed`"),
        ({"batch_size": 0}, ValueError, "`batch_size`"),
    ],
)
def test_bad_options_are_refused_clearly(linear_model, kwargs, error, words):
    images = np.ones((2, SIDE, SIDE, CHANNELS), "float32")
    with pytest.raises(error, match=words):
        road(linear_model, images, np.ones((2, SIDE, SIDE)), **kwargs)


def test_maps_must_match_the_images(linear_model):
    images = np.ones((2, SIDE, SIDE, CHANNELS), "float32")
    with pytest.raises(ValueError, match=r"shape \(2, 6, 6\)"):
        road(linear_model, images, np.ones((2, SIDE, SIDE + 1)))
