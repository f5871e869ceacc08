"""Which layers a report shows when the user names none, chosen from the model's structure."""

from keras_vis.layers import convolutions, default_cam_layer, layer_of, spatial_layers


def conv2d_layers(model):
    """The 2D convolutions of `model` (nested ones included) whose kernels can be drawn."""
    return [layer for layer in convolutions(model) if len(getattr(layer, "kernel_size", ())) == 2]


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
    return [layer_of(model, name) for name in names]


def filter_layers(model, names=None):
    """Layers whose kernels are drawn: `names`, or the first two 2D convolutions."""
    return named(model, names) if names else conv2d_layers(model)[:2]


def feature_layers(model, names=None, count=4):
    """Layers whose feature maps are drawn: `names`, or `count` convolutions spread over depth."""
    if names:
        return named(model, names)
    spatial = {id(layer) for layer in spatial_layers(model)}
    return spread([layer for layer in convolutions(model) if id(layer) in spatial], count)


def deconv_layers(model, names=None):
    """Layers the deconvnet projects from: `names`, or a middle convolution and the last one."""
    if names:
        return named(model, names)
    last = default_cam_layer(model)
    others = [layer for layer in conv2d_layers(model) if layer is not last]
    middle = others[len(others) // 2] if others else None
    return [layer for layer in (middle, last) if layer is not None]


def check_named(model, settings):
    """Raises `ValueError` (with suggestions) for a layer the settings name that `model` lacks:
    before any work, not as a note on a panel drawn without it."""
    for name in ("filter_layers", "feature_layers", "deconv_layers"):
        named(model, getattr(settings, name) or ())
    named(model, [name for name in (settings.maximize_layer, settings.cam_layer) if name])
