"""One contract for every attribution method of the registry: inputs, targets, output shape, dtype
and range, and a model left untouched."""

import numpy as np
import pytest
import tensorflow as tf
from helpers.state import assert_model_unchanged, model_state
from helpers.method_cases import CASES, call

from keras_vis import registry

# Options beyond a method's defaults whose path differs enough to hold to the contract too.
VARIANTS = {
    "scorecam max_maps=2": ("scorecam", {"max_maps": 2}),
    "scorecam fill=0": ("scorecam", {"fill": 0.0}),
    "lrp epsilon_gamma_box": ("lrp", {"composite": "epsilon_gamma_box"}),
    "gradcam aug_smooth": ("gradcam", {"aug_smooth": True}),
    "gradcam eigen_smooth": ("gradcam", {"eigen_smooth": True}),
    "ablationcam all channels": ("ablationcam", {"max_channels": "all"}),
}
CONTRACT = {**{name: (name, {}) for name in CASES}, **VARIANTS}
# Maps that may be all zero for a target with no positive evidence: signed contributions
# (normalised, each is its positive evidence over its maximum), and principal components, which
# are negative everywhere when aligned with mostly negative evidence, so zero once ReLU-ed.
MAY_BE_EMPTY = {"lrp", "deeplift", "gradient_shap", "lrp epsilon_gamma_box", "eigengradcam",
                "gradcam eigen_smooth"}


def check_maps(maps, count):
    assert isinstance(maps, np.ndarray)
    assert maps.shape == (count, 16, 16) and maps.dtype == np.float32
    assert np.all(np.isfinite(maps))
    assert maps.min() >= 0.0 and maps.max() <= 1.0


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract(name, tiny_cnn, rng):
    method, extra = CONTRACT[name]
    spec = CASES[method]
    model = tiny_cnn
    images = rng.random((5, 16, 16, 3), dtype=np.float32)
    before = model_state(model)

    def function(model, images, target, **options):
        return call(spec, model, images, target, **extra, **options)

    batch = function(model, images, [0, 1, 2, 1, 0])
    check_maps(batch, 5)
    peaks = batch.max(axis=(1, 2))
    if name in MAY_BE_EMPTY:
        assert np.all((peaks == 1.0) | (peaks == 0.0)) and np.any(peaks == 1.0)
    else:
        assert np.all(peaks == 1.0)  # every map reaches the top of the range
    tensor = function(model, tf.constant(images), [0, 1, 2, 1, 0])
    np.testing.assert_allclose(tensor, batch, rtol=1e-5, atol=1e-6)
    single = function(model, tf.constant(images[:1]), 0)
    check_maps(single, 1)
    np.testing.assert_allclose(single[0], batch[0], rtol=1e-4, atol=1e-5)
    check_maps(function(model, images[:2], None), 2)
    raw = function(model, images, 2, normalize=False)
    assert raw.shape == (5, 16, 16) and raw.dtype == np.float32 and np.all(np.isfinite(raw))

    score = lambda outputs: outputs[:, 0] - outputs[:, 1]  # noqa: E731
    if method == "cam":
        with pytest.raises(ValueError, match="class"):
            function(model, images, score)
    else:
        check_maps(function(model, images, score), 5)

    assert_model_unchanged(model, before)

