"""Known answers for XGrad-CAM, Eigen-CAM, Eigen-Grad-CAM and the options every CAM method takes,
`eigen_smooth` (the principal component of the weighted feature maps) and `aug_smooth` (the mean
over mirrored and zoomed copies, mapped back).

On `features -> GAP -> Dense` the logit's gradient with respect to the features is `W[:, c] / (h w)`
at every position, and on `features -> Flatten -> Dense` it is the reshaped weight column; the
references below are computed from those closed forms and from each method's definition.
"""

import keras
import numpy as np
import pytest
from helpers.cam import features, gap_model
from helpers.models import flatten_cnn
from helpers.state import assert_model_unchanged, model_state
from scipy import ndimage

from keras_vis import steps
from keras_vis.attribution import cam, gradcam
from keras_vis.attribution._maps import normalize as normalize_maps
from keras_vis.attribution.cam import AUGMENTATIONS, GradCAM, LayerCAM, ScoreCAM, principal_map
from keras_vis.attribution.cam.base import augment
from keras_vis.objectives import Channel, Neuron
from keras_vis.targets import Region

ZOOMS = (1.0, 1.1, 0.9)


def flatten_case(rng, classes):
    """`flatten_cnn` on three random images: the model, the images, the feature maps `a` of its
    convolution and dlogit/dA `g` of `classes` there (the dense kernel's column of each class,
    reshaped)."""
    model = flatten_cnn()
    images = rng.random((3, 6, 6, 2), dtype=np.float32)
    a = features(model, "conv", images)
    kernel = model.get_layer("dense").kernel.numpy()
    return model, images, a, kernel[:, classes].T.reshape(a.shape)


def naive_principal(values):
    """Per image: the top eigenvector of MᵀM (M the (h*w, K) values), M projected on it, the sign
    making the projection's inner product with M's channel sum positive."""
    maps = []
    for image in values:
        m = image.reshape(-1, image.shape[-1]).astype(np.float64)
        _, vectors = np.linalg.eigh(m.T @ m)
        projection = m @ vectors[:, -1]
        if projection @ m.sum(axis=1) < 0:
            projection = -projection
        maps.append(projection.reshape(image.shape[:2]))
    return np.stack(maps)


def test_principal_map_of_rank_one_values_is_their_left_factor_with_the_sum_s_sign(rng):
    u = rng.random((2, 5, 4))
    v = np.array([0.5, 1.0, 2.0, 0.25])
    values = u[..., None] * v
    np.testing.assert_allclose(principal_map(values), u * np.linalg.norm(v), rtol=1e-5)
    # Negative values: the map agrees with their (negative) channel sum.
    np.testing.assert_allclose(principal_map(-values), -u * np.linalg.norm(v), rtol=1e-5)
    zeros = principal_map(np.zeros((1, 3, 3, 2)))
    assert zeros.dtype == np.float32 and np.all(zeros == 0)


def test_gradcam_and_xgradcam_equal_cam_on_a_gap_dense_model(rng):
    model = gap_model()
    images = rng.random((4, 8, 8, 3), dtype=np.float32)
    classes = [0, 2, 1, 1]
    before = model_state(model)
    reference = cam(model, images, classes, method="cam")
    assert reference.max() == 1.0
    for method in ("gradcam", "xgradcam"):
        np.testing.assert_allclose(cam(model, images, classes, method=method), reference,
                                   rtol=1e-5, atol=1e-5, err_msg=method)
    # The gradient is the same at every position, so XGrad-CAM's weights are Grad-CAM's exactly.
    np.testing.assert_allclose(cam(model, images, classes, method="xgradcam", normalize=False),
                               cam(model, images, classes, method="gradcam", normalize=False),
                               rtol=1e-5, atol=1e-7)
    assert_model_unchanged(model, before)


def test_xgradcam_matches_its_definition_where_gradients_vary(rng):
    classes = [1, 3, 0]
    model, images, a, g = flatten_case(rng, classes)
    weights = (a / a.sum(axis=(1, 2), keepdims=True) * g).sum(axis=(1, 2), keepdims=True)
    want = np.maximum((weights * a).sum(-1), 0)
    assert want.max() > 0
    np.testing.assert_allclose(cam(model, images, classes, method="xgradcam", normalize=False),
                               want, rtol=1e-4, atol=1e-6)


def rank_one_model(head_kernel=None, head_bias=None):
    """x (one channel, >= 0) -> 1×1 conv of kernel v >= 0 with ReLU: activations x vᵀ."""
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(3, 1, use_bias=False, activation="relu", name="rank1")
    dense = keras.layers.Dense(2, name="dense")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(conv(inputs))))
    v = np.array([0.5, 1.0, 2.0], np.float32)
    conv.set_weights([v.reshape(1, 1, 1, 3)])
    if head_kernel is not None:
        dense.set_weights([head_kernel, head_bias])
    return model, v


def test_eigencam_of_rank_one_activations_is_the_normalised_input(rng):
    model, v = rank_one_model()
    images = rng.random((3, 8, 8, 1), dtype=np.float32)
    x = images[..., 0]
    np.testing.assert_allclose(cam(model, images, method="eigencam"),
                               x / x.max(axis=(1, 2), keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cam(model, images, 1, method="eigencam", normalize=False),
                               x * np.linalg.norm(v), rtol=1e-5, atol=1e-6)


def test_eigencam_needs_no_gradient_and_no_score_that_varies(rng):
    """A model whose output is constant in the input: every gradient is zero, and Eigen-CAM still
    maps the activations' principal component, whatever the target."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    dense = keras.layers.Dense(2, name="dense")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(x)))
    dense.set_weights([np.zeros((4, 2), np.float32), np.array([1.0, 2.0], np.float32)])
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    want = normalize_maps(np.maximum(naive_principal(features(model, "conv", images)), 0))
    assert want.max() == 1.0
    for target in (None, 1, lambda outputs: outputs[:, 0]):
        np.testing.assert_allclose(cam(model, images, target, method="eigencam"), want,
                                   rtol=1e-4, atol=1e-5)
    assert np.all(cam(model, images, method="gradcam", normalize=False) == 0)


def test_eigengradcam_matches_a_naive_reference(rng):
    classes = [2, 0, 3]
    model, images, a, g = flatten_case(rng, classes)
    want = np.maximum(naive_principal(a * g), 0)
    assert want.max() > 0
    np.testing.assert_allclose(cam(model, images, classes, method="eigengradcam", normalize=False),
                               want, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(cam(model, images, classes, method="eigengradcam"),
                               normalize_maps(want), rtol=1e-4, atol=1e-5)


def test_eigen_smooth_is_the_principal_component_of_the_weighted_maps(rng):
    classes = [1, 0, 2]
    model, images, a, g = flatten_case(rng, classes)
    weights = {"gradcam": g.mean(axis=(1, 2), keepdims=True), "hirescam": g,
               "layercam": np.maximum(g, 0)}
    for method, w in weights.items():
        want = np.maximum(naive_principal(w * a), 0)
        assert want.max() > 0, method
        got = cam(model, images, classes, method=method, eigen_smooth=True, normalize=False)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=method)
    # Eigen-CAM already is the principal component.
    np.testing.assert_array_equal(cam(model, images, method="eigencam", eigen_smooth=True),
                                  cam(model, images, method="eigencam"))
    gap = gap_model()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(gradcam(gap, images, [0, 2], eigen_smooth=True),
                               cam(gap, images, [0, 2], method="cam", eigen_smooth=True),
                               rtol=1e-4, atol=1e-5)


def transformed(images, flip, zoom, fill=None):
    """Each image mirrored (if `flip`) and zoomed by `zoom` about its centre, with scipy: output
    pixel i reads the mirrored image at (i - c) / zoom + c, c = (size - 1) / 2, and `fill` (`None`:
    the image's mean colour) where that falls outside it."""
    height, width = images.shape[1:3]
    y, x = grid(height, width, 1 / zoom)
    copies = []
    for image in images:
        source = image[:, ::-1] if flip else image
        copy = np.stack([sample(source[..., k], y, x) for k in range(image.shape[-1])], -1)
        copy[~inside(y, x)] = image.mean(axis=(0, 1)) if fill is None else fill
        copies.append(copy)
    return np.stack(copies).astype(np.float32)


def grid(height, width, scale):
    """Where each pixel reads under a zoom by 1 / `scale` about the centre."""
    rows, columns = np.meshgrid(np.arange(height, dtype=float), np.arange(width, dtype=float),
                                indexing="ij")
    cy, cx = (height - 1) / 2, (width - 1) / 2
    return (rows - cy) * scale + cy, (columns - cx) * scale + cx


def inside(y, x):
    return (y >= -0.5) & (y <= y.shape[0] - 0.5) & (x >= -0.5) & (x <= x.shape[1] - 0.5)


def sample(plane, y, x):
    return ndimage.map_coordinates(plane, [y, x], order=1, mode="nearest")


def naive_augmented(maps_of, images):
    """The mean of the raw maps `maps_of(copies, flip, zoom)` of the six copies, each mapped back
    by the inverse transform; a pixel averages the copies that show it."""
    count, height, width, _ = images.shape
    total = np.zeros((count, height, width))
    shown = np.zeros((height, width))
    for flip in (False, True):
        for zoom in ZOOMS:
            maps = maps_of(transformed(images, flip, zoom), flip, zoom)
            y, x = grid(height, width, zoom)
            for n, m in enumerate(maps):
                back = np.where(inside(y, x), sample(m.astype(np.float64), y, x), 0.0)
                total[n] += back[:, ::-1] if flip else back
            shown += inside(y, x)
    return total / shown


def test_augment_builds_the_identity_and_the_mirror_exactly(rng):
    images = rng.random((2, 5, 7, 3), dtype=np.float32)
    copies = augment(images)
    assert copies.shape == (2 * len(AUGMENTATIONS), 5, 7, 3) and copies.dtype == np.float32
    assert AUGMENTATIONS[:2] == ((False, 1.0), (True, 1.0))
    np.testing.assert_array_equal(copies[0::6], images)
    np.testing.assert_array_equal(copies[1::6], images[:, :, ::-1])


@pytest.mark.parametrize("variant, options", [(GradCAM(), {}), (ScoreCAM(max_maps=2), {}),
                                              (LayerCAM(), {"eigen_smooth": True})])
def test_aug_smooth_is_the_mean_of_the_maps_of_the_copies_mapped_back(variant, options, rng):
    model = gap_model(size=12, pool=True)  # 6×6 maps, upsampled before they are mapped back
    images = rng.random((2, 12, 12, 3), dtype=np.float32)
    classes = [2, 0]

    def maps_of(copies, flip, zoom):
        return variant(model, copies, classes, normalize=False, **options)

    want = naive_augmented(maps_of, images)
    got = variant(model, images, classes, aug_smooth=True, normalize=False, **options)
    assert got.shape == (2, 12, 12) and got.dtype == np.float32 and want.max() > 0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(variant(model, images, classes, aug_smooth=True, **options),
                               normalize_maps(want), rtol=1e-4, atol=1e-5)


def pointwise_model():
    """1×1 convolutions only: the map of a uniform image is uniform."""
    inputs = keras.Input((9, 9, 3))
    x = keras.layers.Conv2D(4, 1, activation="relu", bias_initializer="ones", name="conv")(inputs)
    dense = keras.layers.Dense(3, kernel_initializer=keras.initializers.RandomUniform(0.1, 1.0))
    return keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(x)))


def test_aug_smooth_keeps_the_map_of_a_uniform_image():
    """Every copy of a uniform image is the image (the border takes its mean colour), and each
    pixel averages only the copies that show it, so the map is the plain one."""
    model = pointwise_model()
    images = np.stack([np.full((9, 9, 3), 0.3), np.full((9, 9, 3), 0.8)]).astype(np.float32)
    plain = cam(model, images, [0, 1], normalize=False)
    assert plain.min() > 0
    np.testing.assert_allclose(cam(model, images, [0, 1], aug_smooth=True, normalize=False), plain,
                               rtol=1e-5)


def test_aug_smooth_explains_the_class_predicted_for_the_image_itself():
    """A model that calls bright-on-the-left class 0 and bright-on-the-right class 1: the mirrored
    copy predicts class 1, yet explains class 0 like the others."""
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, activation="relu", name="conv")(inputs)
    dense = keras.layers.Dense(2, name="dense")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(x)))
    model.get_layer("conv").set_weights([np.ones((1, 1, 1, 1), np.float32)])
    left = np.zeros((4, 4), np.float32)
    left[:, :2] = 1.0
    dense.set_weights([np.stack([left.ravel(), left[:, ::-1].ravel()], 1), np.zeros(2, np.float32)])
    image = np.zeros((1, 4, 4, 1), np.float32)
    image[0, 1:3, 0] = 1.0
    assert model(image).numpy().argmax() == 0 and model(image[:, :, ::-1]).numpy().argmax() == 1
    # Class 0 sees nothing on the mirrored copies: half the copies add nothing to the mean.
    raw = cam(model, image, aug_smooth=True, method="hirescam", normalize=False)
    np.testing.assert_array_equal(
        raw, cam(model, image, 0, aug_smooth=True, method="hirescam", normalize=False))
    assert np.all(cam(model, image[:, :, ::-1], 0, method="hirescam", normalize=False) == 0)


@pytest.mark.parametrize("given", [True, False])
def test_aug_smooth_moves_a_region_s_mask_with_each_copy(given, rng):
    """On a segmentation model, each copy explains the region's mask (given, or the pixels
    predicted as the class in the image itself) transformed like the copy: nothing outside the
    image belongs to it."""
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, name="classes")(x))
    images = rng.normal(size=(2, 8, 8, 2)).astype(np.float32)
    if given:
        mask = np.zeros((8, 8), np.float32)
        mask[1:5, 0:3] = 1.0
        masks = np.broadcast_to(mask, (2, 8, 8))
    else:
        mask = None
        masks = (model(images).numpy().argmax(-1) == 1).astype(np.float32)
        assert 0 < masks.sum() < masks.size

    def maps_of(copies, flip, zoom):
        moved = transformed(masks[..., None], flip, zoom, 0.0)[..., 0]
        return gradcam(model, copies, Region(1, mask=moved), normalize=False)

    want = naive_augmented(maps_of, images)
    assert want.max() > 0
    np.testing.assert_allclose(gradcam(model, images, Region(1, mask=mask), aug_smooth=True,
                                       normalize=False), want, rtol=1e-4, atol=1e-6)


def test_no_retracing_across_calls_with_other_classes(rng):
    model = gap_model()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    calls = [dict(method="gradcam", aug_smooth=True), dict(method="xgradcam"),
             dict(method="eigencam"), dict(method="eigengradcam", aug_smooth=True),
             dict(method="hirescam", eigen_smooth=True)]
    for options in calls:
        cam(model, images, [0, 1], **options)
        cam(model, images, None, **options)
    traced = steps.trace_count(model)
    for options in calls:
        cam(model, images[::-1], [2, 0], **options)
        cam(model, images[:1], None, **options)
        cam(model, images[:1], 1, **options)
    assert steps.trace_count(model) == traced


class _NoEigen(GradCAM):
    supports_eigen_smooth = False


def test_bad_options_raise_clear_errors(rng):
    model = gap_model()
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    before = model_state(model)
    with pytest.raises(ValueError, match=r"Expected `eigen_smooth` to be False for _NoEigen\."):
        _NoEigen()(model, images, eigen_smooth=True)
    _NoEigen()(model, images, aug_smooth=True)  # the other option still works
    for name in ("aug_smooth", "eigen_smooth"):
        for value in ("yes", 1, None):
            with pytest.raises(TypeError, match=rf"Expected `{name}` to be True or False"):
                cam(model, images, **{name: value})
        with pytest.raises(TypeError, match=name):
            gradcam(model, images, **{name: "no"})
    with pytest.raises(ValueError, match=r"`aug_smooth` to be False for a `Neuron`"):
        cam(model, images, Neuron("conv2", 0, (1, 1)), aug_smooth=True)
    cam(model, images, Channel("conv2", 0), aug_smooth=True)
    with pytest.raises(ValueError, match=r"`fill` to be None unless method='scorecam'"):
        cam(model, images, method="gradcam", fill=0.0)
    with pytest.raises(ValueError, match=r"`max_channels` to be None unless method='ablationcam'"):
        cam(model, images, method="xgradcam", max_channels=3)
    assert_model_unchanged(model, before)
