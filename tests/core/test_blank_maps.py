"""Maps that show nothing are said to show nothing: the API warns once per call with a
`BlankMapWarning` naming the images and what to try, and the report, the command line and the
explorer write that sentence on the picture instead of drawing a uniform tile."""

import warnings

import keras
import numpy as np
import pytest

import keras_vis
from keras_vis.blank import CLASS_REASONS, BlankMapWarning, blank_images, collected, reason_for
from keras_vis.report import Settings, make_subject, techniques

SIZE = 8


def gap_dense(kernel, *, conv_size=SIZE, softmax=True):
    """conv 1×1 (relu, kernel 1: every channel is the pixel's first colour) → GAP → Dense with the
    given kernel `(2, classes)` and no bias: what a class activation map weights is known."""
    inputs = keras.Input((conv_size, conv_size, 3))
    x = keras.layers.Conv2D(2, 1, activation="relu", use_bias=False, name="features",
                            kernel_initializer="ones")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(kernel.shape[1], use_bias=False, name="head",
                               activation="softmax" if softmax else None)
    model = keras.Model(inputs, dense(x))
    dense.set_weights([kernel.astype(np.float32)])
    return model


def images(count=3, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 1.0, (count, SIZE, SIZE, 3)).astype(np.float32)


def caught(call):
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = call()
    return result, [r for r in records if issubclass(r.category, BlankMapWarning)]


def test_blank_images_are_those_without_variation():
    maps = np.stack([np.zeros((4, 4)), np.full((4, 4), 3.0), np.eye(4) * 1e-13,
                     np.eye(4)]).astype(np.float32)
    assert blank_images(maps) == [0, 1]  # tiny but varying values are a map, scaled up


def test_a_class_without_positive_evidence_is_named_with_what_to_try():
    # Class 0 weighs every (non-negative) feature negatively: its CAM is zero everywhere.
    model = gap_dense(np.array([[-1.0, 1.0], [-1.0, 1.0]]))
    maps, found = caught(lambda: keras_vis.gradcam(model, images(), [1, 0, 1]))
    assert len(found) == 1
    warning = found[0].message
    assert warning.images == (1,) and "image 1 is blank" in str(warning)
    assert "no positive evidence" in warning.reason and "hirescam" in warning.reason
    assert found[0].filename == __file__  # pointed at the user's call, not at keras_vis
    assert np.all(maps[1] == 0) and maps[0].max() == 1


def test_a_layer_with_a_one_position_map_is_named():
    model = gap_dense(np.array([[1.0, 0.5], [0.5, 1.0]]), conv_size=1)
    _, found = caught(lambda: keras_vis.gradcam(model, images()[:, :1, :1], [0, 1, 0]))
    assert len(found) == 1 and found[0].message.images == (0, 1, 2)
    assert "'features' has a 1×1 feature map" in found[0].message.reason


def test_a_saturated_probability_makes_occlusion_flat_and_the_logit_does_not():
    model = gap_dense(np.array([[300.0, -300.0], [300.0, -300.0]]))
    x = images(2)
    flat, found = caught(lambda: keras_vis.occlusion(model, x, 0, patch=4, stride=4,
                                                     progress=False))
    assert len(found) == 1 and found[0].message.images == (0, 1)
    assert "logits=True" in found[0].message.reason
    _, found = caught(lambda: keras_vis.occlusion(model, x, 0, patch=4, stride=4, logits=True,
                                                  progress=False))
    assert found == []


def test_an_occlusion_mask_with_no_region_says_to_raise_the_threshold():
    heatmaps = np.stack([np.linspace(0.9, 1.0, 16).reshape(4, 4), np.eye(4) + 0.1])
    masks, found = caught(lambda: keras_vis.occlusion_mask(heatmaps, 0.5))
    assert not masks[0].any() and masks[1].any()
    assert len(found) == 1 and found[0].message.images == (0,)
    assert "Raise `threshold`" in found[0].message.reason


def test_an_empty_region_is_named(tmp_path):
    inputs = keras.Input((SIZE, SIZE, 3))
    outputs = keras.layers.Conv2D(2, 3, padding="same", name="segment")(inputs)
    model = keras.Model(inputs, outputs)
    mask = np.zeros((2, SIZE, SIZE), bool)
    mask[0, 2:4, 2:4] = True
    _, found = caught(lambda: keras_vis.saliency(model, images(2), keras_vis.Region(1, mask)))
    regions = [w for w in found if "Region(1)" in str(w.message)]
    assert regions and regions[0].message.images == (1,)
    assert "mask of this image is empty" in regions[0].message.reason


def test_collected_gathers_the_reasons_and_lets_other_warnings_through():
    model = gap_dense(np.array([[-1.0, 1.0], [-1.0, 1.0]]))
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        with collected() as blanks:
            keras_vis.gradcam(model, images(), [0, 1, 0])
            warnings.warn("something else")
    assert set(blanks) == {0, 2} and "positive evidence" in blanks[0]
    assert [str(w.message) for w in outside] == ["something else"]


def test_the_report_writes_the_sentence_on_the_picture():
    model = gap_dense(np.array([[-1.0, 1.0], [-1.0, 1.0]]))
    pictures = (images(2) * 255).astype(np.uint8)
    subject = make_subject(model, pictures)
    settings = Settings(display_size=32, progress=False)
    drawn, skipped = techniques.attribution_pictures(subject, settings, 0, ["gradcam"])
    assert skipped == []
    for picture in drawn:
        assert "no positive evidence" in picture.detail
        dimmed = (techniques.display(subject, settings, picture.image).astype(np.float32)
                  * 0.25).astype(np.uint8)
        written = np.abs(picture.content.astype(int) - dimmed).max(axis=-1) > 100
        assert written.sum() > 20  # white letters over the dimmed image
    drawn, _ = techniques.attribution_pictures(subject, settings, 1, ["gradcam"])
    assert all(picture.detail == "" for picture in drawn)


@pytest.mark.parametrize("method", ["lrp", "integrated_gradients", "rise"])
def test_other_families_warn_too(method):
    # A network whose output ignores the image: every method has nothing to show.
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs * 0.0)
    model = keras.Model(inputs, keras.layers.Dense(2, bias_initializer="ones")(x))
    options = {"rise": {"masks": 16, "progress": False}}.get(method, {})
    _, found = caught(lambda: getattr(keras_vis, method)(model, images(2), 0, **options))
    assert len(found) == 1 and found[0].message.images == (0, 1), method


@pytest.mark.parametrize("aug_smooth", [False, True])
def test_fullgrad_names_its_gradients_not_a_layer(aug_smooth):
    # FullGrad reads no layer's feature maps: a network whose output ignores the image gives it
    # vanished gradients (and uniform bias terms), said with or without aug_smooth's copies.
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", bias_initializer="ones")(inputs * 0.0)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, bias_initializer="ones")(x))
    _, found = caught(lambda: keras_vis.cam(model, images(2), 0, method="fullgrad",
                                            aug_smooth=aug_smooth))
    assert len(found) == 1 and found[0].message.images == (0, 1)
    assert str(found[0].message).startswith("cam (FullGrad)")
    assert "does not change with any pixel" in found[0].message.reason


def dead_channel_model():
    """conv 1×1 whose channel 1 never fires (bias -2 under inputs in [0.1, 1]) → GAP → Dense."""
    inputs = keras.Input((SIZE, SIZE, 3))
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="features")
    x = keras.layers.GlobalAveragePooling2D()(conv(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    conv.set_weights([np.ones((1, 1, 3, 2), np.float32), np.array([0.0, -4.0], np.float32)])
    return model


@pytest.mark.parametrize("method, options", [
    ("saliency", {}), ("gradcam", {}), ("lrp", {}), ("integrated_gradients", {}),
    ("occlusion", {"patch": 4, "progress": False}), ("rise", {"masks": 16, "progress": False}),
], ids=["saliency", "gradcam", "lrp", "integrated_gradients", "occlusion", "rise"])
def test_an_objective_on_a_dead_unit_gets_advice_about_units_not_classes(method, options):
    model = dead_channel_model()
    objective = keras_vis.objectives.Channel("features", 1)
    call = getattr(keras_vis, method)
    _, found = caught(lambda: call(model, images(2), objective, **options))
    assert len(found) == 1 and found[0].message.images == (0, 1), method
    reason = found[0].message.reason
    assert reason.startswith("The score of channel('features', 1) does not reach the pixels")
    assert "another channel" in reason and "class" not in reason


def test_a_class_keeps_the_advice_worded_for_a_class():
    for target in (keras_vis.targets.as_target(0), keras_vis.objectives.class_logit(1).as_target()):
        for reason in CLASS_REASONS:
            assert reason_for(target, reason) == reason
    unit = keras_vis.objectives.Neuron("features", 0).as_target()
    assert all(reason_for(unit, reason).startswith("The score of neuron('features', 0)")
               for reason in CLASS_REASONS)


def test_a_one_position_layer_is_named_whatever_the_target():
    model = gap_dense(np.array([[1.0, 0.5], [0.5, 1.0]]), conv_size=1)
    objective = keras_vis.objectives.Channel("features", 0)
    _, found = caught(lambda: keras_vis.gradcam(model, images()[:, :1, :1], objective))
    assert "'features' has a 1×1 feature map" in found[0].message.reason
