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


def test_the_report_is_reachable_from_the_package():
    import subprocess
    import sys

    code = ("import keras_vis; print(keras_vis.report.report.__module__); "
            "print(keras_vis.NotApplicable.__mro__[1].__name__)")
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
    assert printed == ["keras_vis.report", "ValueError"]
