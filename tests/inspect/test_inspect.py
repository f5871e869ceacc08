"""The layer table against Keras's own counts, configs and weights as data, kernels, feature maps."""

import json

import keras
import numpy as np
import pytest
from helpers.state import assert_model_unchanged, model_state

from keras_vis import engine
from keras_vis.inspect import feature_maps, filter_weights, layer_configs, layer_weights, summary
from keras_vis.layers import find_layer


@pytest.fixture(scope="module")
def vgg16():
    keras.backend.clear_session()
    return keras.applications.VGG16(weights=None)


@pytest.fixture(scope="module")
def transfer_model():
    """A frozen 32×32 VGG16 base inside a Sequential with a new 2-class head."""
    keras.backend.clear_session()
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    base.trainable = False
    return keras.Sequential(
        [keras.Input((32, 32, 3)), base, keras.layers.Flatten(name="flatten"),
         keras.layers.Dense(2, activation="softmax", name="head")],
        name="transfer",
    )


def nested_tiny():
    """8×8×3 → [inner: conv_a(relu) → pool_a] → conv_b → GAP → Dense(2); a functional model nested in
    a functional model."""
    inner_in = keras.Input((8, 8, 3), name="inner_in")
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv_a")(inner_in)
    x = keras.layers.MaxPooling2D(name="pool_a")(x)
    inner = keras.Model(inner_in, x, name="inner")
    inputs = keras.Input((8, 8, 3), name="image")
    y = inner(inputs)
    y = keras.layers.Conv2D(5, 3, padding="same", name="conv_b")(y)
    y = keras.layers.GlobalAveragePooling2D(name="gap")(y)
    outputs = keras.layers.Dense(2, name="logits")(y)
    return keras.Model(inputs, outputs, name="outer")


# --- summary ------------------------------------------------------------------------------------


def conv_params(kernel, in_channels, filters):
    return kernel * kernel * in_channels * filters + filters


@pytest.mark.applications
def test_summary_of_vgg16_agrees_with_keras(vgg16):
    table = summary(vgg16)
    assert len(table.top_level) == len(vgg16.layers) == 23
    assert len(table) == 23  # no nested models
    assert table.total_params == vgg16.count_params() == 138_357_544
    assert table.trainable_params == 138_357_544 and table.non_trainable_params == 0
    assert sum(row.params for row in table.top_level) == table.total_params

    first = table["block1_conv1"]
    assert first.type == "Conv2D" and first.output_shape == (None, 224, 224, 64)
    assert first.params == conv_params(3, 3, 64) == 1792
    assert (first.filters, first.units, first.kernel_size, first.strides) == (64, None, (3, 3), (1, 1))
    assert first.activation == "relu" and first.trainable and first.depth == 0

    pool = table["block1_pool"]
    assert (pool.type, pool.kernel_size, pool.strides, pool.params) == ("MaxPooling2D", (2, 2), (2, 2), 0)
    assert pool.output_shape == (None, 112, 112, 64)
    assert table["fc1"].params == 7 * 7 * 512 * 4096 + 4096
    head = table[-1]
    assert (head.name, head.units, head.activation) == ("predictions", 1000, "softmax")
    assert head.params == 4096 * 1000 + 1000
    assert table[0].type == "InputLayer" and table[0].output_shape == (None, 224, 224, 3)


@pytest.mark.applications
def test_summary_prints_an_aligned_table(vgg16):
    text = str(summary(vgg16))
    lines = text.splitlines()
    assert "Total params: 138,357,544" in text and "Trainable params: 138,357,544" in text
    header = next(line for line in lines if line.startswith("Layer"))
    start = header.index("Output shape")
    params_end = header.index("Params") + len("Params")
    rows = [line for line in lines if line.split(" ")[0] in {layer.name for layer in vgg16.layers}]
    assert len(rows) == 23
    for line in rows:
        assert line[start:].startswith("(None")
        assert line[params_end - 1].isdigit() and line[params_end] == " "  # right-aligned counts
    assert "102,764,544" in text  # fc1


@pytest.mark.applications
def test_summary_of_a_nested_transfer_model(transfer_model):
    table = summary(transfer_model)
    base = transfer_model.layers[0]
    assert len(table.top_level) == len(transfer_model.layers) == 3
    assert len(table) == 3 + len(base.layers) == 22
    assert table.total_params == transfer_model.count_params() == 14_714_688 + 512 * 2 + 2
    assert table.trainable_params == 512 * 2 + 2
    assert table.non_trainable_params == 14_714_688

    nested = table["block5_conv3"]
    assert nested is table["vgg16/block5_conv3"]
    assert (nested.path, nested.depth, nested.trainable) == ("vgg16/block5_conv3", 1, False)
    assert nested.output_shape == (None, 2, 2, 512) and nested.params == conv_params(3, 512, 512)
    assert find_layer(transfer_model, nested.path) is base.get_layer("block5_conv3")
    base_row = table["vgg16"]
    assert (base_row.type, base_row.params, base_row.trainable_params) == ("Functional", 14_714_688, 0)
    # the base's inner rows follow its own row, then the head
    order = [row.path for row in table]
    assert order[0] == "vgg16" and order[1] == "vgg16/input_layer" and order[-2:] == ["flatten", "head"]
    assert "\n    block5_conv3" not in str(table) and "\n  block5_conv3" in str(table)
    assert len(summary(transfer_model, expand_nested=False)) == 3


@pytest.mark.applications
def test_summary_lookup_errors_name_candidates(transfer_model):
    table = summary(transfer_model)
    with pytest.raises(ValueError, match="block5_conv3"):
        table["block5_conv"]


@pytest.mark.applications
def test_summary_as_data_and_html(transfer_model):
    table = summary(transfer_model)
    records = table.to_records()
    assert len(records) == len(table) and records[1]["path"] == "vgg16/input_layer"
    data = json.loads(json.dumps(table.to_dict()))
    assert data["total_params"] == table.total_params and len(data["layers"]) == 22
    html = table._repr_html_()
    assert html.count("<tr>") == 1 + 22 and "<table>" in html
    assert "padding-left:2.0em" in html  # nested rows indented
    assert "14,715,714" in html


def test_summary_html_escapes_names():
    inputs = keras.Input((2,), name="x<y>")
    model = keras.Model(inputs, keras.layers.Dense(1, name="a&b")(inputs))
    html = summary(model)._repr_html_()
    assert "a&amp;b" in html and "x&lt;y&gt;" in html and "a&b" not in html


# --- configs and weights --------------------------------------------------------------------------


def test_layer_configs_are_json_and_rebuild_equal_layers():
    model = nested_tiny()
    configs = layer_configs(model)
    assert list(configs) == ["image", "inner", "inner/inner_in", "inner/conv_a", "inner/pool_a", "conv_b",
                             "gap", "logits"]
    json.dumps(configs)  # serializable as is
    conv_a = configs["inner/conv_a"]
    assert conv_a["filters"] == 3 and conv_a["activation"] == "relu"
    assert tuple(conv_a["kernel_size"]) == (3, 3)
    rebuilt = keras.layers.Conv2D.from_config(conv_a)
    assert rebuilt.get_config() == find_layer(model, "inner/conv_a").get_config()


def test_layer_configs_handle_numpy_values():
    norm = keras.layers.Normalization(mean=np.array([1.0, 2.0]), variance=np.array([4.0, 9.0]), name="norm")
    inputs = keras.Input((2,))
    model = keras.Model(inputs, norm(inputs))
    config = json.loads(json.dumps(layer_configs(model)["norm"]))
    assert config["mean"] == [1.0, 2.0] and config["variance"] == [4.0, 9.0]


def test_layer_weights_round_trip_and_are_copies():
    model = nested_tiny()
    weights = layer_weights(model)
    assert "inner" not in weights  # a nested model's weights sit under its inner layers' paths
    assert weights["gap"] == [] and len(weights["inner/conv_a"]) == 2
    np.testing.assert_array_equal(weights["logits"][0], model.get_layer("logits").kernel.numpy())

    state = model_state(model)
    weights["inner/conv_a"][0][...] = 123.0
    assert_model_unchanged(model, state)

    keras.utils.set_random_seed(99)
    copy = nested_tiny()
    x = np.random.default_rng(1).random((2, 8, 8, 3)).astype(np.float32)
    assert not np.allclose(copy.predict(x, verbose=0), model.predict(x, verbose=0))
    for path, arrays in layer_weights(model).items():
        find_layer(copy, path).set_weights(arrays)
    np.testing.assert_allclose(copy.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


# --- filter weights -------------------------------------------------------------------------------


def test_filter_weights_shapes_and_copies(tiny_cnn):
    kernel = filter_weights(tiny_cnn, "conv1")
    assert kernel.shape == (3, 3, 3, 4) and kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel, tiny_cnn.get_layer("conv1").kernel.numpy())
    kernel[...] = 0
    assert np.any(tiny_cnn.get_layer("conv1").kernel.numpy() != 0)
    assert filter_weights(tiny_cnn, 3).shape == (3, 3, 4, 6)  # by index: conv2
    assert filter_weights(nested_tiny(), "inner/conv_a").shape == (3, 3, 3, 3)


def test_filter_weights_of_transposed_and_depthwise_convolutions():
    inputs = keras.Input((6, 6, 2))
    up = keras.layers.Conv2DTranspose(5, (3, 2), name="up")(inputs)
    depth = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="depth")(up)
    model = keras.Model(inputs, keras.layers.SeparableConv2D(4, 3, name="sep")(depth))
    transposed = model.get_layer("up").kernel.numpy()  # (kh, kw, out, in)
    np.testing.assert_array_equal(filter_weights(model, "up"), transposed.transpose(0, 1, 3, 2))
    assert filter_weights(model, "up").shape == (3, 2, 2, 5)
    assert filter_weights(model, "depth").shape == (3, 3, 5, 2)
    assert filter_weights(model, "sep").shape == (3, 3, 10, 1)


def test_filter_weights_of_a_non_convolution_suggests_conv_layers(tiny_cnn):
    with pytest.raises(ValueError, match=r"conv_layers\(model\).*'conv1', 'conv2'"):
        filter_weights(tiny_cnn, "gap")
    with pytest.raises(ValueError, match="Did you mean"):
        filter_weights(tiny_cnn, "conv3")


# --- feature maps ---------------------------------------------------------------------------------


def reference_maps(model, images, layers):
    """The textbook way: one multi-output sub-model `keras.Model(model.inputs, [l.output ...])`."""
    extractor = keras.Model(model.inputs, [model.get_layer(name).output for name in layers])
    outputs = extractor.predict(images, verbose=0)
    return dict(zip(layers, outputs if isinstance(outputs, list) else [outputs]))


def test_feature_maps_equal_a_naive_sub_model(tiny_cnn, rng):
    images = rng.random((5, 16, 16, 3)).astype(np.float32)
    names = ["conv1", "pool1", "conv2", "gap", "predictions"]
    state = model_state(tiny_cnn)
    maps = feature_maps(tiny_cnn, images, names, batch_size=2)
    assert list(maps) == names
    expected = reference_maps(tiny_cnn, images, names)
    for name in names:
        assert maps[name].shape == expected[name].shape and maps[name].dtype == np.float32
        np.testing.assert_allclose(maps[name], expected[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps["predictions"].sum(axis=1), 1.0, rtol=1e-5)  # softmax kept
    assert maps["conv1"].shape == (5, 16, 16, 4) and maps["pool1"].shape == (5, 8, 8, 4)
    assert_model_unchanged(tiny_cnn, state)


def test_feature_maps_by_index_object_and_tensor(tiny_cnn, rng):
    images = rng.random((2, 16, 16, 3)).astype(np.float32)
    conv2 = tiny_cnn.get_layer("conv2")
    maps = feature_maps(tiny_cnn, keras.ops.convert_to_tensor(images), [1, conv2])
    assert list(maps) == ["conv1", "conv2"]
    single = feature_maps(tiny_cnn, images, "conv2")
    np.testing.assert_array_equal(single["conv2"], maps["conv2"])


def test_feature_maps_inside_a_nested_model(rng):
    model = nested_tiny()
    inner = model.get_layer("inner")
    images = rng.random((3, 8, 8, 3)).astype(np.float32)
    maps = feature_maps(model, images, ["inner/conv_a", "pool_a", "conv_b"])
    conv_a = keras.Model(inner.inputs, inner.get_layer("conv_a").output).predict(images, verbose=0)
    np.testing.assert_allclose(maps["inner/conv_a"], conv_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps["pool_a"], inner.predict(images, verbose=0), rtol=1e-5, atol=1e-6)
    conv_b = keras.Model(model.inputs, model.get_layer("conv_b").output).predict(images, verbose=0)
    np.testing.assert_allclose(maps["conv_b"], conv_b, rtol=1e-5, atol=1e-6)


def test_feature_maps_use_one_forward_pass_and_never_retrace(tiny_cnn, rng, monkeypatch):
    calls = []
    real_run = engine.run

    def counting_run(model, inputs, target=None, **options):
        calls.append(options)
        return real_run(model, inputs, target, **options)

    monkeypatch.setattr(engine, "run", counting_run)
    images = rng.random((4, 16, 16, 3)).astype(np.float32)
    feature_maps(tiny_cnn, images, ["conv1", "pool1", "conv2"])
    assert len(calls) == 1 and [layer.name for layer in calls[0]["taps"]] == ["conv1", "pool1", "conv2"]
    feature_maps(tiny_cnn, images * 2, ["conv1", "pool1", "conv2"])
    options = {k: v for k, v in calls[0].items() if k not in ("taps", "batch_size")}
    compiled = engine.get_engine(tiny_cnn, calls[0]["taps"], None, **options)
    assert compiled.trace_count == 1  # the second call reused the compiled step


def test_feature_maps_bad_arguments(tiny_cnn, rng):
    images = rng.random((2, 16, 16, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="Did you mean"):
        feature_maps(tiny_cnn, images, ["conv9"])
    with pytest.raises(ValueError, match="non-empty"):
        feature_maps(tiny_cnn, images, [])
    with pytest.raises(ValueError, match="input"):
        feature_maps(tiny_cnn, images, 0)
    with pytest.raises(ValueError, match=r"images\[None\]"):
        feature_maps(tiny_cnn, images[0], "conv1")
    with pytest.raises(ValueError, match=r"\(N, 16, 16, 3\)"):
        feature_maps(tiny_cnn, rng.random((2, 8, 8, 3)), "conv1")
    with pytest.raises(TypeError, match="batch_size"):
        feature_maps(tiny_cnn, images, "conv1", batch_size=1.5)
