"""The edges of the public API: an output named instead of numbered, the object `load_model`
returns passed whole, the report module reached from the package."""

import keras
import numpy as np
import pytest

import keras_vis


def test_a_class_of_a_named_output():
    inputs = keras.Input((8, 8, 3))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(3, activation="softmax", name="kind")(flat),
                                 keras.layers.Dense(1, activation="sigmoid", name="flag")(flat)])
    x = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    np.testing.assert_array_equal(keras_vis.saliency(model, x, keras_vis.Class(0, output="flag")),
                                  keras_vis.saliency(model, x, keras_vis.Class(0, output=1)))
    with pytest.raises(ValueError, match="Did you mean: 'flag'"):
        keras_vis.saliency(model, x, keras_vis.Class(0, output="flags"))


def test_a_loaded_model_passed_whole_says_to_pass_its_model(tmp_path):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    model.save(tmp_path / "m.keras")
    loaded = keras_vis.load_model(tmp_path / "m.keras")
    with pytest.raises(TypeError, match="pass `loaded.model`"):
        keras_vis.gradcam(loaded, np.zeros((1, 8, 8, 3), np.float32))


def test_the_report_is_reachable_from_the_package(monkeypatch):
    # As right after `import keras_vis`: the attribute is not bound until first asked for.
    monkeypatch.delattr(keras_vis, "report", raising=False)
    assert keras_vis.report.report.__module__ == "keras_vis.report"
    assert issubclass(keras_vis.NotApplicable, ValueError)
    assert issubclass(keras_vis.BlankMapWarning, UserWarning)
