"""Library error messages in the words of the command line: `--layer` where the library says
`layer`, `--weights none` where it says `weights=None`.

The library names its Python arguments, which is right for a caller of `keras_vis.gradcam(...)`;
a `keras-vis` user typed options, so the messages that reach the command line are reworded here
rather than made command-line specific in the library.
"""

import re

from keras_vis.cli.parser import command_flags

# Library arguments that the same option sets in every command.
OPTIONS = {
    "spec": "--model",
    "model": "--model",
    "weights": "--weights",
    "safe_mode": "--unsafe",
    "layer": "--layer",
    "layers": "--layer",
    "target": "--target",
    "batch_size": "--batch-size",
    "seed": "--seed",
    "composite": "--composite",
    "class_names": "--class-names",
    "atlas": "--atlas",
    "out_dir": "--out",
    "dataset": "FOLDER",
}
# Library arguments set by an option that only some commands take (`size` is `--size` in
# `maximize` and `report`); a command's own options decide.
COMMAND_OPTIONS = {
    "patch": "--patch",
    "stride": "--stride",
    "occlusion_patch": "--patch",
    "occlusion_stride": "--stride",
    "threshold": "--threshold",
    "size": "--size",
    "max_maps": "--score-cam-maps",
    "method": "--method",
    "shard_size": "--shard-size",
    "dtype": "--dtype",
    "strategy": "--strategy",
    "cluster_resolver": "--tf-config",
    "images": "--images",
    "host": "--host",
    "port": "--port",
    "max_upload_mb": "--max-upload-mb",
}
# Python spellings of a whole call, and what a command-line user does instead.
PHRASES = {
    "`keras_vis.summary(model)`": "`keras-vis summary`",
    "`safe_mode=False` (`--unsafe` on the command line)": "`--unsafe`",
    "`overwrite=True`": "`--overwrite`",
}

# "`rules={'x': 'gate'}` in Python (`--rule x=gate` on the command line)": the option alone.
_BOTH_SPELLINGS = re.compile(r"`[^`]*` in Python \((`[^`]*`) on the command line\)")
_IN_CODE = re.compile(r"`(\w+)=([^`]*)`")  # `weights=None`, `weights='path/x.weights.h5'`
_QUOTED = re.compile(r"`(\w+)`")  # `layer`
_RECEIVED = re.compile(r"(?:(?<=\s)|^)(\w+)=")  # Received: layer='x' (not inside a path)


def for_cli(message, command=None):
    """`message` with the library's argument names replaced by the options of `command`.

    Args:
        message: an error message of the library (or of the command line: options are kept).
        command: the subcommand that ran, for the names whose option depends on it.

    Returns:
        The reworded message.
    """
    flags = command_flags(command) if command is not None else frozenset()
    options = {**OPTIONS, **{name: flag for name, flag in COMMAND_OPTIONS.items() if flag in flags}}
    for python, cli in PHRASES.items():
        message = message.replace(python, cli)
    message = _BOTH_SPELLINGS.sub(lambda found: found.group(1), message)
    message = _IN_CODE.sub(lambda found: _option_with_value(found, options), message)
    message = _QUOTED.sub(lambda found: _option(found, options, "`{}`"), message)
    return _RECEIVED.sub(lambda found: _option(found, options, "{}="), message)


def _option(found, options, form):
    name = found.group(1)
    return form.format(options[name]) if name in options else found.group(0)


def _option_with_value(found, options):
    name, value = found.groups()
    if name not in options:
        return found.group(0)
    if name == "safe_mode":
        return f"`{options[name]}`" if value == "False" else found.group(0)
    return f"`{options[name]} {_typed(value)}`"


def _typed(value):
    """A Python literal as it is typed on the command line: `None` → `none`, `'x'` → `x`."""
    if value == "None":
        return "none"
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
