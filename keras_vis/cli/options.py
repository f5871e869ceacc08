"""The options of the `keras-vis` commands that tune the work, as data: flag, the `Settings` field
it sets, how its value is read, its help, and its default, which comes from one place.

A work size's default is `keras_vis.registry.DEFAULTS[field]`, the one the Python signatures and
the report's `Settings` read, so `--help` writes it from there and cannot disagree; an option
whose default depends on the model or the image says so in `default_text`. Which command takes
which options is `COMMAND_OPTIONS`. Standard library only, so `--help` starts without TensorFlow.
"""

import argparse
import dataclasses
import typing

from keras_vis import registry
from keras_vis.limits import MAX_SIDE
from keras_vis.registry import DEFAULTS


def integer(minimum, maximum=None):
    """A parser of whole numbers in `[minimum, maximum]`."""
    wanted = (f"an integer >= {minimum}" if maximum is None
              else f"an integer in [{minimum}, {maximum}]")

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


positive = integer(1)
non_negative = integer(0)
side = integer(1, MAX_SIDE)  # a picture's side in pixels


def fraction(text):
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def threshold(text):
    """A number in (0, 1]."""
    try:
        value = fraction(text)
    except argparse.ArgumentTypeError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def layer_role(text):
    """`LAYER=ROLE`, a role of `registry.RULE_ROLES`."""
    layer, separator, role = text.rpartition("=")
    if not separator or not layer or role not in registry.RULE_ROLES:
        raise argparse.ArgumentTypeError(
            f"expected LAYER=ROLE with ROLE one of {', '.join(registry.RULE_ROLES)}, got {text!r}")
    return layer, role


@dataclasses.dataclass(frozen=True)
class Option:
    """One option that tunes a command's work.

    Attributes:
        flag: the option string (`"--smooth-samples"`).
        field: the `keras_vis.report.Settings` field it sets (argparse's `dest`).
        help: what it does, without its default.
        type: how its value is read (`None` for a choice).
        metavar: the value's name in `--help`.
        default_text: the default in words, for an option whose default is not a number of
            `DEFAULTS` (`"an eighth of the image"`); `None`: `DEFAULTS[field]`.
        choices: the values it takes, for a choice.
        repeat: it may be given several times, each value added to a list.
    """

    flag: str
    field: str
    help: str
    type: typing.Optional[typing.Callable] = positive
    metavar: str = "N"
    default_text: typing.Optional[str] = None
    choices: typing.Optional[typing.Tuple[str, ...]] = None
    repeat: bool = False

    def help_text(self):
        """Its `--help` line: what it does and its default."""
        if self.repeat:
            return self.help
        if self.default_text is None:
            return f"{self.help} (default {DEFAULTS[self.field]})"
        return f"{self.help} (default: {self.default_text})"

    def add_to(self, parser):
        """Adds the option to an argparse `parser` (or group); left unset, it stays `None` and
        the `Settings` default applies."""
        options = {"dest": self.field, "metavar": self.metavar, "help": self.help_text()}
        if self.choices is not None:
            options["choices"] = self.choices
        if self.type is not None:
            options["type"] = self.type
        if self.repeat:
            options["action"] = "append"
        parser.add_argument(self.flag, **options)


_ROLES_TEXT = "; ".join(f"{role}: {meaning}" for role, meaning in registry.RULE_ROLES.items())

MAXIMIZE = (
    Option("--filters", "maximize_filters",
           "how many channels to maximize, those most active on the images"),
    Option("--steps", "maximize_steps", "optimisation steps per channel image"),
    Option("--class-steps", "class_steps", "optimisation steps per class image, 0 for none",
           type=non_negative),
    Option("--size", "maximize_size", "size of the channel images", type=side, metavar="PX",
           default_text="the input size, at most 128"),
)
METHOD_WORK = (
    Option("--smooth-samples", "smooth_samples", "SmoothGrad noisy copies per image"),
    Option("--ig-steps", "ig_steps", "integrated-gradients path points"),
    Option("--shap-samples", "shap_samples", "GradientSHAP samples per image"),
    Option("--composite", "lrp_composite",
           "the LRP rules: one of " + ", ".join(registry.LRP_COMPOSITES), type=None,
           metavar="NAME", default_text=registry.LRP_COMPOSITES[0],
           choices=registry.LRP_COMPOSITES),
    Option("--rule", "relevance_rules",
           "what a layer no relevance rule covers computes, for LRP and DeepLIFT: " + _ROLES_TEXT
           + "; repeat for several", type=layer_role, metavar="LAYER=ROLE", repeat=True),
    Option("--score-cam-maps", "score_cam_maps",
           "Score-CAM channels kept, those of highest variance"),
    Option("--patch", "occlusion_patch", "side of the grey square", metavar="PX",
           default_text="an eighth of the image"),
    Option("--stride", "occlusion_stride", "step between patch positions", metavar="PX",
           default_text="half the patch"),
    Option("--threshold", "occlusion_threshold",
           "mask the regions whose occlusion leaves less than T of the best probability",
           type=fraction, metavar="T"),
    Option("--approximate", "occlusion_approximate",
           "faster, approximate occlusion maps: cut each layer's changed region to TAU (in (0, "
           "1]) of its map's side", type=threshold, metavar="TAU", default_text="exact"),
    Option("--rise-masks", "rise_masks", "RISE random masks per image"),
)
"""The options of the attribution methods' work; each family of the registry names its own
(`Family.settings`)."""


def picked(options, fields):
    """The options among `options` that set `fields`, in the order of `fields`."""
    by_field = {option.field: option for option in options}
    return tuple(by_field[field] for field in fields)


def family_options(family):
    """The options of a registry `Family`'s subcommand, in the order it names them."""
    return picked(METHOD_WORK, family.settings)


METHOD_OPTIONS = tuple(option for family in registry.FAMILIES
                       for option in family_options(family))
"""Every family's options, which the report and `evaluate` take all of."""

DISPLAY = Option("--display-size", "display_size",
                 "enlarge smaller pictures to at least this many pixels", type=side, metavar="PX")

COMMAND_OPTIONS = {
    "filters": (Option("--max-filters", "max_filters", "kernels drawn per layer"),),
    "features": (Option("--channels", "feature_channels", "feature maps drawn per layer"),),
    "maximize": MAXIMIZE,
    **{family.name: family_options(family) for family in registry.FAMILIES},
    "report": MAXIMIZE + METHOD_OPTIONS,
    "evaluate": METHOD_OPTIONS,
    # The explorer renders one channel image at a time, no class images, and draws every method.
    "serve": picked(MAXIMIZE, ("maximize_steps", "maximize_size")) + (DISPLAY,) + METHOD_OPTIONS,
}
"""The work options of each command, beyond the model, images and output options."""

__all__ = ["COMMAND_OPTIONS", "DISPLAY", "METHOD_OPTIONS", "METHOD_WORK", "Option",
           "family_options", "fraction", "integer", "layer_role", "non_negative", "picked",
           "positive", "side", "threshold"]
