"""The fill vocabulary (the value hidden pixels take) and Score-CAM's `fill`."""

import keras
import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from keras_vis import cam, demo
from keras_vis.attribution._fill import check_fill, fill_images, seen_through
from keras_vis.attribution.cam import ScoreCAM
from keras_vis.attribution.cam import scorecam as scorecam_module
from keras_vis.metrics import pointing_game


def test_each_form_gives_the_pixels_it_names(rng):
    images = rng.random((2, 5, 4, 3), dtype=np.float32)
    one_image = rng.random((5, 4, 3), dtype=np.float32)
    per_image = rng.random((2, 5, 4, 3))
    cases = [
        (0.5, np.full(images.shape, 0.5)),
        (np.int64(-2), np.full(images.shape, -2.0)),
        ([0.0, 1.0, 2.0], np.tile([0.0, 1.0, 2.0], (2, 5, 4, 1))),
        (one_image, np.stack([one_image, one_image])),
        (per_image, per_image),
        (tf.constant(one_image), np.stack([one_image, one_image])),
        ("mean", np.stack([np.tile(image.reshape(-1, 3).mean(0), (5, 4, 1)) for image in images])),
    ]
    for fill, expected in cases:
        got = fill_images(fill, images)
        assert got.shape == images.shape and got.dtype == np.float32
        assert not got.flags.writeable  # a broadcast view, not copies
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=repr(fill))
    np.testing.assert_array_equal(fill_images(None, images), fill_images("mean", images))
    np.testing.assert_array_equal(fill_images(None, images, default=0.5), cases[0][1])


def test_blur_is_a_gaussian_of_a_sixteenth_of_the_side_per_channel(rng):
    images = rng.random((2, 32, 24, 3), dtype=np.float32)
    for sigma, expected_sigma in [(None, 2.0), (1.5, 1.5)]:
        expected = np.stack([np.stack([scipy.ndimage.gaussian_filter(image[..., c], expected_sigma,
                                                                     mode="nearest")
                                       for c in range(3)], axis=-1) for image in images])
        got = fill_images("blur", images, blur_sigma=sigma)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_seen_through_blends_the_image_and_its_fill(rng):
    images = rng.random((3, 4, 4, 2), dtype=np.float32)
    fill = rng.random((3, 4, 4, 2), dtype=np.float32)
    masks = rng.random((3, 4, 4), dtype=np.float32)
    got = seen_through(images, masks, fill)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, masks[..., None] * images + (1 - masks[..., None]) * fill,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(seen_through(images, np.ones((3, 4, 4)), fill), images)
    np.testing.assert_array_equal(seen_through(images, np.zeros((3, 4, 4)), fill), fill)
    # Fill 0 is the plain product, bit for bit.
    np.testing.assert_array_equal(seen_through(images, masks, np.zeros_like(images)),
                                  images * masks[..., None])


def test_bad_fills_name_the_accepted_forms(rng):
    images = rng.random((2, 5, 4, 3), dtype=np.float32)
    cases = [
        ("grey", ValueError, "'mean' or 'blur'"),
        (True, TypeError, "a number, one number per channel"),
        ({"value": 1}, TypeError, "a number"),
        (["a", "b", "c"], TypeError, "a number"),
        ([[1, 2], [3]], TypeError, "a number"),
        (np.nan, ValueError, "finite"),
        ([0.0, np.inf, 0.0], ValueError, "finite"),
        ([0.5, 0.5], ValueError, r"3 channel values, one image \(5, 4, 3\)"),
        (np.ones((4, 5, 3)), ValueError, "broadcastable to the images"),
    ]
    for fill, error, match in cases:
        with pytest.raises(error, match=match):
            fill_images(fill, images, name="baseline")
        with pytest.raises(error, match="`baseline`"):
            fill_images(fill, images, name="baseline")
    with pytest.raises(ValueError, match="blur_sigma"):
        fill_images("blur", images, blur_sigma=0)
    assert check_fill(None) is None and check_fill("blur") == "blur"
    with pytest.raises(ValueError, match="'mean' or 'blur'"):
        check_fill("black")


def gap_model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


def naive_scorecam(model, images, classes, fill):
    """One model call per image and channel (the layer is at input resolution: no resizing); the
    image is seen through each min-max scaled channel map over the fill image `(N, H, W, C)`."""
    a = keras.Model(model.input, model.get_layer("conv").output)(images).numpy()
    maps = np.zeros(a.shape[:3], np.float32)
    for n, c in enumerate(classes):
        weights = np.zeros(a.shape[-1])
        for k in range(a.shape[-1]):
            span = a[n, ..., k].max() - a[n, ..., k].min()
            if span > 0:
                mask = ((a[n, ..., k] - a[n, ..., k].min()) / span)[..., None]
                seen = fill[n] + mask * (images[n] - fill[n])
                weights[k] = model(seen[None]).numpy()[0, c]
        maps[n] = np.maximum((a[n] * weights).sum(-1), 0)
    return maps


def test_scorecam_sees_the_image_through_each_map_over_its_fill(rng):
    model = gap_model()
    images = rng.random((3, 8, 8, 3), dtype=np.float32)
    classes = [2, 0, 1]
    means = np.ones_like(images) * images.mean(axis=(1, 2), keepdims=True)
    per_channel = np.ones_like(images) * np.float32([0.2, 0.9, -1.0])
    for fill, fill_image in [(None, means), (0, 0 * images), ([0.2, 0.9, -1.0], per_channel)]:
        expected = naive_scorecam(model, images, classes, fill_image)
        got = ScoreCAM(fill=fill)(model, images, classes, normalize=False, batch_size=4)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=repr(fill))
        # The same batches: oneDNN may sum batches of other sizes in another order.
        np.testing.assert_array_equal(cam(model, images, classes, method="scorecam", fill=fill,
                                          normalize=False, batch_size=4), got)


def test_scorecam_fill_0_is_the_product_of_image_and_mask(monkeypatch, rng):
    # The paper's masked copy, `image * mask`, bit for bit.
    model = gap_model()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    copies = []
    real_scores = scorecam_module.copy_scores

    def recording_scores(model, target, classes, count, kept, make_batch, **options):
        copies.extend(make_batch(np.arange(count), np.full(count, rank)) for rank in range(kept))
        return real_scores(model, target, classes, count, kept, make_batch, **options)

    monkeypatch.setattr(scorecam_module, "copy_scores", recording_scores)
    ScoreCAM(fill=0)(model, images, [0, 1], normalize=False)
    a = keras.Model(model.input, model.get_layer("conv").output)(images).numpy()
    order = np.argsort(-a.var(axis=(1, 2)), axis=1, kind="stable")
    assert len(copies) == a.shape[-1]
    for rank, batch in enumerate(copies):
        for n in range(2):
            channel = a[n, ..., order[n, rank]]
            mask = (channel - channel.min()) / (channel.max() - channel.min())
            np.testing.assert_array_equal(batch[n], images[n] * mask[..., None])


def test_bad_scorecam_fill_is_refused_when_the_method_is_built():
    with pytest.raises(ValueError, match="'mean' or 'blur'"):
        ScoreCAM(fill="grey")
    with pytest.raises(TypeError, match="a number"):
        ScoreCAM(fill=True)


def test_scorecam_of_the_demo_model_points_at_the_shape():
    # Measured on 128 images: 99 % of the maxima on the shape with the mean fill, 77 % with 0
    # (the black copies of an image in [0, 255] are out of the data the model was trained on).
    model = demo.load_model()
    images, _, masks = demo.shapes(32, size=demo.INPUT_SIZE, seed=2024)
    maps = ScoreCAM()(model, images.astype(np.float32), progress=False)
    assert pointing_game(maps, masks).mean >= 0.95
