"""What a visualization must leave untouched in a model, and the raw gradient tests derive by hand."""

import numpy as np


def model_state(model):
    """Everything a visualization must leave untouched: weights, activations, trainable flags, layers."""
    from keras_vis.layers import iter_layers

    return {
        "weights": [w.copy() for w in model.get_weights()],
        "layers": [
            (id(layer), layer.name, layer.trainable, getattr(layer, "activation", None))
            for layer in iter_layers(model)
        ],
        "trainable": model.trainable,
    }


def assert_model_unchanged(model, before):
    after = model_state(model)
    assert after["layers"] == before["layers"]
    assert after["trainable"] == before["trainable"]
    assert len(after["weights"]) == len(before["weights"])
    for a, b in zip(after["weights"], before["weights"]):
        np.testing.assert_array_equal(a, b)


def signed_gradient(model, images, target, **options):
    """The raw input gradient of the target summed over the colour axis: `saliency` with nothing
    taken away, to compare with a hand-derived gradient."""
    import keras_vis

    return keras_vis.saliency(model, images, target, method="vanilla", reduce="sum",
                              normalize=False, **options)
