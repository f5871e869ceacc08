"""Layer lookup: nested models, close-match suggestions, and the default CAM layer of every family."""

import keras
import pytest

from keras_vis import conv_layers, find_layer, last_conv_layer

APPLICATIONS = {
    "VGG16": (keras.applications.VGG16, "block5_conv3"),
    "ResNet50": (keras.applications.ResNet50, "conv5_block3_out"),
    "ResNet50V2": (keras.applications.ResNet50V2, "post_relu"),
    "MobileNet": (keras.applications.MobileNet, "conv_pw_13_relu"),
    "MobileNetV2": (keras.applications.MobileNetV2, "out_relu"),
    "EfficientNetB0": (keras.applications.EfficientNetB0, "top_activation"),
    "DenseNet121": (keras.applications.DenseNet121, "relu"),
    "Xception": (keras.applications.Xception, "block14_sepconv2_act"),
    "InceptionV3": (keras.applications.InceptionV3, "mixed10"),
    # The stage output is the residual `inputs + x`, an operation node: named by Keras
    # ("add_17"), found as what the head's pooling reads.
    "ConvNeXtTiny": (keras.applications.ConvNeXtTiny, "convnext_tiny_head_gap"),
}


@pytest.mark.applications
@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_last_conv_layer_of_every_application_family(name):
    build, expected = APPLICATIONS[name]
    size = 75 if name in ("InceptionV3", "Xception") else 32
    model = build(weights=None, input_shape=(size, size, 3), classes=10)
    layer = last_conv_layer(model)
    if name == "ConvNeXtTiny":
        head = model.get_layer(expected)
        assert layer is head._inbound_nodes[0].input_tensors[0]._keras_history.operation
        assert type(layer).__name__ == "Add" and find_layer(model, layer.name) is layer
    else:
        assert layer.name == expected
    assert len(layer.output.shape) == 4


@pytest.mark.applications
def test_last_conv_layer_of_mobilenetv3_skips_the_pooled_head():
    model = keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10)
    layer = last_conv_layer(model)
    pooling = model.get_layer("global_average_pooling2d")
    assert layer is pooling._inbound_nodes[0].input_tensors[0]._keras_history.operation
    assert layer.output.shape[-1] == 576  # the last stage, not the 1x1 convolutions of the head


def transfer_model():
    base = keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, name="conv_a"), keras.layers.Conv2D(4, 3, name="conv_b")],
        name="base",
    )
    return keras.Sequential([keras.Input((16, 16, 3)), base, keras.layers.Flatten(), keras.layers.Dense(2)]), base


def test_find_layer_inside_nested_model_by_name_path_index_and_object():
    model, base = transfer_model()
    assert find_layer(model, "conv_b") is base.layers[1]
    assert find_layer(model, "base/conv_a") is base.layers[0]
    assert find_layer(model, 0) is base
    assert find_layer(model, -1) is model.layers[-1]
    assert find_layer(model, base.layers[1]) is base.layers[1]
    assert [layer.name for layer in conv_layers(model)] == ["conv_a", "conv_b"]
    assert last_conv_layer(model).name == "conv_b"


def test_unknown_layer_lists_close_names():
    model, _ = transfer_model()
    with pytest.raises(ValueError, match=r"Did you mean: 'conv_b'"):
        find_layer(model, "conv_bb")
    with pytest.raises(ValueError, match=r"index in \[-3, 2\]"):
        find_layer(model, 3)
    with pytest.raises(TypeError, match="layer name, an integer index or a layer"):
        find_layer(model, 1.5)
    stranger = keras.layers.Dense(2, name="stranger")
    with pytest.raises(ValueError, match="belongs to another model"):
        find_layer(model, stranger)


def test_model_without_convolutions_has_no_cam_layer():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="convolution layer"):
        last_conv_layer(model)
    with pytest.raises(TypeError, match="keras.Model"):
        find_layer("not a model", "x")


def residual_stage_model():
    """conv(relu) → conv, added as `a + b` and rectified by `keras.ops.relu`, → GAP → Dense(3):
    the stage output is an operation node, as in ConvNeXt."""
    inputs = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="b")(a)
    stage = keras.ops.relu(a + b)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(stage)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(pooled))


def test_operation_nodes_are_listed_found_and_tapped_like_layers():
    import numpy as np

    import keras_vis

    model = residual_stage_model()
    stage = model.get_layer("gap")._inbound_nodes[0].input_tensors[0]._keras_history.operation
    add = stage._inbound_nodes[0].input_tensors[0]._keras_history.operation
    table = keras_vis.summary(model)
    rows = {row.name: row for row in table}
    assert rows[add.name].operation and rows[add.name].type == "Add"
    assert rows[stage.name].activation == "relu" and rows[stage.name].output_shape == (
        None, 12, 12, 4)
    assert f"{add.name}" in str(table) and "Add (operation)" in str(table)
    assert [row.name for row in table.top_level] == [layer.name for layer in model.layers]
    assert find_layer(model, add.name) is add and find_layer(model, stage) is stage
    assert last_conv_layer(model) is stage

    x = np.random.default_rng(0).random((2, 12, 12, 3), dtype=np.float32)
    maps = keras_vis.feature_maps(model, x, [add.name, stage.name])
    expected = keras.Model(model.inputs, [add.output, stage.output]).predict(x, verbose=0)
    np.testing.assert_allclose(maps[add.name], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps[stage.name], expected[1], rtol=1e-5, atol=1e-6)
    # GAP → Dense head: Grad-CAM on the operation's maps is CAM, the class weights times them.
    kernel = model.get_layer("dense").get_weights()[0]
    cam = np.maximum(np.einsum("nhwc,cn->nhw", expected[1], kernel[:, [0, 2]]), 0)
    peak = cam.max(axis=(1, 2), keepdims=True)
    cam = np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
    np.testing.assert_allclose(keras_vis.gradcam(model, x, [0, 2]), cam, rtol=1e-4, atol=1e-5)
    channel = keras_vis.saliency(model, x, keras_vis.Channel(add.name, 1), normalize=False)
    assert channel.shape == (2, 12, 12) and np.any(channel)
