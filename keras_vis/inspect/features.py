"""Feature maps: the outputs of chosen layers for a batch of images, from one forward pass."""

import keras

from keras_vis import engine
from keras_vis._checks import check_layer_graph, check_model, check_positive_int, expected
from keras_vis.batches import to_float_batch
from keras_vis.layers import layer_of


def feature_maps(model, images, layers, *, batch_size=32):
    """The activations of one or more layers, all computed in a single batched forward pass.

    Only the layers up to the deepest requested one are run (the classifier head is skipped),
    through the package's compiled engine, which is reused by later calls with the same layers and
    image size. The model is not changed.

    Args:
        model: a built single-input `keras.Model`.
        images: a batch `(N, H, W, C)` (numpy array or tensor) of what the model takes as input,
            i.e. already preprocessed.
        layers: a layer name (or nested path such as `"vgg16/block1_conv1"`), index or layer
            object, or a list of them.
        batch_size: images per compiled call.

    Returns:
        A dict, in the order requested, mapping each requested layer to a float32 numpy array with
        the layer's output shape for the batch: `(N, h, w, c)` for convolution and pooling layers,
        `(N, units)` for dense ones. Keys are the names or paths as given, and the layer name for
        an index or layer object.

    Raises:
        ValueError: for a subclassed model (no readable layer graph), an unknown layer (with the
            closest names), an input layer, or images the model cannot take.
    """
    check_model(model)
    check_layer_graph(model)
    if len(model.inputs) != 1:
        raise ValueError(
            expected("model", "a model with one input", model.name,
                     f"It has {len(model.inputs)} inputs; tap a single-input sub-model instead.")
        )
    specs = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    if not specs:
        raise ValueError(expected("layers", "a layer, or a non-empty list of layers", layers))
    found = [layer_of(model, spec) for spec in specs]
    for spec, layer in zip(specs, found):
        if isinstance(layer, keras.layers.InputLayer):
            raise ValueError(
                expected("layers", "layers after the input", spec,
                         "The input layer's output is the images themselves.")
            )
    batch_size = check_positive_int(batch_size, "batch_size")
    batch = to_float_batch(images, model)
    taps = list({id(layer): layer for layer in found}.values())
    # head="model": a tapped output layer keeps its softmax, as the layer itself computes it.
    result = engine.run(model, batch, None, taps=taps, batch_size=batch_size, head="model",
                        input_grads=False, taps_only=True)
    position = {id(layer): index for index, layer in enumerate(taps)}
    return {
        spec if isinstance(spec, str) else layer.name: result.activations[position[id(layer)]]
        for spec, layer in zip(specs, found)
    }
