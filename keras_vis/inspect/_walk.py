"""Walking a model's layers with the path names the inspect functions use as keys."""

from keras_vis._checks import check_model
from keras_vis.layers import graph_nodes, is_model


def walk(model, *, expand_nested=True, operations=False):
    """Yields `(path, depth, layer)` for every layer of `model` in graph order.

    A top-level layer's path is its name; a layer inside a nested model is written
    `"outer/inner"` (`"vgg16/block1_conv1"`), the form `keras_vis.find_layer` also accepts. A nested
    model comes before its own layers, with the depth of its parent's layers. With `operations`,
    the operation nodes of functional models (`x + 1.0`) come in their place too.
    """
    check_model(model)
    yield from _walk(model, "", 0, expand_nested, operations)


def _walk(model, prefix, depth, expand_nested, operations):
    for layer in graph_nodes(model) if operations else model.layers:
        path = prefix + layer.name
        yield path, depth, layer
        if expand_nested and is_model(layer):
            yield from _walk(layer, path + "/", depth + 1, expand_nested, operations)
