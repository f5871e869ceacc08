"""The `keras-vis` command line: subcommands and options (argparse only, so `--help` is fast)."""

import argparse
import dataclasses
import functools
import typing

from keras_vis import registry  # standard library only, so `--help` needs no TensorFlow
from keras_vis._version import version
from keras_vis.cli.options import (COMMAND_OPTIONS, DISPLAY, METHOD_OPTIONS, integer,
                                   non_negative, positive)

DEFAULT_OUT = "keras_vis_output"

DESCRIPTION = """\
See inside a convolutional network: its layers, filters and feature maps, the images that excite
it most, and why it classifies an image the way it does.

With no options every command runs on the bundled demo model (a small CNN trained on generated
shapes) and its sample images, offline. Point it at your own model with --model (a .keras or .h5
file, or a keras.applications name such as vgg16) and pass your images as paths."""

EPILOG = """\
examples:
  keras-vis report                              everything, as one HTML page
  keras-vis cam --method gradcam photo.jpg --model vgg16 --weights imagenet
  keras-vis maximize --layer block3_conv1 --model vgg16 --weights none --steps 64
  keras-vis saliency --target star --out explanations"""


class UsageError(Exception):
    """A command line argparse rejected; `main` prints it as one line and exits with 2."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` that raises `UsageError` instead of printing the usage and exiting."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")

    def parse_known_args(self, args=None, namespace=None):
        # A mutually exclusive group would do, but argparse moves one out of its argument group
        # ("output") when a subcommand copies the common options.
        namespace, extras = super().parse_known_args(args, namespace)
        if getattr(namespace, "quiet", False) and getattr(namespace, "verbose", False):
            self.error("argument --verbose: not allowed with argument --quiet/-q")
        return namespace, extras


def _add_model_options(group):
    group.add_argument("--model", metavar="SPEC",
                       help="a .keras or .h5 model file, or a keras.applications name such as "
                            "vgg16, resnet50v2, mobilenetv2 (default: the bundled demo model)")
    group.add_argument("--weights", default="imagenet", metavar="W",
                       help="for an application name: imagenet (downloaded by Keras once), none "
                            "(random) or the path of a .weights.h5 file (default: imagenet)")
    group.add_argument("--unsafe", action="store_true",
                       help="load a model file even if it holds Python code (Lambda layers); only "
                            "for files you trust")
    group.add_argument("--preprocess", metavar="NAME",
                       help="how 0-255 pictures become model inputs: raw (as they are), unit "
                            "(/255), symmetric (to [-1, 1]) or an application name whose "
                            "preprocess_input to use (default: the application's own, raw for "
                            "files)")
    group.add_argument("--class-names", metavar="FILE",
                       help="a text file with one class name per line, in output order (the demo "
                            "model has its own)")


def _add_target_option(group):
    group.add_argument("--target", metavar="CLASS",
                       help="class to explain: an index, or a name when the model has class "
                            "names (default: each image's predicted class)")


def _add_run_options(group, out_help, batch=True):
    group.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                       help=f"{out_help} (default: {DEFAULT_OUT})")
    group.add_argument("--quiet", "-q", action="store_true",
                       help="no progress bars or information lines")
    group.add_argument("--verbose", action="store_true",
                       help="also show TensorFlow's own log lines (oneDNN, CPU instructions, CUDA "
                            "libraries, devices), hidden by default; not with --quiet")
    if batch:
        group.add_argument("--batch-size", type=positive, metavar="N",
                           help="images per compiled call")


def _picture_command(commands, command):
    """The parser of a command that draws pictures, with the options its `uses` names."""
    parser = commands.add_parser(command.name, help=command.help, description=command.help)
    used = command.uses
    model = parser.add_argument_group("model and images")
    if "images" in used:
        model.add_argument("images", nargs="*", metavar="IMAGE",
                           help="image files to explain (default: the bundled sample images)")
    _add_model_options(model)
    what = parser.add_argument_group("what to show")
    if "layers" in used:
        what.add_argument("--layer", action="append", metavar="NAME",
                          help="layer name (nested layers as outer/inner); repeat for several "
                               "(default: chosen from the model)")
    if "layer" in used:
        what.add_argument("--layer", action="append", metavar="NAME",
                          help="layer name (nested layers as outer/inner), one (default: chosen "
                               "from the model)")
    if "target" in used:
        _add_target_option(what)
    run = parser.add_argument_group("output")
    _add_run_options(run, "folder the pictures are written to", batch="batch" in used)
    if "seed" in used:
        run.add_argument("--seed", type=non_negative, metavar="N",
                         help="seed of random starts and noise")
    if "display" in used:
        DISPLAY.add_to(run)
    return parser


STRATEGIES = ("none", "mirrored", "multi-worker")
DATASET_DTYPES = ("float16", "float32")


def _add_dataset_command(commands):
    """`explain-dataset`: the maps of a folder of images, in resumable shards, on one or many
    workers."""
    parser = commands.add_parser("explain-dataset", help=DATASET_HELP, description=DATASET_HELP,
                                 epilog=DATASET_EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    model = parser.add_argument_group("model and images")
    model.add_argument("folder", metavar="FOLDER",
                       help="a folder of image files, read recursively in sorted order")
    _add_model_options(model)
    what = parser.add_argument_group("what to compute")
    what.add_argument("--method", default="gradcam", choices=registry.known_names(),
                      metavar="METHOD",
                      help="the attribution method: one of "
                           + ", ".join(spec.name for spec in registry.METHODS)
                           + " (default: gradcam)")
    what.add_argument("--layer", action="append", metavar="NAME",
                      help="the layer of a method that takes one (a CAM's convolution)")
    _add_target_option(what)
    run = parser.add_argument_group("output")
    _add_run_options(run, "folder the shards and index.json are written to; run again with "
                          "the same folder to resume")
    run.add_argument("--shard-size", type=positive, default=256, metavar="N",
                     help="images per shard file (default: 256)")
    run.add_argument("--dtype", choices=DATASET_DTYPES, default="float16",
                     help="of the stored maps (default: float16)")
    run.add_argument("--overwrite", action="store_true",
                     help="delete the maps already in --out (a worker: its own) and start again")
    where = parser.add_argument_group("devices and workers")
    where.add_argument("--strategy", choices=STRATEGIES, default="none",
                       help="none: the default device; mirrored: every local GPU "
                            "(MirroredStrategy); multi-worker: MultiWorkerMirroredStrategy over "
                            "the cluster in TF_CONFIG (restart all workers after a failure)")
    where.add_argument("--tf-config", action="store_true",
                       help="this process is one worker of the cluster in TF_CONFIG, not "
                            "connected to the others: each explains its own shards and can be "
                            "restarted on its own; the chief merges the indices")
    return parser


DATASET_HELP = "explain a folder of images into resumable shards, on one or many workers"
DATASET_EPILOG = """examples:
  keras-vis explain-dataset photos/ --model vgg16 --out maps
  TF_CONFIG='{"cluster": {"worker": ["host1:2222", "host2:2222"]},
              "task": {"type": "worker", "index": 0}}' \\
    keras-vis explain-dataset /shared/photos --tf-config --out /shared/maps"""


def _add_serve_command(commands):
    """`serve`: the interactive explorer, a local web app."""
    parser = commands.add_parser("serve", help=SERVE_HELP, description=SERVE_DESCRIPTION,
                                 epilog=SERVE_EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    model = parser.add_argument_group("model and images")
    _add_model_options(model)
    model.add_argument("--images", metavar="DIR",
                       help="a folder of image files to start with, read recursively (default: "
                            "the bundled sample images); more can be dropped on the page")
    model.add_argument("--atlas", metavar="FILE.npz",
                       help="an activation atlas of one of the model's layers to show, as "
                            "Atlas.save writes it")
    where = parser.add_argument_group("server")
    where.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only; any "
                            "other lets every machine that reaches it use the model)")
    where.add_argument("--port", type=integer(0), default=8765,
                       help="port to listen on, 0 for any free one (default: 8765)")
    where.add_argument("--max-upload-mb", type=float, default=16, metavar="MB",
                       dest="max_upload_mb", help="largest image file accepted (default: 16)")
    run = parser.add_argument_group("computing")
    run.add_argument("--batch-size", type=positive, metavar="N",
                     help="images per compiled call")
    run.add_argument("--seed", type=non_negative, metavar="N",
                     help="seed of random starts and noise")
    methods = parser.add_argument_group("attribution methods")
    for option in COMMAND_OPTIONS["serve"]:
        option.add_to(methods if option in METHOD_OPTIONS else run)
    run.add_argument("--quiet", "-q", action="store_true", help="no information lines")
    run.add_argument("--verbose", action="store_true",
                     help="also show TensorFlow's own log lines; not with --quiet")
    return parser


SERVE_HELP = "explore the model in the browser: layers, feature maps, filters and explanations"
SERVE_DESCRIPTION = SERVE_HELP + """.

Starts a local web app and prints its address. Pick an image (or drop your own on the page), a
layer and a class: the page shows the top classes, the layer's feature maps and filters, renders
the image that maximizes a channel, and draws every attribution method for the class, with
occlusion and the deconvnet on demand; with --atlas, it shows the activation atlas too. Ctrl-C
stops it."""
SERVE_EPILOG = """examples:
  keras-vis serve                                 the demo model and its sample images
  keras-vis serve --model vgg16 --weights imagenet --images photos/
  keras-vis serve --model model.keras --preprocess unit --port 0
  keras-vis serve --model model.keras --atlas atlas.npz"""


def _add_evaluate_options(parser):
    methods = tuple(spec.name for spec in registry.METHODS)
    metrics = tuple(spec.name for spec in registry.METRICS)
    parser.add_argument("--method", action="append", choices=methods + ("all",), metavar="METHOD",
                        help=f"the methods whose maps are scored: one of {', '.join(methods)}, or "
                             "all; repeat for several (default: gradcam)")
    parser.add_argument("--metric", action="append", choices=metrics + ("all",), metavar="NAME",
                        help=f"one of {', '.join(metrics)}, or all; repeat for several (default: "
                             "all, those reading masks only with --mask)")
    parser.add_argument("--mask", action="append", metavar="FILE",
                        help="an object mask per image, in the order of the images (white on the "
                             "object), for pointing_game and energy_pointing; repeat for each")


@dataclasses.dataclass(frozen=True)
class Command:
    """One `keras-vis` subcommand.

    Attributes:
        name: the subcommand.
        help: its line in `keras-vis --help`, and its description.
        run: `"module:function"` of what it does: for a command that draws pictures,
            `f(args, subject, target, settings)` returning the `(name, bytes)` files to write, or
            `(files, text)` when it prints a result too; for a command of its own kind (`build`),
            `f(args)` returning the exit code.
        uses: what a command that draws pictures reads beyond the model and `--out`: `"images"`,
            one `"layer"` or several `"layers"`, `"target"`, `"batch"` (`--batch-size`),
            `"seed"`, `"display"` (`--display-size`).
        files: the names of the files it writes, where they are known before anything is
            computed (checked first).
        build: for a command of its own kind (a server, shards), `f(subparsers) -> parser`.
    """

    name: str
    help: str
    run: str
    uses: typing.FrozenSet[str] = frozenset()
    files: typing.Tuple[str, ...] = ()
    build: typing.Optional[typing.Callable] = None


_COMMANDS_MODULE = "keras_vis.cli.commands"

COMMANDS = (
    Command("summary", "print the layer table (also written as summary.txt and summary.json)",
            f"{_COMMANDS_MODULE}:summary", files=("summary.txt", "summary.json")),
    Command("filters", "draw the kernels of convolution layers", f"{_COMMANDS_MODULE}:filters",
            frozenset({"layers"})),
    Command("features", "draw the feature maps of layers for each image",
            f"{_COMMANDS_MODULE}:features", frozenset({"images", "layers", "batch"})),
    # Its channels are those most active on the images.
    Command("maximize", "render images that excite channels of a layer, and classes, most",
            f"{_COMMANDS_MODULE}:maximize",
            frozenset({"images", "layer", "target", "batch", "seed", "display"})),
    # One subcommand per attribution family.
    *(Command(family.name, registry.command_help(family), f"{_COMMANDS_MODULE}:attribution",
              frozenset({"images", "target", "batch", "display", *family.uses}))
      for family in registry.FAMILIES if registry.choices(family)),
    Command("deconv",
            "project a layer's strongest activation back to pixels (Zeiler-Fergus deconvnet)",
            f"{_COMMANDS_MODULE}:deconv", frozenset({"images", "layers", "batch", "display"})),
    Command("report", "run everything and write one self-contained HTML page",
            f"{_COMMANDS_MODULE}:report",
            frozenset({"images", "layer", "target", "batch", "seed", "display"}),
            files=("report.html",)),
    Command("evaluate", "score how faithful the maps of attribution methods are: "
            + ", ".join(spec.name for spec in registry.METRICS), "keras_vis.cli.evaluate:command",
            frozenset({"images", "layer", "target", "batch", "seed"}),
            files=("evaluate.txt", "evaluate.json")),
    Command("explain-dataset", DATASET_HELP, "keras_vis.cli.dataset:explain_folder",
            build=_add_dataset_command),
    Command("serve", SERVE_HELP, "keras_vis.cli.serve:serve_explorer", build=_add_serve_command),
)
"""Every subcommand, in the order `keras-vis --help` lists them."""

_BY_NAME = {command.name: command for command in COMMANDS}


def find_command(name):
    """The `Command` named `name`."""
    return _BY_NAME[name]


@functools.lru_cache(maxsize=None)
def command_flags(command):
    """Every option string the subcommand `command` accepts (`--patch`, `-q`, ...)."""
    return frozenset(build_parser().subcommands[command]._option_string_actions)


def build_parser():
    """The `keras-vis` argument parser; `.subcommands` maps each command to its own parser."""
    parser = Parser(prog="keras-vis", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"keras-vis {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=Parser)
    sub = {command.name: command.build(commands) if command.build else
           _picture_command(commands, command) for command in COMMANDS}
    for family in registry.FAMILIES:
        choices = registry.choices(family)
        if choices:
            sub[family.name].add_argument(
                "--method", action="append", choices=choices + ("all",), metavar="METHOD",
                help=f"one of {', '.join(choices)}, or all; repeat for several (default: all)")
    sub["report"].add_argument(
        "--atlas", metavar="FILE.npz",
        help="an activation atlas of the model to show (saved by `Atlas.save`); default for the "
             "demo model: its bundled atlas")
    _add_evaluate_options(sub["evaluate"])
    for name, options in COMMAND_OPTIONS.items():
        if name != "serve":  # the server's parser adds its own, among its groups
            for option in options:
                option.add_to(sub[name])
    parser.subcommands = sub
    return parser
