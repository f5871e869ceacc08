"""What each subcommand computes and which files it writes.

A command returns a list of `(file name, bytes)`, or `(files, text)` when it also prints a result.

Every command computes all its pictures first and writes them afterwards, each file atomically: a
bad option or an interrupt during the work leaves the output folder as it was, and an interrupt
while writing leaves only whole files.
"""

import contextlib
import importlib
import json
import sys

from keras_vis import progress, registry
from keras_vis._checks import NotApplicable
from keras_vis.cli import inputs
from keras_vis.cli.parser import find_command
from keras_vis.inspect import summary as layer_table
from keras_vis.io import atomic_write, name_the_target
from keras_vis.report import build_report, techniques
from keras_vis.report.pictures import FIGURE_DPI, figure_png
from keras_vis.report.subject import file_name


def picture_file(command, subject, picture):
    """`<command>[_<image>][_<picture>].png`: what the file shows, readable in a folder listing."""
    parts = [command]
    if picture.image is not None:
        parts.append(subject.names[picture.image])
    if picture.name:
        parts.append(file_name(picture.name))
    return "_".join(parts) + ".png"


def pictures_files(command, subject, pictures):
    return [(picture_file(command, subject, p), p.png()) for p in pictures]


def panels(command, subject, settings, pictures):
    """One overview per image: the input next to every map drawn for it."""
    return [(f"{command}_{name}.png",
             figure_png(techniques.overview(subject, settings, pictures, [index]), dpi=FIGURE_DPI))
            for index, name in enumerate(subject.names)]


def _methods(args, family, subject, settings):
    """The methods `--method` names (all by default); one named explicitly must be able to run."""
    names = args.method or ["all"]
    if "all" in names:
        return list(registry.choices(family))
    return inputs.runnable(names, subject, settings)


def summary(args, subject, target, settings):
    table = layer_table(subject.model)
    text, data = find_command("summary").files
    files = [(text, (str(table) + "\n").encode("utf-8")),
             (data, (json.dumps(table.to_dict(), indent=2) + "\n").encode("utf-8"))]
    return files, str(table)


def filters(args, subject, target, settings):
    return pictures_files("filters", subject, techniques.filter_pictures(subject, settings))


def features(args, subject, target, settings):
    return pictures_files("features", subject, techniques.feature_pictures(subject, settings))


def maximize(args, subject, target, settings):
    classes = None if target is None else [target]
    pictures = techniques.maximization_pictures(subject, settings, classes)
    return pictures_files("maximize", subject, pictures)


def attribution(args, subject, target, settings):
    """The command of a registry family: the pictures of its `--method` maps and one overview per
    image."""
    (family,) = [family for family in registry.FAMILIES if family.name == args.command]
    names = _methods(args, family, subject, settings)
    pictures, skipped = techniques.family_pictures(subject, settings, target, family.name, names)
    # A method asked for by name must run; of all of them, those that can are drawn.
    if skipped and (args.method and "all" not in args.method or not pictures):
        raise NotApplicable(skipped[0][1])
    for title, reason in skipped:
        inputs.warn(f"{title} skipped: {reason}")
    return (pictures_files(family.name, subject, pictures)
            + panels(family.name, subject, settings, pictures))


def deconv(args, subject, target, settings):
    return pictures_files("deconv", subject, techniques.deconv_pictures(subject, settings))


def report(args, subject, target, settings):
    document = build_report(subject, settings=settings, target=target,
                            atlas=inputs.atlas_file(args))
    return [(find_command("report").files[0], document.encode("utf-8"))]


def load(path):
    """The function a `Command.run` path names, imported now (a server or a dataset run imports
    what it needs only when it is the command)."""
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)


def run(args):
    """Runs the parsed command; returns the exit code."""
    command = find_command(args.command)
    if command.build is not None:  # a command of its own kind: a server, shards
        return load(command.run)(args)
    folder = inputs.out_dir(args.out, command.files)
    # Progress of the techniques goes to stderr: stdout carries only results (paths, the table).
    with contextlib.redirect_stdout(sys.stderr), progress.silenced(args.quiet):
        subject, target, settings = inputs.load(args)
        techniques.check(subject, settings)
        files = load(command.run)(args, subject, target, settings)
    files, text = files if isinstance(files, tuple) else (files, None)
    inputs.check_file_names(folder, [name for name, _ in files])
    if text is not None:
        print(text)
    for name, data in files:
        path = folder / name
        write(path, data)
        if args.command == "report" or not args.quiet:
            print(path)
    if not args.quiet and args.command != "report":
        print(f"keras-vis: wrote {len(files)} file{'s' if len(files) != 1 else ''} to {folder}",
              file=sys.stderr)
    return 0


def write(path, data):
    """Writes `data` to `path` atomically; an error of the write (a full disk) names `path`."""
    try:
        with atomic_write(path, "wb") as file:
            file.write(data)
    except OSError as error:
        name_the_target(error, path)
        raise
