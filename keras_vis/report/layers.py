"""Which layers a report shows when the user names none, chosen from the model's structure."""

from keras_vis.layers import conv_layers, find_layer, last_conv_layer, spatial_layers


def conv2d_layers(model):
    """The 2D convolutions of `model` (nested ones included) whose kernels can be drawn."""
    return [layer for layer in conv_layers(model) if len(getattr(layer, "kernel_size", ())) == 2]


def spread(items, count):
    """At most `count` items of a list, evenly spread from the first to the last."""
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[-1]]
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def named(model, names):
    """The layers for a list of names, checked (unknown names raise with suggestions)."""
    return [find_layer(model, name) for name in names]


def filter_layers(model, names=None):
    """Layers whose kernels are drawn: `names`, or the first two 2D convolutions."""
    return named(model, names) if names else conv2d_layers(model)[:2]


def feature_layers(model, names=None, count=4):
    """Layers whose feature maps are drawn: `names`, or `count` convolutions spread over depth."""
    if names:
        return named(model, names)
    spatial = {id(layer) for layer in spatial_layers(model)}
    convolutions = [layer for layer in conv_layers(model) if id(layer) in spatial]
    return spread(convolutions, count)


def deconv_layers(model, names=None):
    """Layers the deconvnet projects from: `names`, or a middle convolution and the last one."""
    if names:
        return named(model, names)
    last = last_conv_layer(model)
    convolutions = [layer for layer in conv2d_layers(model) if layer is not last]
    middle = convolutions[len(convolutions) // 2] if convolutions else None
    return [layer for layer in (middle, last) if layer is not None]
