"""Parameterisations and transforms against hand-derived answers."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_vis.maximization import transforms
from keras_vis.maximization.params import COLOR_BASIS, Fourier, Pixel, get_param
from keras_vis.maximization.render import box_blur


@pytest.mark.parametrize("size", [(6, 8), (7, 5)])
@pytest.mark.parametrize("param", [Pixel(), Pixel(decorrelate=True), Fourier(),
                                   Fourier(decorrelate=True), Fourier(decay_power=0.5)])
def test_from_image_inverts_to_image(param, size, rng):
    image = rng.uniform(0.05, 0.95, (2, *size, 3)).astype(np.float32)
    z = param.from_image(tf.constant(image))
    np.testing.assert_allclose(param.to_image(z, tf.constant(size)), image, atol=2e-5)


def test_pixel_image_is_mean_plus_colour_of_z(rng):
    z = rng.normal(size=(1, 2, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(Pixel(mean=0.3).to_image(z, None), 0.3 + z, rtol=1e-6)
    np.testing.assert_allclose(Pixel(mean=0.3, decorrelate=True).to_image(z, None),
                               0.3 + z @ COLOR_BASIS.T, rtol=1e-5)
    assert np.isclose(np.linalg.norm(COLOR_BASIS, axis=0).max(), 1.0)


def test_pixel_start_is_mean_plus_uniform_noise_of_the_given_width():
    param = Pixel(mean=0.25, noise=0.5)
    start = np.asarray(param.to_image(param.init(np.random.default_rng(0), 64, 64, 3), None))
    assert 0.0 <= start.min() < 0.02 and 0.48 < start.max() <= 0.5
    assert abs(start.mean() - 0.25) < 0.01


def test_pixel_projection_clips_the_image_to_the_unit_range(rng):
    z = rng.normal(0, 2, (2, 3, 3, 3)).astype(np.float32)
    for param in (Pixel(), Pixel(decorrelate=True)):
        clipped = param.to_image(param.project(tf.constant(z), None), None).numpy()
        np.testing.assert_allclose(clipped, np.clip(param.to_image(z, None), 0, 1), atol=1e-5)
    np.testing.assert_array_equal(Pixel(clip=False).project(z, None), z)


def test_fourier_dc_component_is_a_flat_image_of_known_value():
    # Only the DC bin set to a: irfft2d gives a * scale / (H * W) everywhere, with
    # scale = sqrt(H * W) / (1 / max(H, W)); the image is sigmoid of a quarter of that.
    height, width, a = 6, 10, 0.01
    z = np.zeros((1, 2, 3, height, width // 2 + 1), np.float32)
    z[0, 0, :, 0, 0] = a
    image = Fourier().to_image(tf.constant(z), tf.constant([height, width])).numpy()
    value = a * np.sqrt(height * width) * max(height, width) / (height * width) / 4
    np.testing.assert_allclose(image, np.full((1, height, width, 3), 1 / (1 + np.exp(-value))),
                               rtol=1e-5)


def test_get_param():
    assert isinstance(get_param("fourier", decorrelate=True), Fourier)
    with pytest.raises(ValueError, match="decorrelate=True"):
        get_param(Pixel(), decorrelate=True)
    with pytest.raises(TypeError, match="`param`"):
        get_param(3)
    with pytest.raises(TypeError, match="`decorrelate`"):
        Pixel(decorrelate="yes")


def _apply(pipeline, image, *params):
    tensors = [tf.constant(np.asarray(p, np.float32)[None]) for p in params]
    return pipeline(tf.constant(image[None]), tensors).numpy()[0]


def test_jitter_shifts_by_whole_pixels(rng):
    image = rng.random((9, 9, 2)).astype(np.float32)
    shifted = _apply(transforms.Pipeline([transforms.jitter(3)]), image, [2, -1])
    # out[y, x] = in[y - 2, x + 1]
    np.testing.assert_allclose(shifted[2:, :-1], image[:-2, 1:], atol=1e-6)
    # two jitters merge into one resampling: the same as shifting by the sum once
    twice = _apply(transforms.Pipeline([transforms.jitter(3), transforms.jitter(3)]), image,
                   [1, 0], [1, -1])
    np.testing.assert_allclose(twice, shifted, atol=1e-6)


def test_rotate_quarter_turn_and_scale_about_the_centre(rng):
    image = rng.random((7, 7, 1)).astype(np.float32)
    turned = _apply(transforms.Pipeline([transforms.rotate(90)]), image, [90.0])
    y, x = np.mgrid[0:7, 0:7]
    np.testing.assert_allclose(turned, image[x, 6 - y], atol=1e-5)  # input = centre + R(p - centre)
    zoomed = _apply(transforms.Pipeline([transforms.scale(2.0)]), image, [2.0])
    # output pixel p shows input pixel centre + (p - centre) / 2: exact at even offsets
    for p in (1, 3, 5):
        np.testing.assert_allclose(zoomed[p, p], image[3 + (p - 3) // 2, 3 + (p - 3) // 2],
                                   atol=1e-5)


def test_callables_run_in_order_between_geometric_transforms(rng):
    image = rng.random((5, 5, 1)).astype(np.float32)
    pipeline = transforms.Pipeline([transforms.jitter(1), lambda x: x * 0 + 1.0])
    np.testing.assert_array_equal(_apply(pipeline, image, [1, 1]), np.ones_like(image))


def test_sampling_ranges_and_per_image_streams():
    jitter, scale, rotate = transforms.jitter(2), transforms.scale([0.9, 1.1]), transforms.rotate(5)
    rng = np.random.default_rng(0)
    drawn = jitter.sample(rng, 500)
    assert set(np.unique(drawn)) == {-2, -1, 0, 1, 2}
    assert set(np.unique(scale.sample(rng, 100))) == {np.float32(0.9), np.float32(1.1)}
    angles = rotate.sample(rng, 500)
    assert -5 <= angles.min() < -4 and 4 < angles.max() <= 5
    zoom = transforms.scale(1.2).sample(rng, 500)
    assert 1 / 1.2 - 1e-6 <= zoom.min() and zoom.max() <= 1.2 + 1e-6
    pipeline = transforms.Pipeline(transforms.standard())
    np.testing.assert_array_equal(pipeline.sample(np.random.default_rng(4), 3)[2],
                                  pipeline.sample(np.random.default_rng(4), 3)[2])


@pytest.mark.parametrize("bad, error", [(-1, ValueError), ("2", TypeError), (1.5, TypeError)])
def test_bad_transform_arguments(bad, error):
    with pytest.raises(error, match="`pixels`"):
        transforms.jitter(bad)


@pytest.mark.parametrize("size", [3, 4, 5])
def test_box_blur_matches_opencv(size, rng):
    image = rng.random((1, 12, 10, 3)).astype(np.float32)
    want = cv2.blur(image[0], (size, size))  # mirrored (reflect-101) borders
    np.testing.assert_allclose(box_blur(tf.constant(image), size)[0], want, atol=1e-6)
