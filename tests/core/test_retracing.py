"""Many techniques in one session trace each compiled step once per input signature, and never
set off TensorFlow's retracing warning (which the user would read as a performance bug)."""

import numpy as np

import keras_vis
from keras_vis import registry, steps


def _techniques(model, images):
    for method in ("vanilla", "guided", "deconvnet"):
        keras_vis.saliency(model, images, method=method)
        keras_vis.saliency(model, images[:1], method=method, smooth_samples=2)
    for method in (spec.name for spec in registry.cam_variants()):
        keras_vis.cam(model, images, method=method)
    keras_vis.integrated_gradients(model, images, steps=4)
    keras_vis.gradient_shap(model, images, samples=2)
    keras_vis.lrp(model, images)
    keras_vis.deeplift(model, images)
    keras_vis.guided_gradcam(model, images)
    keras_vis.occlusion(model, images[:1], patch=8, stride=8)
    keras_vis.feature_maps(model, images, ["conv1", "conv2"])
    keras_vis.deconvnet(model, images, "conv2")
    keras_vis.metrics.deletion(model, images, keras_vis.gradcam(model, images), steps=4)
    keras_vis.maximize(model, keras_vis.Channel("conv2", 0), steps=2, progress=False)


def test_retracing_warnings_after_a_handful_of_techniques(tiny_cnn, rng, tensorflow_warnings):
    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    _techniques(tiny_cnn, images)
    traced = steps.trace_count(tiny_cnn)
    _techniques(tiny_cnn, images)  # the same calls again, with the same shapes
    assert steps.trace_count(tiny_cnn) == traced
    assert not [m for m in tensorflow_warnings if "retracing" in m]


def test_threads_making_their_first_calls_together_trace_once(tiny_cnn, rng, tensorflow_warnings):
    """Five threads explaining with a fresh model at once: the first call traces the shared step,
    the others wait for it, and TensorFlow has no retracing to warn of."""
    import threading

    images = rng.random((2, 16, 16, 3), dtype=np.float32)
    failures = []
    barrier = threading.Barrier(5)

    def explain():
        try:
            barrier.wait()
            keras_vis.gradcam(tiny_cnn, images)
        except Exception as error:  # reported below, on the main thread
            failures.append(error)

    threads = [threading.Thread(target=explain) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert steps.trace_count(tiny_cnn) == 1
    assert not [m for m in tensorflow_warnings if "retracing" in m]
