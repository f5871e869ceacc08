"""A public function checks its arguments once; what it calls inside trusts them."""

import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_vis
from keras_vis import _checks, attribution, batches, engine, pixels, targets

CHECKS = {"check_model": _checks.check_model, "to_float_batch": batches.to_float_batch,
          "as_target": targets.as_target}


@pytest.fixture
def counted(monkeypatch):
    """Counts the calls of every check, wherever in the package it was imported."""
    counts = dict.fromkeys(CHECKS, 0)
    for name, check in CHECKS.items():
        def counting(*args, _name=name, _check=check, **kwargs):
            counts[_name] += 1
            return _check(*args, **kwargs)

        for module in [m for n, m in sys.modules.items() if n.startswith("keras_vis")]:
            if getattr(module, name, None) is check:
                monkeypatch.setattr(module, name, counting)
    return counts


CALLS = {
    "gradcam": lambda m, x: attribution.gradcam(m, x),
    "cam scorecam": lambda m, x: attribution.cam(m, x, method="scorecam", max_maps=2),
    "guided_gradcam": lambda m, x: attribution.guided_gradcam(m, x, 1),
    "saliency smoothgrad guided": lambda m, x: attribution.saliency(
        m, x, method="guided", smooth_samples=2, seed=0),
    "integrated_gradients": lambda m, x: attribution.integrated_gradients(m, x, steps=2),
    "occlusion": lambda m, x: attribution.occlusion(m, x, patch=8, stride=8),
    "lrp": lambda m, x: attribution.lrp(m, x),
    "deeplift": lambda m, x: attribution.deeplift(m, x),
    "gradient_shap": lambda m, x: attribution.gradient_shap(m, x, samples=2, seed=0),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_check_runs_once_per_public_call(tiny_cnn, counted, name):
    images = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    CALLS[name](tiny_cnn, images)
    assert counted == dict.fromkeys(CHECKS, 1)


def test_engine_result_has_no_attribute_for_a_missing_key(tiny_cnn):
    images = np.zeros((1, 16, 16, 3), np.float32)
    result = engine.run(tiny_cnn, images, targets.Class(0), input_grads=False)
    assert hasattr(result, "scores") and not hasattr(result, "input_grads")
    with pytest.raises(AttributeError, match="no 'input_grads'.*'outputs'"):
        result.input_grads


COMPLEX_IMAGES = np.full((1, 16, 16, 3), 0.5 + 0.5j)

COMPLEX_CALLS = {
    "saliency": lambda m: keras_vis.saliency(m, COMPLEX_IMAGES, 0),
    "gradcam": lambda m: keras_vis.gradcam(m, COMPLEX_IMAGES, 0),
    "occlusion": lambda m: keras_vis.occlusion(m, COMPLEX_IMAGES, 0, patch=8),
    "lrp": lambda m: keras_vis.lrp(m, COMPLEX_IMAGES, 0),
    "deletion": lambda m: keras_vis.deletion(m, COMPLEX_IMAGES, np.ones((1, 16, 16)), 0),
    "feature_maps": lambda m: keras_vis.feature_maps(m, COMPLEX_IMAGES, "conv2"),
    "deconvnet": lambda m: keras_vis.deconvnet(m, COMPLEX_IMAGES, "conv2"),
    "top_activations": lambda m: keras_vis.top_activations(m, COMPLEX_IMAGES, "conv2"),
    "tensor": lambda m: keras_vis.saliency(m, tf.constant(COMPLEX_IMAGES), 0),
    "plot.feature_maps": lambda m: keras_vis.plot.feature_maps(m, COMPLEX_IMAGES[0], ["conv2"]),
    "plot.overlay image": lambda m: keras_vis.plot.overlay(COMPLEX_IMAGES[0], np.ones((16, 16))),
    "plot.overlay heatmap": lambda m: keras_vis.plot.overlay(np.zeros((16, 16, 3)),
                                                             COMPLEX_IMAGES[0, ..., 0]),
    "plot.grid": lambda m: keras_vis.plot.grid(COMPLEX_IMAGES),
    "save_image": lambda m, folder: keras_vis.save_image(folder / "x.png", COMPLEX_IMAGES[0]),
    "deletion maps": lambda m: keras_vis.deletion(m, np.zeros((1, 16, 16, 3)),
                                                  COMPLEX_IMAGES[..., 0], 0),
    "pointing_game maps": lambda m: keras_vis.pointing_game(COMPLEX_IMAGES[..., 0],
                                                            np.ones((1, 16, 16), bool)),
    "pixels.to_uint8": lambda m: pixels.to_uint8(COMPLEX_IMAGES[0]),
}


@pytest.mark.parametrize("name", list(COMPLEX_CALLS))
def test_complex_images_are_refused_with_a_clear_error(tiny_cnn, tmp_path, name, recwarn):
    """NumPy would drop the imaginary part with a mere warning; the call is refused instead."""
    call = COMPLEX_CALLS[name]
    with pytest.raises(TypeError, match="complex") as raised:
        call(tiny_cnn, tmp_path) if name == "save_image" else call(tiny_cnn)
    assert "real" in str(raised.value)
    assert not [w for w in recwarn if "imaginary" in str(w.message)]
    assert list(tmp_path.iterdir()) == []


def test_the_package_namespace_is_its_public_names_only():
    """`import keras_vis` exposes `__all__` (and dunder names), no module it uses itself."""
    import types

    public = {name for name in dir(keras_vis) if not name.startswith("__")}
    assert public == set(keras_vis.__all__)
    assert not hasattr(keras_vis, "importlib")
    modules = {name for name in public if isinstance(getattr(keras_vis, name), types.ModuleType)}
    assert all(getattr(keras_vis, name).__name__.startswith("keras_vis.") for name in modules)
