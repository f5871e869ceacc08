"""One contract for every attribution method: inputs, targets, output shape, dtype and range, and a
model left untouched."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_model_unchanged, model_state

from keras_vis.attribution import (
    cam,
    deeplift,
    gradient_input,
    gradient_shap,
    guided_gradcam,
    integrated_gradients,
    lrp,
    occlusion,
    saliency,
)

METHODS = {
    "saliency": (saliency, {}),
    "guided": (saliency, {"method": "guided"}),
    "deconvnet": (saliency, {"method": "deconvnet"}),
    "smoothgrad": (saliency, {"smooth_samples": 3, "seed": 0}),
    "gradient_input": (gradient_input, {}),
    "integrated_gradients": (integrated_gradients, {"steps": 4}),
    "gradcam": (cam, {"method": "gradcam"}),
    "gradcam++": (cam, {"method": "gradcam++"}),
    "layercam": (cam, {"method": "layercam"}),
    "hirescam": (cam, {"method": "hirescam"}),
    "scorecam": (cam, {"method": "scorecam"}),
    "faster-scorecam": (cam, {"method": "scorecam", "max_maps": 2}),
    "cam": (cam, {"method": "cam"}),
    "guided_gradcam": (guided_gradcam, {}),
    "occlusion": (occlusion, {"patch": 4, "stride": 4}),
    "lrp": (lrp, {}),
    "lrp epsilon_gamma_box": (lrp, {"composite": "epsilon_gamma_box"}),
    "deeplift": (deeplift, {"baseline": 0.5}),
    "gradient_shap": (gradient_shap, {"samples": 3, "seed": 0}),
}
# Signed contributions: normalised, each map is its positive evidence over its maximum, so a
# target without positive evidence has an all-zero map.
EVIDENCE = {"lrp", "lrp epsilon_gamma_box", "deeplift", "gradient_shap"}


def check_maps(maps, count):
    assert isinstance(maps, np.ndarray)
    assert maps.shape == (count, 16, 16) and maps.dtype == np.float32
    assert np.all(np.isfinite(maps))
    assert maps.min() >= 0.0 and maps.max() <= 1.0


@pytest.mark.parametrize("name", sorted(METHODS))
def test_contract(name, tiny_cnn, rng):
    function, options = METHODS[name]
    model = tiny_cnn
    images = rng.random((5, 16, 16, 3), dtype=np.float32)
    before = model_state(model)

    batch = function(model, images, [0, 1, 2, 1, 0], **options)
    check_maps(batch, 5)
    peaks = batch.max(axis=(1, 2))
    if name in EVIDENCE:
        assert np.all((peaks == 1.0) | (peaks == 0.0)) and np.any(peaks == 1.0)
    else:
        assert np.all(peaks == 1.0)  # every map reaches the top of the range
    tensor = function(model, tf.constant(images), [0, 1, 2, 1, 0], **options)
    np.testing.assert_allclose(tensor, batch, rtol=1e-5, atol=1e-6)
    single = function(model, tf.constant(images[:1]), 0, **options)
    check_maps(single, 1)
    np.testing.assert_allclose(single[0], batch[0], rtol=1e-4, atol=1e-5)
    check_maps(function(model, images[:2], None, **options), 2)
    raw = function(model, images, 2, normalize=False, **options)
    assert raw.shape == (5, 16, 16) and raw.dtype == np.float32 and np.all(np.isfinite(raw))

    score = lambda outputs: outputs[:, 0] - outputs[:, 1]  # noqa: E731
    if name == "cam":
        with pytest.raises(ValueError, match="class"):
            function(model, images, score, **options)
    else:
        check_maps(function(model, images, score, **options), 5)

    assert_model_unchanged(model, before)
