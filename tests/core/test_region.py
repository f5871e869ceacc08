"""`keras_vis.Region`: segmentation models explained by a class's scores summed over a region."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vis
from keras_vis import engine, steps
from keras_vis.attribution._inputs import resolve_classes, resolved_target
from keras_vis.demo.shapes import SHAPE_CLASSES, shapes
from keras_vis.targets import Region

HEIGHT, WIDTH, CHANNELS, CLASSES = 4, 5, 3, 3
KERNEL = np.array([[1.5, -1.0, 0.5], [-0.5, 1.25, -1.0], [0.25, -0.75, 1.0]], np.float32)
BIAS = np.array([0.125, -0.25, 0.375], np.float32)


def per_pixel_model(activation=None, size=(HEIGHT, WIDTH)):
    """A 1×1 convolution: the output at each pixel is `x[y, x] @ KERNEL + BIAS`."""
    inputs = keras.Input(size + (CHANNELS,))
    outputs = keras.layers.Conv2D(CLASSES, 1, activation=activation, name="classes")(inputs)
    model = keras.Model(inputs, outputs)
    model.get_layer("classes").set_weights([KERNEL[None, None], BIAS])
    return model


def logits_of(images):
    return images @ KERNEL + BIAS


def analytic_gradient(masks, k):
    """d/dx of `sum_p masks[p] * logit_k(x[p])`: each pixel's mask weight times kernel column k."""
    return masks[..., None] * KERNEL[:, k]


@pytest.fixture
def images(rng):
    return rng.normal(size=(3, HEIGHT, WIDTH, CHANNELS)).astype(np.float32)


# (a) known answers on a per-pixel linear model


@pytest.mark.parametrize("activation", [None, "softmax"])
def test_input_gradient_is_the_mask_weighted_kernel_column(images, rng, activation):
    model = per_pixel_model(activation)
    masks = rng.random((3, HEIGHT, WIDTH)).astype(np.float32)  # float weights, one per image
    result = engine.run(model, images, Region(1, mask=masks))
    np.testing.assert_allclose(result.input_grads[0], analytic_gradient(masks, 1), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(result.scores, (masks * logits_of(images)[..., 1]).sum((1, 2)),
                               rtol=1e-5)
    maps = keras_vis.saliency(model, images, Region(1, mask=masks), method="vanilla",
                              reduce="sum", normalize=False)
    np.testing.assert_allclose(maps, analytic_gradient(masks, 1).sum(-1), rtol=1e-5, atol=1e-6)


def test_one_mask_for_every_image_and_boolean_masks(images):
    model = per_pixel_model()
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[1:3, 2:] = True
    maps = keras_vis.saliency(model, images, Region(2, mask=mask), method="vanilla",
                              reduce="sum", normalize=False)
    expected = analytic_gradient(np.broadcast_to(mask, (3, HEIGHT, WIDTH)).astype(np.float32), 2)
    np.testing.assert_allclose(maps, expected.sum(-1), rtol=1e-6)


def test_integrated_gradients_of_a_linear_region_is_input_times_gradient(images):
    model = per_pixel_model()
    mask = np.eye(HEIGHT, WIDTH, dtype=np.float32)
    maps = keras_vis.integrated_gradients(model, images, Region(0, mask=mask), steps=3,
                                          reduce="sum", normalize=False)
    expected = (images * analytic_gradient(np.broadcast_to(mask, (3, HEIGHT, WIDTH)), 0)).sum(-1)
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-6)


def test_model_head_scores_the_softmax_probabilities(images):
    model = per_pixel_model("softmax")
    mask = np.ones((HEIGHT, WIDTH), np.float32)
    result = engine.run(model, images, Region(0, mask=mask), head="model", input_grads=False)
    probabilities = keras.ops.convert_to_numpy(model(images))
    np.testing.assert_allclose(result.scores, probabilities[..., 0].sum((1, 2)), rtol=1e-5)


# (b) mask=None: the predicted pixels


def predicted_mask(model, images, k):
    return (keras.ops.convert_to_numpy(model(images)).argmax(-1) == k).astype(np.float32)


def test_mask_none_equals_the_explicit_predicted_mask(images):
    model = per_pixel_model("softmax")
    predicted = predicted_mask(model, images, 1)
    assert 0 < predicted.sum() < predicted.size
    implicit = engine.run(model, images, Region(1))
    explicit = engine.run(model, images, Region(1, mask=predicted))
    np.testing.assert_allclose(implicit.scores, explicit.scores, rtol=1e-6)
    np.testing.assert_allclose(implicit.input_grads[0], analytic_gradient(predicted, 1),
                               rtol=1e-5, atol=1e-6)
    resolved = resolve_classes(model, images, Region(1), batch_size=2)
    np.testing.assert_array_equal(resolved, predicted)
    target = resolved_target(Region(1, output=0), resolved)
    assert isinstance(target, Region) and target.class_index == 1
    np.testing.assert_array_equal(target.mask, predicted)


def test_mask_none_of_a_sigmoid_output_is_the_pixels_above_one_half(images):
    inputs = keras.Input((HEIGHT, WIDTH, CHANNELS))
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="foreground")(inputs)
    model = keras.Model(inputs, outputs)
    model.get_layer("foreground").set_weights([KERNEL[None, None, :, :1], BIAS[:1]])
    foreground = (logits_of(images)[..., 0] >= 0).astype(np.float32)
    assert 0 < foreground.sum() < foreground.size
    for head in ("linear", "model"):  # the threshold is on the logit, or on the probability
        np.testing.assert_array_equal(
            resolve_classes(model, images, Region(0), batch_size=8, head=head,
                            outputs=engine.run(model, images, None, head=head).outputs),
            foreground)
    gradients = engine.run(model, images, Region(0)).input_grads[0]
    np.testing.assert_allclose(gradients, foreground[..., None] * KERNEL[:, 0], rtol=1e-5,
                               atol=1e-6)


# (c) a tiny U-Net trained on the shapes masks


@pytest.fixture(scope="module")
def segmenter():
    """A two-scale U-Net segmenting `shapes` images into background and the five shape classes.

    Trained for a few seconds it finds the objects well, though it tells their classes apart
    poorly: most object pixels get one class, which the tests explain.
    """
    keras.utils.set_random_seed(1)
    images, labels, masks = shapes(384, size=32, seed=1)
    layers = keras.layers
    inputs = keras.Input((32, 32, 3))
    top = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    bottom = layers.MaxPooling2D()(top)
    bottom = layers.Conv2D(32, 3, padding="same", activation="relu")(bottom)
    bottom = layers.Conv2D(32, 3, padding="same", activation="relu", name="bottom")(bottom)
    up = layers.Concatenate()([layers.UpSampling2D()(bottom), top])
    up = layers.Conv2D(16, 3, padding="same", activation="relu", name="decoder")(up)
    outputs = layers.Conv2D(len(SHAPE_CLASSES) + 1, 1, activation="softmax", name="classes")(up)
    model = keras.Model(inputs, outputs, name="tiny_unet")
    model.compile(keras.optimizers.Adam(5e-3), "sparse_categorical_crossentropy")
    pixel_labels = np.where(masks, labels[:, None, None] + 1, 0)
    model.fit(images / np.float32(255), pixel_labels, sample_weight=np.where(masks, 12.0, 1.0),
              epochs=8, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def scene(segmenter):
    """Four test images whose objects are mostly predicted as one class `k`:
    `(images, masks, k)`."""
    images, _, masks = shapes(32, size=32, seed=7)
    images = images.astype(np.float32) / 255
    predicted = keras.ops.convert_to_numpy(segmenter(images)).argmax(-1)
    counts = np.stack([(predicted == k).sum((1, 2)) for k in range(len(SHAPE_CLASSES) + 1)], 1)
    dominant = counts[:, 1:].argmax(1) + 1
    found = counts[np.arange(len(images)), dominant] >= 30
    k = np.bincount(dominant[found]).argmax()
    chosen = np.flatnonzero(found & (dominant == k))[:4]
    assert len(chosen) == 4, "the segmenter finds too few objects"
    return images[chosen], masks[chosen], int(k)


def occlusion_drop(model, images, target):
    """How much hiding each pixel lowers the score: the raw occlusion map's maximum minus it."""
    scores = keras_vis.occlusion(model, images, target, patch=4, stride=2, fill="mean",
                                 normalize=False)
    return scores.max(axis=(1, 2), keepdims=True) - scores


METHODS = {
    "gradcam": lambda model, images, target: keras_vis.gradcam(model, images, target),
    "saliency": lambda model, images, target: keras_vis.saliency(model, images, target),
    "occlusion": occlusion_drop,
    "scorecam": lambda model, images, target: keras_vis.cam(model, images, target,
                                                             method="scorecam", max_maps=4),
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_maps_of_a_region_lie_on_the_object(segmenter, scene, method):
    images, masks, k = scene
    maps = METHODS[method](segmenter, images, Region(k))
    assert maps.shape == masks.shape and maps.dtype == np.float32
    assert np.all(np.isfinite(maps)) and np.all(maps >= 0)
    inside = (maps * masks).sum((1, 2)) / masks.sum((1, 2))
    outside = (maps * ~masks).sum((1, 2)) / (~masks).sum((1, 2))
    # The object's pixels hold at least twice the mean evidence of the others, in most images.
    assert np.sum(inside > 2 * outside) >= 3, (inside, outside)


# (d) altered copies are scored on the original image's predicted pixels


def test_occlusion_scores_copies_on_the_unoccluded_prediction(segmenter, scene):
    images, _, k = scene
    predicted = predicted_mask(segmenter, images, k)
    options = dict(patch=8, stride=8, normalize=False, progress=False)
    implicit = keras_vis.occlusion(segmenter, images, Region(k), **options)
    explicit = keras_vis.occlusion(segmenter, images, Region(k, mask=predicted), **options)
    np.testing.assert_allclose(implicit, explicit, rtol=1e-6)
    # Scoring each copy on its own predicted pixels is another map.
    def own_pixels(outputs):
        own = keras.ops.cast(keras.ops.argmax(outputs, axis=-1) == k, "float32")
        return keras.ops.sum(outputs[..., k] * own, axis=(1, 2))

    per_copy = keras_vis.occlusion(segmenter, images, own_pixels, **options)
    assert not np.allclose(per_copy, implicit, rtol=1e-3)


# (e) masks are data


def test_other_masks_never_retrace(images, rng):
    model = per_pixel_model("softmax")

    def explain(target):
        keras_vis.saliency(model, images, target)
        keras_vis.occlusion(model, images, target, patch=2, stride=2, progress=False)

    explain(Region(1, mask=rng.random((3, HEIGHT, WIDTH))))
    traced = steps.trace_count(model)
    explain(Region(1, mask=rng.random((3, HEIGHT, WIDTH))))
    explain(Region(1, mask=rng.random((HEIGHT, WIDTH)) > 0.5))
    explain(Region(1))
    assert steps.trace_count(model) == traced


def test_a_model_of_open_input_size_checks_masks_at_its_output_size(rng):
    model = per_pixel_model(size=(None, None))
    images = rng.normal(size=(2, 6, 7, CHANNELS)).astype(np.float32)
    mask = rng.random((6, 7)).astype(np.float32)
    gradients = engine.run(model, images, Region(0, mask=mask)).input_grads[0]
    np.testing.assert_allclose(gradients, analytic_gradient(np.broadcast_to(mask, (2, 6, 7)), 0),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(6, 7\) for every image"):
        engine.run(model, images, Region(0, mask=mask[:5]))


# (f) clear errors


def test_errors_are_clear(images, tiny_cnn):
    model = per_pixel_model()
    with pytest.raises(ValueError, match=r"spatial, \(N, h, w, K\).*shape \(None, 3\)"):
        keras_vis.saliency(tiny_cnn, np.zeros((1, 16, 16, 3), np.float32), Region(0))
    with pytest.raises(ValueError, match=r"class_index.*\[0, 2\].*has 3 classes"):
        keras_vis.saliency(model, images, Region(3))
    with pytest.raises(ValueError, match=r"\(4, 5\) for every image or \(3, 4, 5\) one per image"):
        keras_vis.saliency(model, images, Region(0, mask=np.ones((5, 4))))
    with pytest.raises(ValueError, match=r"\(3, 4, 5\) one per image.*shape \(2, 4, 5\)"):
        keras_vis.occlusion(model, images, Region(0, mask=np.ones((2, 4, 5))), patch=2,
                            stride=2)
    with pytest.raises(ValueError, match="finite"):
        Region(0, mask=np.full((4, 5), np.nan))
    with pytest.raises(ValueError, match=r"\(h, w\) mask.*1 dimension"):
        Region(0, mask=np.ones(5))
    with pytest.raises(TypeError, match="bools or numbers"):
        Region(0, mask=np.array([["a"]]))
    with pytest.raises(TypeError, match="`class_index` to be an int"):
        Region(True)
    with pytest.raises(ValueError, match="non-negative"):
        Region(-1)
    with pytest.raises(ValueError, match=r"output.*\[0, 0\]"):
        keras_vis.saliency(model, images, Region(0, output=1))


def test_a_subclassed_model_checks_masks_when_it_runs(images):
    class PerPixel(keras.Model):
        def __init__(self):
            super().__init__()
            self.classes = keras.layers.Conv2D(CLASSES, 1)

        def call(self, inputs):
            return self.classes(inputs)

    model = PerPixel()
    model(images)
    model.classes.set_weights([KERNEL[None, None], BIAS])
    mask = np.ones((HEIGHT, WIDTH), np.float32)
    maps = keras_vis.saliency(model, images, Region(2, mask=mask), logits=False, method="vanilla",
                              reduce="sum", normalize=False)
    np.testing.assert_allclose(maps, np.full(maps.shape, KERNEL[:, 2].sum()), rtol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at the resolution of output 0"):
        keras_vis.saliency(model, images, Region(2, mask=mask[1:]), logits=False)


def test_region_keys_leave_the_mask_out():
    assert Region(1).key() == Region(1, mask=np.ones((2, 2))).key() != Region(2).key()
    assert "mask shape=(2, 2)" in repr(Region(1, mask=np.ones((2, 2))))
