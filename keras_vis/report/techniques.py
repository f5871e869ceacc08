"""Each technique run on a `Subject`, its results turned into captioned `Picture`s.

The command line writes these pictures as PNG files; the report embeds them in one page. Every
technique runs batched over all images at once.
"""

import numpy as np

from keras_vis import blank, plot, registry
from keras_vis.attribution import occlusion, occlusion_mask
from keras_vis.attribution.occlusion import default_patch, default_stride
from keras_vis.deconv import deconvnet
from keras_vis.inspect import feature_maps
from keras_vis.layers import default_cam_layer
from keras_vis.maximization import class_visualization, maximize, objectives
from keras_vis.progress import silenced
from keras_vis.report import layers as choose
from keras_vis.report.methods import BY_NAME, METHODS, compute
from keras_vis.report.pictures import Picture, enlarge, rgb, sentence_tile
from keras_vis._checks import NotApplicable, error_gist, expected


def display(subject, settings, index):
    """Image `index` as the pictures show it: RGB, enlarged to the display size."""
    return enlarge(rgb(subject.images[index]), settings.display_size)


def input_picture(subject, settings, index):
    """The image itself, captioned with the model's top classes."""
    percent = subject.outputs_are_probabilities
    top = ", ".join(f"{name} {value:.0%}" if percent else f"{name} ({value:.3g})"
                    for name, value in subject.top_classes(index))
    return Picture("input", "Input", display(subject, settings, index),
                   "The image and the model's top three classes.", index, top)


def overview(subject, settings, pictures, images=None, *, tile_size=2.0):
    """One figure, a row per image: the input, then every picture drawn for it, titled.

    Args:
        subject: the `Subject`.
        settings: the `Settings`.
        pictures: per-image `Picture`s holding arrays (such as `attribution_pictures` returns).
        images: indices of the images to show; default all.
        tile_size: width of a tile in inches.
    """
    rows = range(len(subject.images)) if images is None else images
    tiles = []
    for index in rows:
        tiles.append(input_picture(subject, settings, index))
        tiles += [p for p in pictures if p.image == index]
    cols = len(tiles) // len(rows)
    # Long titles go on two lines, so they fit over a narrow tile.
    titles = [p.title.replace(" ", "\n", 1) if len(p.title) > 14 else p.title for p in tiles]
    return plot.grid([p.content for p in tiles], cols=cols, titles=titles, tile_size=tile_size)


def filter_pictures(subject, settings):
    """Kernels of the chosen convolutions: colour tiles for the first RGB layer, grey grids else."""
    return [
        Picture(
            layer.name, f"Filters of {layer.name}",
            plot.filters(subject.model, layer, max_filters=settings.max_filters),
            "Each tile is one filter, rescaled to its own range.")
        for layer in choose.filter_layers(subject.model, settings.filter_layers)
    ]


def feature_pictures(subject, settings):
    """For each image, the first feature maps of the chosen layers, one row per layer."""
    layers = choose.feature_layers(subject.model, settings.feature_layers)
    maps = feature_maps(subject.model, subject.inputs, layers, batch_size=settings.batch_size)
    pictures = []
    for index, name in enumerate(subject.names):
        tiles, titles = [], []
        for layer_name, values in maps.items():
            count = min(values.shape[-1], settings.feature_channels)
            tiles += [values[index, ..., k] for k in range(count)]
            titles += [f"{layer_name} · {k}" if k == 0 else str(k) for k in range(count)]
            blank = np.full(values.shape[1:3], np.nan, np.float32)  # drawn white
            tiles += [blank] * (settings.feature_channels - count)
            titles += [""] * (settings.feature_channels - count)
        figure = plot.grid(tiles, cols=settings.feature_channels, titles=titles, tile_size=1.1)
        pictures.append(Picture(
            "", f"Feature maps of {name}", figure,
            "Rows: layers from the input up; tiles: the first channels, each scaled to its own "
            "range (bright = strong).", index))
    return pictures


def render_options(subject, settings):
    """The `maximize` options that render images the subject's model sees as its pictures."""
    # Rendered images live in [0, 1]; the model sees them as 0–255 pictures, preprocessed.
    return {"value_range": (0, 255), "preprocess": subject.preprocess, "seed": settings.seed,
            "progress": settings.progress}


def active_channels(subject, layer, count, batch_size):
    """The `count` channels of `layer` with the highest mean activation on the images, in channel
    order: channels that respond to these images, rather than the first ones, which may be dead."""
    values = next(iter(feature_maps(subject.model, subject.inputs, [layer],
                                    batch_size=batch_size).values()))
    strength = values.reshape(-1, values.shape[-1]).mean(axis=0)
    return np.sort(np.argsort(-strength, kind="stable")[:count])


def maximization_pictures(subject, settings, classes=None):
    """Images that excite channels of a layer most (those most active on the images), and images
    the model scores as its classes (`classes`: the classes to draw; default the predicted ones,
    then the others)."""
    model = subject.model
    layer = choose.named(model, [settings.maximize_layer])[0] if settings.maximize_layer else (
        default_cam_layer(model))
    channels = active_channels(subject, layer, settings.maximize_filters, settings.batch_size)
    height = model.inputs[0].shape[1] or 128
    size = settings.maximize_size or min(height, 128)
    options = render_options(subject, settings)
    images = maximize(model, objectives.channel(layer, channels.tolist()), size=size,
                      steps=settings.maximize_steps, **options)
    grid = plot.grid(images, cols=min(8, len(images)), titles=[str(k) for k in channels],
                     tile_size=1.3, suptitle=f"{layer.name}: the {len(images)} channels most "
                                             "active on the images")
    pictures = [Picture(
        f"channels_{layer.name}", f"Channels of {layer.name}", grid,
        f"Each image is optimized from noise to maximize one channel's mean activation "
        f"({settings.maximize_steps} Adam steps); the channels are those most active on the "
        "images.")]
    if settings.class_steps:
        if classes is None:
            classes = class_order(subject)[:settings.max_classes]
        rendered = class_visualization(model, list(classes), steps=settings.class_steps, **options)
        for class_index, image in zip(classes, rendered):
            name = subject.class_name(class_index)
            key = name if subject.class_names else str(class_index)
            pictures.append(Picture(
                f"class_{key}", f"Class “{name}”", enlarge(rgb(image), settings.display_size),
                f"An image optimized to maximize the logit of class {class_index}."))
    return pictures


def atlas_picture(atlas):
    """An activation atlas drawn with its class labels."""
    return Picture(f"atlas_{atlas.layer}", f"Activation atlas of {atlas.layer}", plot.atlas(atlas),
                   f"{len(atlas.cells)} cells of a {atlas.grid}×{atlas.grid} grid, each with at "
                   "least its minimum of vectors; the frame's opacity is the share of the "
                   "cell's most frequent class.")


def class_order(subject):
    """Classes to draw first: those predicted for the images, then the rest in index order."""
    predicted = list(dict.fromkeys(int(c) for c in subject.predicted))
    return predicted + [c for c in range(subject.class_count) if c not in predicted]


def attribution_pictures(subject, settings, target=None, names=None):
    """Attribution maps of the chosen methods for every image.

    Args:
        subject: the `Subject`.
        settings: the `Settings`.
        target: `None` (each image's predicted class) or a class index.
        names: method names (see `keras_vis.report.methods.METHODS`, from `keras_vis.registry`);
            default all.

    Returns:
        `(pictures, skipped)`: the pictures (one per method and image) and a list of
        `(method title, reason)` for methods that cannot run on this model (`NotApplicable`: a
        layer no relevance rule covers, no rectifier to guide) or failed on it.
    """
    chosen = [BY_NAME[name] for name in names] if names else list(METHODS)
    pictures, skipped = [], []
    for method in chosen:
        reason = method.why_unavailable(subject, settings)
        if reason:
            skipped.append((method.title, reason))
            continue
        with silenced(not settings.progress), blank.collected() as blanks:
            maps, missed = attempt(method.title,
                                   lambda: compute(method, subject, target, settings))
        if missed:
            skipped.append(missed)
            continue
        for index in range(len(subject.images)):
            reason = blanks.get(index, "")
            drawn = draw_map(subject, settings, index, method, maps[index], reason)
            pictures.append(Picture(method.name, method.title, drawn, method.caption, index,
                                    reason))
    return pictures, skipped


def attempt(title, draw):
    """`(draw(), None)`, or `(None, (title, why))` when the technique cannot run on this model
    (see `cannot_run`): one technique that cannot run costs its own pictures, never the others'.
    A bad option still raises."""
    try:
        return draw(), None
    except Exception as error:
        if not cannot_run(error):
            raise
        return None, (title, failure(error))


def blank_picture(subject, settings, index, reason):
    """The image dimmed, with the first sentence of why its map is blank written over it."""
    return sentence_tile(display(subject, settings, index), blank.headline(reason))


def cannot_run(error):
    """Whether `error` says a technique cannot run on this model (`NotApplicable`, or a failure
    inside the computation), rather than that an option is wrong (any other `ValueError` or
    `TypeError`, which the user must hear about)."""
    return isinstance(error, NotApplicable) or not isinstance(error, (ValueError, TypeError))


def failure(error):
    """Why a technique drew nothing, in one sentence: a `NotApplicable`'s whole message (it says
    what to do), the first line of any other error."""
    return str(error) if isinstance(error, NotApplicable) else (
        f"{type(error).__name__}: {error_gist(error)}")


def draw_map(subject, settings, index, method, heatmap, blank_reason=""):
    """The map of `method` (a `MethodSpec`) for image `index`, drawn as its `drawing` says: over
    the enlarged image, or on its own; a signed map comes centred (zero at 0.5), drawn as it is.
    A map with a `blank_reason` (a `BlankMapWarning`'s) is drawn as that sentence instead."""
    if blank_reason:
        return blank_picture(subject, settings, index, blank_reason)
    return plot.overlay(display(subject, settings, index), heatmap, cmap=method.drawing.cmap,
                        alpha=method.drawing.alpha, normalize=not method.drawing.signed)


# The pictures of the methods families draw apart (`keras_vis.registry.Family.apart`), by name.
_APART = {"occlusion": lambda subject, settings, target: occlusion_pictures(subject, settings,
                                                                            target)}


def family_pictures(subject, settings, target, family, names=None):
    """The pictures of one `keras_vis.registry` family, `(pictures, skipped)` as in
    `attribution_pictures`: those of the method it draws apart (occlusion's heatmaps and masks),
    then those of its drawn methods.

    Args:
        subject, settings, target: as in `attribution_pictures`.
        family: the family's name.
        names: the methods to draw (`keras_vis.registry.choices` of the family); default all.
    """
    spec = next(f for f in registry.FAMILIES if f.name == family)
    names = list(registry.choices(spec) if names is None else names)
    pictures, skipped = [], []
    if spec.apart and spec.apart in names:
        found, missed = attempt(registry.find(spec.apart).title,
                                lambda: _APART[spec.apart](subject, settings, target))
        pictures, skipped = ([], [missed]) if missed else (found, [])
    drawn = [name for name in names if name != spec.apart]
    if not drawn:
        return pictures, skipped
    more, missed = attribution_pictures(subject, settings, target, drawn)
    return pictures + more, skipped + missed


def occlusion_patch(subject, settings):
    """`(patch, stride)`: the settings', or an eighth of the image and half of that.

    Raises:
        ValueError: for a patch the settings name that is larger than the images.
    """
    height, width = subject.images.shape[1:3]
    if settings.occlusion_patch is not None and settings.occlusion_patch > min(height, width):
        raise ValueError(expected(
            "occlusion_patch", f"at most {min(height, width)}, the images' shorter side",
            settings.occlusion_patch, f"The images are {height}×{width} as the model sees them."))
    patch = settings.occlusion_patch or default_patch(height, width)
    stride = settings.occlusion_stride or default_stride(patch)
    return patch, stride


def check(subject, settings):
    """Raises `ValueError` for settings that cannot apply to the subject (a layer its model lacks,
    an occlusion patch larger than its images): before any technique runs."""
    choose.check_named(subject.model, settings)
    occlusion_patch(subject, settings)


def occlusion_pictures(subject, settings, target=None):
    """The drop of the class probability as a grey patch slides over each image, and the image
    seen through the regions whose occlusion matters; a picture with nothing to show says why."""
    patch, stride = occlusion_patch(subject, settings)
    with blank.collected() as flat:
        heatmaps = occlusion(subject.model, subject.inputs, target, patch=patch, stride=stride,
                             fill=subject.grey_input, batch_size=max(settings.batch_size, 64),
                             approximate=settings.occlusion_approximate,
                             progress=settings.progress)
    with blank.collected() as unmasked:
        masks = occlusion_mask(heatmaps, settings.occlusion_threshold)
    pictures = []
    for index in range(len(subject.images)):
        image = display(subject, settings, index)
        mask = enlarge(masks[index].astype(np.uint8), settings.display_size).astype(bool)
        heatmap_reason = flat.get(index, "")
        mask_reason = heatmap_reason or unmasked.get(index, "")
        pictures.append(Picture(
            "heatmap", "Occlusion",
            blank_picture(subject, settings, index, heatmap_reason) if heatmap_reason else
            plot.overlay(image, 1.0 - heatmaps[index], cmap=registry.OVER_IMAGE.cmap,
                         alpha=registry.OVER_IMAGE.alpha),
            f"Red: hiding a {patch}×{patch} grey patch here (stride {stride}) lowers the class "
            "probability most.", index, heatmap_reason))
        pictures.append(Picture(
            "mask", "Occlusion mask",
            blank_picture(subject, settings, index, mask_reason) if mask_reason else
            np.where(mask[..., None], image, image // 4),
            f"The image where occlusion drops the probability below "
            f"{settings.occlusion_threshold:.0%} of its maximum; the rest dimmed.", index,
            mask_reason))
    return pictures


def deconv_pictures(subject, settings):
    """Zeiler–Fergus projections of the strongest activation of the chosen layers, per image."""
    pictures = []
    for layer in choose.deconv_layers(subject.model, settings.deconv_layers):
        result = deconvnet(subject.model, subject.inputs, layer, batch_size=settings.batch_size)
        for index, title in enumerate(result.titles):
            pictures.append(Picture(
                layer.name, f"Deconvnet {layer.name}",
                enlarge(rgb(result.display[index]), settings.display_size),
                f"The strongest activation of {layer.name} (channel @ (y, x): value) projected "
                "back to pixels.", index, title))
    return pictures
