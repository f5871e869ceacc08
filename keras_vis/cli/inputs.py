"""Turning command-line options into a model, images, a target and settings, checking them all
before anything runs, so a bad option fails fast and nothing is written."""

import dataclasses
import difflib
import os
import pathlib
import sys

import numpy as np

from keras_vis import demo, io, registry
from keras_vis.demo import atlas as demo_atlas
from keras_vis._checks import NotApplicable, expected
from keras_vis.batches import check_channels_last
from keras_vis.layers import convolutions_2d, find_layer, output_shape, spatial_layers
from keras_vis.report.settings import Settings
from keras_vis.report.subject import make_subject

DEMO = "demo"


def to_unit(pictures):
    """Pictures with values 0–255 scaled to [0, 1]."""
    return pictures / 255.0


def to_symmetric(pictures):
    """Pictures with values 0–255 scaled to [-1, 1]."""
    return pictures / 127.5 - 1.0


# `--preprocess` names that are not applications: pictures with values 0–255 to model inputs
# (named functions, so a resumed `explain-dataset` can tell them apart).
SCALINGS = {"raw": io.no_preprocessing, "unit": to_unit, "symmetric": to_symmetric}
# Which settings field `--layer` sets, for each command, and whether it takes several layers.
LAYER_OPTION = {
    "filters": ("filter_layers", True),
    "features": ("feature_layers", True),
    "maximize": ("maximize_layer", False),
    "cam": ("cam_layer", False),
    "deconv": ("deconv_layers", True),
    "report": (("cam_layer", "maximize_layer", "deconv_layers"), False),
    "evaluate": ("cam_layer", False),
}
# `--out` names a folder: one ending like a file keras-vis writes was most likely meant as a file.
FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".html", ".htm", ".txt", ".json")


def warn(message):
    print(f"keras-vis: warning: {message}", file=sys.stderr)


def load_model(args):
    """`(model, preprocess, name, class_names)` for `--model`, `--weights`, `--unsafe`,
    `--preprocess` and `--class-names`; the options that need no model are checked first."""
    preprocess = None if args.preprocess is None else preprocessing(args.preprocess)
    class_names = None if args.class_names is None else read_class_names(args.class_names)
    if args.model in (None, DEMO):
        model, default, name = demo.load_model(), io.no_preprocessing, "demo"
        class_names = class_names or tuple(demo.CLASS_NAMES)
    else:
        check_weights(args.weights)
        if args.unsafe:
            warn(f"loading '{args.model}' with safe mode off: any Python code it holds will run. "
                 "Only do this for files you trust.")
        loaded = io.load_model(args.model, weights=args.weights, safe_mode=not args.unsafe)
        model, default, name = loaded.model, loaded.preprocess, loaded.name
    return model, preprocess or default, name, class_names


def check_weights(text):
    """Raises `ValueError` unless `--weights` is `imagenet`, `none` or a `.weights.h5` path (whether
    that file exists is for the model loader to say)."""
    if text.lower() in ("imagenet", "none") or text.endswith(".weights.h5"):
        return text
    raise ValueError(expected("--weights", "imagenet, none or a path ending in .weights.h5", text,
                              "Weights files are saved with `model.save_weights("
                              "'name.weights.h5')`."))


def preprocessing(name):
    """The function `--preprocess NAME` stands for."""
    if name in SCALINGS:
        return SCALINGS[name]
    key = io.application_name(name)
    if key in io.APPLICATIONS:
        return io.APPLICATIONS[key][1].preprocess_input
    choices = list(SCALINGS) + list(io.APPLICATIONS)
    close = difflib.get_close_matches(key, choices, n=3, cutoff=0.5)
    hint = (f"Did you mean: {', '.join(close)}?" if close
            else "Application names such as vgg16 work too.")
    raise ValueError(expected("--preprocess", "raw, unit, symmetric or an application name", name,
                              hint))


def read_class_names(path):
    """Class names from a text file, one per line (blank lines ignored)."""
    path = pathlib.Path(os.path.expanduser(path))
    if path.is_dir():
        raise ValueError(expected("--class-names", "a text file with one class name per line",
                                  str(path), "It is a folder."))
    if not path.is_file():
        raise FileNotFoundError(2, "No such class-names file", str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(expected("--class-names", "a UTF-8 text file with one class name per line",
                                  str(path), f"Byte {error.start} is not UTF-8 text.")) from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ValueError(expected("--class-names", "a file with one class name per line",
                                  str(path)))
    return tuple(names)


def input_size(model):
    """`(height, width)` of the model's input, `None` on axes it leaves open."""
    check_channels_last(model, "--model")
    shape = model.inputs[0].shape
    if len(shape) != 4:
        raise ValueError(expected("--model", "a model with one image input (N, H, W, C)",
                                  model.name, f"Its input has shape {tuple(shape)}."))
    return shape[1], shape[2]


def load_pictures(paths, model):
    """`(pictures, names)`: the image files (or the bundled samples) at the model's input size,
    uint8 with the model's number of channels."""
    height, width = input_size(model)
    if paths:
        if height is None or width is None:
            height, width = io.load_image(paths[0]).shape[:2]
        pictures = io.load_images(paths, target_size=(height, width))
        names = [pathlib.Path(p).stem for p in paths]
    else:
        pictures, names = demo.sample_images()
        if (height, width) != pictures.shape[1:3] and height is not None and width is not None:
            pictures = np.stack([io.resize(p, (height, width)) for p in pictures])
    channels = model.inputs[0].shape[-1]
    if channels == 1:
        pictures = np.round(pictures.mean(axis=-1, keepdims=True)).astype(np.uint8)
    elif channels not in (3, None):
        raise ValueError(expected("--model", "a model taking grey or RGB images (1 or 3 channels)",
                                  model.name, f"Its input has {channels} channels."))
    return pictures, names


def resolve_target(text, subject):
    """The class index `--target` names (an index, or a class name), or `None`."""
    if text is None:
        return None
    count = subject.class_count
    if text.strip().lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < count:
            raise ValueError(expected("--target", f"a class index in [0, {count - 1}]", text,
                                      f"The model has {count} classes."))
        return index
    names = subject.class_names
    if not names:
        raise ValueError(expected("--target", f"a class index in [0, {count - 1}]", text,
                                  "This model has no class names; pass --class-names FILE to use "
                                  "names."))
    lowered = [n.lower() for n in names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    hint = (f"Did you mean: {', '.join(close)}?" if close
            else f"Known names: {', '.join(names[:20])}.")
    raise ValueError(expected("--target", "a class index or one of the model's class names", text,
                              hint))


def settings(args, model):
    """The `Settings` the options ask for; unset options keep the defaults."""
    fields = {f.name for f in dataclasses.fields(Settings)}
    chosen = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    chosen["progress"] = not args.quiet
    layers = getattr(args, "layer", None)  # only the commands that use a layer take `--layer`
    if layers:
        for name in layers:
            check_layer(model, name, args.command)
        targets, several = LAYER_OPTION[args.command]
        if not several and len(layers) > 1:
            raise ValueError(expected("--layer", f"one layer for `{args.command}`", layers))
        for field in (targets,) if isinstance(targets, str) else targets:
            several_field = field.endswith("_layers")
            chosen[field] = tuple(layers) if several_field else layers[0]
    return Settings(**chosen)


def check_layer(model, name, command):
    """Raises `ValueError` unless `--layer NAME` is a layer `command` can show: a 2D convolution
    for `filters`, a layer with feature maps `(N, H, W, C)` for the others."""
    layer = find_layer(model, name)
    if command == "filters":  # the layers whose kernels `filters` draws
        fitting = convolutions_2d(model)
        what = "a 2D convolution (Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose)"
    else:
        fitting = spatial_layers(model)
        what = "a layer with feature maps (N, H, W, C) after the input"
    if any(found is layer for found in fitting):
        return layer
    kind = type(layer).__name__
    shape = output_shape(layer)
    raise ValueError(expected(
        "--layer", f"{what} for `{command}`", name,
        f"'{name}' is a{'n' if kind[0] in 'AEIOU' else ''} {kind}"
        + ("" if shape is None else f" with output shape {_shape_text(shape)}")
        + f". {_layer_choice(fitting)}`keras-vis summary` lists every layer."))


def _shape_text(shape):
    return "(" + ", ".join("N" if i == 0 else str(d) for i, d in enumerate(shape)) + ")"


def _layer_choice(layers, shown=8):
    """The names of `layers`, the deepest `shown` of them: the usual choices."""
    names = [f"'{layer.name}'" for layer in layers]
    if not names:
        return ""
    if len(names) > shown:
        names = ["..."] + names[-shown:]
    return f"Layers that fit: {', '.join(names)}. "


def atlas_file(args):
    """The atlas `--atlas` names; for the demo model without one, its bundled atlas."""
    if args.atlas is None and args.model in (None, DEMO):
        return demo_atlas.ATLAS_PATH
    return args.atlas


def load(args):
    """`(subject, target, settings)` for parsed arguments; every option is checked here."""
    model, preprocess, name, class_names = load_model(args)
    run_settings = settings(args, model)
    pictures, names = load_pictures(getattr(args, "images", None) or [], model)
    subject = make_subject(model, pictures, names=names, preprocess=preprocess,
                           class_names=class_names, model_name=name)
    if class_names is not None and len(class_names) != subject.class_count:
        raise ValueError(expected("--class-names", f"{subject.class_count} names, one per class",
                                  f"{len(class_names)} names"))
    return subject, resolve_target(getattr(args, "target", None), subject), run_settings


def out_dir(path, file_names=()):
    """The output folder `--out` names, checked before anything is computed: it is not a file, no
    file of `file_names` is taken by a folder in it, and it can be created and written to. It is
    created when the first file is written.

    Raises:
        ValueError: with what is wrong, in one line.
    """
    folder = pathlib.Path(os.path.expanduser(path))
    if folder.exists() and not folder.is_dir():
        raise ValueError(expected("--out", "a folder", str(folder), "It is a file."))
    if not folder.exists() and folder.suffix.lower() in FILE_SUFFIXES:
        raise ValueError(expected(
            "--out", "a folder (the files get their own names in it)", str(folder),
            f"It ends like a file name; pass a folder, e.g. --out {folder.with_suffix('')}."))
    existing = next((p for p in (folder, *folder.parents) if p.exists()), pathlib.Path.cwd())
    if not existing.is_dir():
        raise ValueError(expected("--out", "a folder that can be created", str(folder),
                                  f"'{existing}' is a file."))
    if not io.can_write_to(existing, folder):
        raise ValueError(expected("--out", "a folder keras-vis can write to", str(folder),
                                  f"'{existing}' is not writable."))
    check_file_names(folder, file_names)
    return folder


def runnable(names, subject, settings):
    """The methods `names` (registry names) without repeats, each one the subject's model can run
    with the settings.

    Raises:
        NotApplicable: with the reason of the first that cannot.
    """
    names = list(dict.fromkeys(names))
    for name in names:
        reason = registry.find(name).why_unavailable(subject, settings)
        if reason:
            raise NotApplicable(reason)
    return names


def check_file_names(folder, file_names):
    """Raises `ValueError` if a folder in `folder` has the name of a file to be written there."""
    for name in file_names:
        if (folder / name).is_dir():
            raise ValueError(expected("--out", f"a folder where `{name}` can be written",
                                      str(folder), f"It holds a folder named '{name}'."))
