"""A public function checks its arguments once; what it calls inside trusts them."""

import sys

import numpy as np
import pytest

from keras_vis import _checks, attribution, engine, targets

CHECKS = {"check_model": _checks.check_model, "to_float_batch": _checks.to_float_batch,
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
