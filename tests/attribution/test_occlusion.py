"""Occlusion maps against a naive one-patch-at-a-time loop, and the classic mask recipe."""

import keras
import numpy as np
import pytest
import scipy.ndimage
from helpers.state import assert_model_unchanged, model_state
from helpers.models import conv_gap_cnn

from keras_vis.attribution import apply_mask, occlusion, occlusion_mask


SIZE = (10, 9)  # the (height, width) of the images and of the model's input


def naive_fill(fill, images):
    """The `(N, H, W, C)` images the patch pixels are taken from, written out for each form."""
    if isinstance(fill, str) and fill == "mean":
        return np.ones_like(images) * images.mean(axis=(1, 2), keepdims=True)
    if isinstance(fill, str) and fill == "blur":  # sigma: a sixteenth of the image side
        return np.stack([np.stack([scipy.ndimage.gaussian_filter(image[..., c], 10 / 16,
                                                                 mode="nearest")
                                   for c in range(3)], axis=-1) for image in images])
    return np.ones_like(images) * np.asarray(fill, np.float32)


def naive_occlusion(model, images, classes, patch, stride, fill):
    """One model call per patch position; each pixel averages the scores of the patches covering it.

    Positions run every `stride` pixels plus one flush with the far edge when the stride misses it;
    the patch takes the pixels of the fill image `fill` `(N, H, W, C)` it covers.
    """
    (ph, pw), (sh, sw) = patch, stride
    count, height, width, _ = images.shape
    rows = sorted(set(range(0, height - ph + 1, sh)) | {height - ph})
    cols = sorted(set(range(0, width - pw + 1, sw)) | {width - pw})
    sums = np.zeros((count, height, width))
    hits = np.zeros((count, height, width))
    for n in range(count):
        for top in rows:
            for left in cols:
                occluded = images[n].copy()
                occluded[top : top + ph, left : left + pw] = \
                    fill[n, top : top + ph, left : left + pw]
                probability = model(occluded[None]).numpy()[0, classes[n]]
                sums[n, top : top + ph, left : left + pw] += probability
                hits[n, top : top + ph, left : left + pw] += 1
    return sums / hits


@pytest.mark.parametrize(
    "patch, stride, fill",
    [(3, 2, 0.5), ((4, 3), (3, 2), "mean"), (9, 1, [0.0, 1.0, 0.25]), (4, 4, -1.0),
     (3, 2, "blur"), ((2, 3), 2, "image"), (3, 3, "images")],
)
def test_occlusion_equals_a_naive_loop_over_patches(patch, stride, fill, rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((3, 10, 9, 3), dtype=np.float32)
    if fill in ("image", "images"):  # one fill image for all, or one per image
        fill = rng.random(images.shape[1:] if fill == "image" else images.shape, dtype=np.float32)
    classes = [2, 0, 1]
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    expected = naive_occlusion(model, images, classes, pair(patch), pair(stride),
                               naive_fill(fill, images))
    got = occlusion(model, images, classes, patch=patch, stride=stride, fill=fill, normalize=False,
                    batch_size=7)
    assert got.shape == (3, 10, 9) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    normalized = occlusion(model, images, classes, patch=patch, stride=stride, fill=fill)
    np.testing.assert_allclose(normalized, expected / expected.max(axis=(1, 2), keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_predicted_class_is_that_of_the_unoccluded_image(rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((4, 10, 9, 3), dtype=np.float32)
    predicted = list(model.predict(images, verbose=0).argmax(-1))
    np.testing.assert_array_equal(occlusion(model, images, patch=3, stride=3),
                                  occlusion(model, images, predicted, patch=3, stride=3))


def test_occluded_copies_are_batched_and_bounded(copy_batch_sizes, rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((2, 10, 9, 3), dtype=np.float32)
    sizes = copy_batch_sizes
    occlusion(model, images, 0, patch=2, stride=2, batch_size=8, incremental=False)
    positions = 5 * 5  # rows 0, 2, 4, 6, 8 and columns 0, 2, 4, 6, 7 (flush with the edge)
    assert sum(sizes) == 2 * positions
    assert max(sizes) == 8 and len(sizes) == -(-2 * positions // 8)


def test_a_pixel_that_carries_the_class_is_found():
    # Class 1's logit is 20 × pixel (2, 5): hiding that pixel alone removes the evidence.
    inputs = keras.Input((6, 8, 1))
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    kernel = np.zeros((48, 2), np.float32)
    kernel[2 * 8 + 5, 1] = 20.0
    dense.set_weights([kernel, np.zeros(2, np.float32)])
    image = np.ones((1, 6, 8, 1), np.float32)
    heatmap = occlusion(model, image, 1, patch=2, stride=2, fill=0.0)
    mask = occlusion_mask(heatmap)
    expected = np.zeros((6, 8), bool)
    expected[2:4, 4:6] = True  # the one patch position that covers pixel (2, 5)
    np.testing.assert_array_equal(mask[0], expected)
    assert heatmap[0, 2, 5] == pytest.approx(0.5 / (1 / (1 + np.exp(-20))), rel=1e-5)


def test_mask_and_masked_image_follow_the_classic_recipe():
    heatmap = np.array([[0.2, 0.4], [0.33, 0.35]], np.float32)  # / max 0.4 -> 0.5, 1, 0.825, 0.875
    mask = occlusion_mask(heatmap, threshold=0.85)
    np.testing.assert_array_equal(mask, [[True, False], [True, False]])
    np.testing.assert_array_equal(occlusion_mask(heatmap[None] * 3), mask[None])
    image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3) + 1
    shown = apply_mask(image, mask)
    assert shown.dtype == np.uint8
    np.testing.assert_array_equal(shown, [[[1, 2, 3], [0, 0, 0]], [[7, 8, 9], [0, 0, 0]]])
    np.testing.assert_array_equal(apply_mask(image[None], mask[None], fill=9)[0, 1, 1], [9, 9, 9])


def test_bad_arguments_raise_clear_errors(rng):
    model = conv_gap_cnn(SIZE)
    images = rng.random((2, 10, 9, 3), dtype=np.float32)
    before = model_state(model)
    cases = [
        (dict(patch=11), ValueError, "at most the image size 10×9"),
        (dict(patch=(3, 10)), ValueError, "at most the image size"),
        (dict(stride=0), ValueError, "stride"),
        (dict(stride=-2), ValueError, "stride"),
        (dict(patch=3, stride=4), ValueError, "at most `patch`"),
        (dict(patch=(2, 2, 2)), ValueError, "pair"),
        (dict(patch=3, stride=3, fill="grey"), ValueError, "'mean' or 'blur'"),
        (dict(patch=3, stride=3, fill=[0.5, 0.5]), ValueError, "3 channel values"),
        (dict(patch=3, stride=3, fill=np.ones((9, 10, 3))), ValueError, "broadcastable"),
        (dict(patch=3, stride=3, fill=np.nan), ValueError, "finite"),
        (dict(patch=3, stride=3, fill=True), TypeError, "a number"),
        (dict(patch=3, stride=3, batch_size=0), ValueError, "batch_size"),
    ]
    for options, error, match in cases:
        with pytest.raises(error, match=match):
            occlusion(model, images, **options)
    with pytest.raises(ValueError, match="finite"):
        occlusion(model, np.where(images > 0.9, np.nan, images))
    with pytest.raises(ValueError, match="threshold"):
        occlusion_mask(np.ones((4, 4)), threshold=2)
    with pytest.raises(ValueError, match="heatmap"):
        occlusion_mask(np.ones(4))
    with pytest.raises(ValueError, match="spatial shape"):
        apply_mask(images[0], np.ones((9, 10), bool))
    assert_model_unchanged(model, before)
