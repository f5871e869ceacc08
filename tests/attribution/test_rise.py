"""RISE against hand-computed maps, a naive loop over its masks, and OpenCV's bilinear resize."""

import cv2
import keras
import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state
from helpers.models import conv_gap_cnn

from keras_vis import rise, steps
from keras_vis.attribution._inputs import prepare
from keras_vis.attribution.rise import MASK_BLOCK, MaskSet, rise_maps, upsample


SIZE = (12, 10)  # the (height, width) of the images and of the model's input


def linear_model(weights, activation=None):
    """Flatten -> Dense with the given `(H, W, C, classes)` weights and no bias."""
    inputs = keras.Input(weights.shape[:-1])
    classes = weights.shape[-1]
    dense = keras.layers.Dense(classes, activation=activation)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([weights.reshape(-1, classes).astype(np.float32),
                       np.zeros(classes, np.float32)])
    return model


class ExplicitMasks:
    """A mask set given outright, in the interface `rise_maps` takes."""

    def __init__(self, masks, p):
        self.masks, self.p = np.asarray(masks, np.float32), p
        self.count, self.size = len(masks), self.masks.shape[1:]

    def __call__(self, indices):
        return self.masks[indices]


def test_a_partition_of_the_image_gives_each_part_its_own_score(rng):
    # Four quadrant masks cover every pixel exactly once, and a pixel is seen with probability 1/4:
    # the map at a pixel is the score of the image seen through its quadrant alone, which for a
    # linear model is w . (fill + m (x - fill)).
    weights = rng.normal(size=(6, 6, 2, 2))
    images = rng.random((2, 6, 6, 2), dtype=np.float32)
    quadrants = np.zeros((4, 6, 6), np.float32)
    for q, (top, left) in enumerate([(0, 0), (0, 3), (3, 0), (3, 3)]):
        quadrants[q, top:top + 3, left:left + 3] = 1
    fill = np.array([0.25, -1.0], np.float32)
    for activation, logits in [(None, True), ("softmax", False)]:
        model = linear_model(weights, activation=activation)
        checked, target = prepare(model, images, [1, 0])
        got = rise_maps(model, checked, target, ExplicitMasks(quadrants, 0.25), fill=fill,
                        logits=logits, batch_size=3, progress=False)
        expected = np.zeros((2, 6, 6))
        for n, c in enumerate([1, 0]):
            for mask in quadrants:
                seen = fill + mask[..., None] * (images[n] - fill)
                z = np.einsum("hwck,hwc->k", weights, seen)
                score = z[c] if logits else np.exp(z[c]) / np.exp(z).sum()
                expected[n] += score * mask
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def naive_rise(model, images, classes, masks, p, fill):
    """One model call per image and mask: sum_i s_i M_i / (masks * p)."""
    maps = np.zeros(images.shape[:3])
    for n, image in enumerate(images):
        fill_n = fill[n] if fill.ndim == 4 else fill
        for mask in masks:
            seen = fill_n + mask[..., None] * (image - fill_n)
            maps[n] += model(seen[None]).numpy()[0, classes[n]] * mask
    return maps / (len(masks) * p)


@pytest.mark.parametrize("fill", [None, 0.0, "images"])
def test_rise_equals_a_naive_loop_over_its_masks(fill, rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((2, 12, 10, 3), dtype=np.float32)
    if fill == "images":
        fill = rng.random(images.shape, dtype=np.float32)
    masks = MaskSet(40, (3, 2), 0.4, (12, 10), seed=5)(np.arange(40))
    naive_fill = images.mean(axis=(1, 2), keepdims=True) if fill is None else np.asarray(fill)
    expected = naive_rise(model, images, [2, 0], masks, 0.4, naive_fill)
    got = rise(model, images, [2, 0], masks=40, cell=(3, 2), p=0.4, fill=fill, seed=5,
               normalize=False, batch_size=7, progress=False)
    assert got.shape == (2, 12, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    normalized = rise(model, images, [2, 0], masks=40, cell=(3, 2), p=0.4, fill=fill, seed=5,
                      progress=False)
    low, high = expected.min(axis=(1, 2), keepdims=True), expected.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(normalized, (expected - low) / (high - low), rtol=1e-4, atol=1e-5)


def test_masks_are_bilinearly_upsampled_grids_cropped_at_their_shift(rng):
    grids = rng.random((4, 3, 5)) < 0.5
    shifts = np.array([[0, 0], [4, 1], [2, 3], [1, 0]])  # step: ceil(13/3) = 5, ceil(17/5) = 4
    masks = upsample(grids, shifts, (13, 17))
    for grid, (top, left), mask in zip(grids, shifts, masks):
        big = cv2.resize(grid.astype(np.float32), (6 * 4, 4 * 5), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(mask, big[top:top + 13, left:left + 17], atol=1e-6)
    drawn = MaskSet(3000, (4, 4), 0.3, (20, 20), seed=1)
    all_masks = drawn(np.arange(3000))
    assert all_masks.min() >= 0 and all_masks.max() <= 1
    assert all_masks.mean() == pytest.approx(0.3, abs=0.01)  # each pixel is seen with prob. p
    grids, shifts = drawn.block(0)
    assert grids.shape == (MASK_BLOCK, 4, 4) and shifts.min() == 0 and shifts.max() == 4
    np.testing.assert_array_equal(MaskSet(5, (4, 4), 1.0, (20, 20))(np.arange(5)), 1.0)


def test_linear_model_map_recovers_its_weight_pattern():
    # For a linear score the map is the weights seen through the masks' autocorrelation: a
    # blurred copy of the weight pattern.
    yy, xx = np.mgrid[:16, :16]
    pattern = (np.exp(-((yy - 4) ** 2 + (xx - 11) ** 2) / 8)
               - 0.7 * np.exp(-((yy - 11) ** 2 + (xx - 5) ** 2) / 8))
    model = linear_model(pattern[..., None, None])
    maps = rise(model, np.ones((1, 16, 16, 1), np.float32), 0, masks=2000, cell=8, fill=0,
                logits=True, seed=0, progress=False)
    assert np.corrcoef(maps[0].ravel(), pattern.ravel())[0, 1] > 0.95
    assert np.unravel_index(maps[0].argmax(), (16, 16)) == pytest.approx((4, 11), abs=1)


def test_a_seed_gives_the_same_maps_whatever_the_batch_size(rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((2, 12, 10, 3), dtype=np.float32)
    options = dict(masks=MASK_BLOCK + 30, cell=3, progress=False)
    first = rise(model, images, seed=3, batch_size=64, **options)
    np.testing.assert_allclose(rise(model, images, seed=3, batch_size=50, **options), first,
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(rise(model, images, seed=4, **options), first)
    assert not np.allclose(rise(model, images, **options), rise(model, images, **options))
    assert steps.trace_count(model) <= 2  # one per batch size, none per call


def test_predicted_class_is_that_of_the_unmasked_image(rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((4, 12, 10, 3), dtype=np.float32)
    predicted = list(model.predict(images, verbose=0).argmax(-1))
    np.testing.assert_array_equal(rise(model, images, masks=20, seed=0, progress=False),
                                  rise(model, images, predicted, masks=20, seed=0,
                                       progress=False))


def test_copies_and_full_size_masks_are_bounded_by_the_batch_size(copy_batch_sizes,
                                                                 monkeypatch, rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((3, 12, 10, 3), dtype=np.float32)
    sizes, mask_counts = copy_batch_sizes, []
    real_call = MaskSet.__call__

    def recording_call(self, indices):
        mask_counts.append(len(indices))
        return real_call(self, indices)

    monkeypatch.setattr(MaskSet, "__call__", recording_call)
    rise(model, images, 0, masks=50, cell=4, batch_size=16, progress=False)
    assert sum(sizes) == 3 * 50 and max(sizes) == 16 and len(sizes) == -(-150 // 16)
    assert max(mask_counts) == 16


def test_bad_arguments_raise_clear_errors(rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((2, 12, 10, 3), dtype=np.float32)
    before = model_state(model)
    cases = [
        (dict(masks=0), ValueError, "masks"),
        (dict(masks=2.5), TypeError, "masks"),
        (dict(cell=0), ValueError, "cell"),
        (dict(cell=11), ValueError, "at most the image size 12×10"),
        (dict(cell=(13, 2)), ValueError, "at most the image size"),
        (dict(cell=(2, 2, 2)), ValueError, "pair"),
        (dict(p=0), ValueError, r"\(0, 1\]"),
        (dict(p=1.5), ValueError, r"\(0, 1\]"),
        (dict(p="half"), TypeError, "p"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(fill="grey"), ValueError, "'mean' or 'blur'"),
        (dict(fill=np.ones((3, 12, 10, 3))), ValueError, "broadcastable"),
        (dict(logits="yes"), TypeError, "logits"),
        (dict(normalize=None), TypeError, "normalize"),
        (dict(batch_size=0), ValueError, "batch_size"),
    ]
    for options, error, match in cases:
        with pytest.raises(error, match=match):
            rise(model, images, masks=options.pop("masks", 4), progress=False, **options)
    assert_model_unchanged(model, before)

