"""keras_vis: see inside convolutional networks built with Keras 3.

    >>> import keras_vis
    >>> model = keras_vis.demo.load_model()
    >>> images = keras_vis.demo.sample_batch()
    >>> print(keras_vis.summary(model))
    >>> maps = keras_vis.gradcam(model, images)            # (N, H, W) in [0, 1]
    >>> picture = keras_vis.plot.overlay(images[0] / 255, maps[0])  # an image in [0, 1]

Functions take `(model, images, target=None, *, options)`; `target` is `None` (the predicted class),
a class index, one index per image, a callable on the model output, or a `Class`, `Region`,
`Channel` or `Neuron` object. The user's model is never modified.

`keras_vis.maximize` is the activation-maximization function; its objectives are in
`keras_vis.objectives` and the rest of its machinery (its step callbacks included) in
`keras_vis.maximization`. `keras_vis.callbacks` holds the Keras training callbacks that log
explanations to TensorBoard while a model trains. `keras_vis.serve(model)` starts the explorer,
an interactive page in the browser over all of these.

Names are imported on first use, so `import keras_vis` (and the `keras-vis` command's `--help`)
does not pay for importing TensorFlow until a technique is called. Importing the package changes
nothing of the process; the `keras-vis` command keeps the log lines of TensorFlow's C++ libraries
(oneDNN, CPU instructions, CUDA libraries) off stderr (`--verbose` shows them).
"""

import importlib as _importlib

from keras_vis import registry as _registry

__version__ = "0.1.0"

_FUNCTIONS = {
    "keras_vis._checks": ("NotApplicable",),
    "keras_vis.blank": ("BlankMapWarning",),
    "keras_vis.atlas": ("Atlas", "activation_atlas"),
    "keras_vis.attribution": (
        "apply_mask", "cam", "deeplift", "gradcam", "gradient_input", "gradient_shap",
        "guided_gradcam", "integrated_gradients", "lrp", "occlusion", "occlusion_mask", "rise",
        "saliency",
    ),
    "keras_vis.dataset": ("dataset_summary", "explain_dataset", "load_maps"),
    "keras_vis.deconv": ("deconvnet", "receptive_field", "top_activations"),
    "keras_vis.explorer": ("serve",),
    "keras_vis.inspect": (
        "feature_maps", "filter_weights", "layer_configs", "layer_weights", "summary",
    ),
    "keras_vis.io": ("load_image", "load_model", "save_image"),
    "keras_vis.layers": ("conv_layers", "find_layer", "last_conv_layer"),
    "keras_vis.maximization": (
        "class_visualization", "deprocess", "filter_visualization", "invert", "maximize",
        "multiscale_visualization",
    ),
    # Every metric of the registry, by its name.
    "keras_vis.metrics": tuple(spec.name for spec in _registry.METRICS),
    "keras_vis.objectives": ("Channel", "Neuron"),
    "keras_vis.targets": ("Class", "Region"),
}
_MODULES = {
    "callbacks": "keras_vis.callbacks",
    "datasets": "keras_vis.datasets",
    "demo": "keras_vis.demo",
    "io": "keras_vis.io",
    "metrics": "keras_vis.metrics",
    "objectives": "keras_vis.objectives",
    "plot": "keras_vis.plot",
    "report": "keras_vis.report",
    "rules": "keras_vis.rules",
}
_HOME = {name: module for module, names in _FUNCTIONS.items() for name in names}

__all__ = sorted([*_HOME, *_MODULES])


def __getattr__(name):
    if name in _MODULES:
        value = _importlib.import_module(_MODULES[name])
    elif name in _HOME:
        value = getattr(_importlib.import_module(_HOME[name]), name)
    else:
        raise AttributeError(f"module 'keras_vis' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    # The public names only: not the private helpers, nor the submodules bound here once imported.
    return sorted({name for name in globals() if name.startswith("__")} | set(__all__))
