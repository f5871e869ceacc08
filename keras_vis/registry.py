"""Every attribution method and faithfulness metric of the package, described once: `FAMILIES`,
`METHODS` and `METRICS`.

Each `MethodSpec` holds all that the rest of the package needs to know about one method, and every
consumer reads it from here:

- `keras_vis.cam`: its `method` choices and the `BaseCAM` subclass of each (`cam_variants`);
- the metrics, `randomization_check` and `explain_dataset`: names, aliases, the function and its
  default options (`find`, `known_names`);
- the HTML report and the `keras-vis` command line: titles, captions, colours, availability, the
  options filled from the report's `Settings` and `Subject`, one subcommand per family with its
  `--method` choices (`drawn`, `command_help`).

Functions and classes are named by `"module:attribute"` paths, imported on first use: this module
needs only the standard library, so `keras-vis --help` starts without importing TensorFlow.

Adding a method
    Append a `MethodSpec` to `METHODS`; its position is its place in the report and in the
    command line's choices. `function` names `f(model, images, target=None, **options)` returning
    float32 `(N, H, W)` maps in [0, 1] (`normalize=False` for the raw maps) and taking
    `batch_size`. `defaults` are the options its name stands for; `report_options` fill more from
    the report's `Settings` and `Subject`; `drawing` puts it in the report (and its family's
    `--method` choices); `unavailable` names a check for models it cannot run on.

Adding a CAM variant
    Write a `BaseCAM` subclass overriding `channel_weights` in a new file under
    `keras_vis/attribution/cam/`, and append `cam_variant(name, "module:Class", title, caption)`
    to `METHODS`: `cam(method=name)`, the metrics, the report and `keras-vis cam` all take it.
    Constructor options of the variant that `cam` passes on (Score-CAM's `max_maps`) are listed in
    `variant_options`.

Adding a metric
    Write its function in a new module of `keras_vis/metrics/`, taking the inputs its entry
    `needs` (in that order, `target` as a keyword) and returning a `MetricResult` subclass (its
    `values` per image, `higher_is_better`, and `curve` where it follows one), then append a
    `MetricSpec` to `METRICS`: `keras_vis.metrics.evaluate`, the `FaithfulnessCallback`, the
    `keras-vis evaluate` command and the benchmarks take it by name.

Adding a family
    Append a `Family` to `FAMILIES` and give its methods `family=` its name: it becomes a
    `keras-vis` subcommand whose `--method` takes its drawn methods, and a group of the report.
"""

import dataclasses
import functools
import importlib
import types
import typing


@dataclasses.dataclass(frozen=True)
class Family:
    """A kind of attribution method: one `keras-vis` subcommand and one group of the report.

    Attributes:
        name: the subcommand, and the `family` of its methods.
        summary: what the subcommand draws, for `keras-vis --help` (the labels of its drawn
            methods follow it).
        heading: the title of its pictures in the report (lower-cased: its progress step).
        apart: the name of a method of the family that the report and the subcommand draw their
            own way, before the drawn methods (occlusion: its heatmap and the mask of the regions
            that matter); `""` for none. It is a `--method` choice like the drawn methods.
        uses: what its subcommand takes beyond the images, the target and the drawing options:
            `"layer"` (one layer, `--layer`), `"seed"` (`--seed`, for random noise or masks).
        settings: the `keras_vis.report.Settings` fields that tune its methods' work, which its
            subcommand, the report and `keras-vis evaluate` take as options
            (`keras_vis.cli.options`).
    """

    name: str
    summary: str
    heading: str
    apart: str = ""
    uses: typing.Tuple[str, ...] = ()
    settings: typing.Tuple[str, ...] = ()


FAMILIES = (
    Family("saliency", "gradient saliency maps", "Gradients", uses=("seed",),
           settings=("smooth_samples", "ig_steps", "shap_samples")),
    Family("cam", "class activation maps", "Class activation maps", uses=("layer",),
           settings=("score_cam_maps",)),
    Family("lrp", "rule-based relevance", "Relevance",
           settings=("lrp_composite", "relevance_rules")),
    Family("occlusion",
           "hide parts of each image and map the drop of the class probability",
           "Occlusion", apart="occlusion", uses=("seed",),
           settings=("occlusion_patch", "occlusion_stride", "occlusion_threshold",
                     "occlusion_approximate", "rise_masks")),
)


@dataclasses.dataclass(frozen=True)
class Drawing:
    """How the report draws a method's maps.

    Attributes:
        cmap: the matplotlib colour map.
        alpha: the weight of the colours over the image; 1.0 draws the map on its own.
        signed: the maps keep their sign: they are computed raw and scaled so that zero is the
            colour map's middle (a diverging one), positive and negative evidence apart.
    """

    cmap: str
    alpha: float
    signed: bool = False


# Class activation maps are drawn over the image (their location is the point); gradient maps on
# their own (their detail is the point).
OVER_IMAGE = Drawing("jet", 0.45)
ON_ITS_OWN = Drawing("inferno", 1.0)
# Relevance and contributions: red for evidence for the class, blue against, white for none.
SIGNED = Drawing("bwr", 1.0, signed=True)

# Where `report_options` read their values from.
_SOURCES = ("settings", "subject")


@functools.lru_cache(maxsize=None)
def resolve(path):
    """The object a `"module:attribute"` path names, imported on first use."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _check_path(value, name):
    module, _, attribute = value.partition(":") if isinstance(value, str) else ("", "", "")
    if not (module and attribute):
        raise ValueError(f"Expected `{name}` to be a 'module:attribute' path. "
                         f"Received: {name}={value!r}")


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """One attribution method.

    Attributes:
        name: the name `method=` arguments and `--method` take, also used in file names.
        family: the `name` of its `Family`.
        function: `"module:attribute"` of `f(model, images, target=None, **options) -> maps`.
        title: the title under its picture.
        caption: how to read its picture.
        label: its name in the subcommand's `--help` summary; default `title`.
        aliases: more names that stand for it (metrics and `explain_dataset` accept them).
        defaults: the options its name stands for (`{"method": "guided"}`).
        report_options: options the report fills, option -> `"settings.<field>"` or
            `"subject.<attribute>"`; they override `defaults`.
        drawing: how the report draws it; `None` keeps it out of the report's method table and
            out of `--method` (its family draws it its own way).
        unavailable: `"module:attribute"` of `f(model, **options) -> None or the reason it cannot
            run on this model with these options` (those `report_arguments` gives), or `None` if
            it runs on every model.
        variant: for a `cam(method=name)` variant, `"module:Class"` of its `BaseCAM` subclass.
        variant_options: the `cam` keywords passed on to the variant's constructor.
    """

    name: str
    family: str
    function: str
    title: str
    caption: str = ""
    label: str = ""
    aliases: typing.Tuple[str, ...] = ()
    defaults: typing.Mapping[str, typing.Any] = dataclasses.field(default_factory=dict)
    report_options: typing.Mapping[str, str] = dataclasses.field(default_factory=dict)
    drawing: typing.Optional[Drawing] = None
    unavailable: typing.Optional[str] = None
    variant: typing.Optional[str] = None
    variant_options: typing.Tuple[str, ...] = ()

    def __post_init__(self):
        families = tuple(family.name for family in FAMILIES)
        if self.family not in families:
            raise ValueError(f"Expected `family` to be one of {families}. "
                             f"Received: family={self.family!r}")
        _check_path(self.function, "function")
        for name in ("unavailable", "variant"):
            if getattr(self, name) is not None:
                _check_path(getattr(self, name), name)
        for option, source in self.report_options.items():
            if source.partition(".")[0] not in _SOURCES or not source.partition(".")[2]:
                name = f"report_options[{option!r}]"
                raise ValueError(f"Expected `{name}` to be 'settings.<field>' or "
                                 f"'subject.<attribute>'. Received: {name}={source!r}")
        # Frozen, and read-only all the way down: consumers share one spec.
        object.__setattr__(self, "label", self.label or self.title)
        object.__setattr__(self, "aliases", tuple(self.aliases))
        object.__setattr__(self, "variant_options", tuple(self.variant_options))
        object.__setattr__(self, "defaults", types.MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "report_options",
                           types.MappingProxyType(dict(self.report_options)))

    def load(self):
        """The method's function."""
        return resolve(self.function)

    def load_variant(self):
        """The `BaseCAM` subclass of a `cam` variant."""
        if self.variant is None:
            raise ValueError(f"Expected a `cam` variant. Received: method={self.name!r}")
        return resolve(self.variant)

    def report_arguments(self, subject, settings):
        """The options the report calls `function` with: `defaults`, then `report_options`."""
        return {**self.defaults, **self._filled({"settings": settings, "subject": subject})}

    def settings_arguments(self, settings):
        """The options of `report_options` that the report's `settings` give, filled from them."""
        return self._filled({"settings": settings})

    def _filled(self, sources):
        """The options of `report_options` whose source is among `sources` (`{"settings": ...}`),
        each read from it."""
        filled = {}
        for option, source in self.report_options.items():
            where, _, attribute = source.partition(".")
            if where in sources:
                filled[option] = getattr(sources[where], attribute)
        return filled

    def why_unavailable(self, subject, settings):
        """`None`, or the reason the method cannot run on the subject's model."""
        if self.unavailable is None:
            return None
        return resolve(self.unavailable)(subject.model, **self.report_arguments(subject, settings))


_CAM_LAYER = {"layer": "settings.cam_layer"}

LRP_COMPOSITES = ("epsilon_plus_flat", "epsilon_plus", "epsilon", "epsilon_gamma_box",
                  "epsilon_alpha2_beta1", "alpha1_beta0")
"""The named composites of `keras_vis.lrp` (defined in `keras_vis.rules.lrp`), the default first."""

DEFAULTS = types.MappingProxyType({
    # How much work each method does: chosen so that a default call explains an image of a 224²
    # ImageNet network in seconds on a CPU (benchmarks/results/defaults.md measures them).
    "smooth_samples": 16,
    "ig_steps": 32,
    "shap_samples": 16,
    "score_cam_maps": 64,
    "rise_masks": 300,
    # How much the report and the command line draw.
    "display_size": 128,
    "max_filters": 32,
    "feature_channels": 8,
    "maximize_filters": 16,
    "maximize_steps": 64,
    "class_steps": 96,
    "max_classes": 8,
    "occlusion_threshold": 0.85,
    "batch_size": 32,
    "seed": 0,
})
"""The one default of each option a user tunes, by its `keras_vis.report.Settings` name: the
methods' Python signatures (`integrated_gradients(steps=)`, `rise(masks=)`, ...), the report's
`Settings`, the command line's `--help` and the explorer all read it here."""

RULE_ROLES = {
    "elementwise": "maps each value on its own (an activation, a scale, a custom normalization)",
    "linear": "adds values up with fixed weights (a weighted sum of its inputs, a resampling)",
    "routing": "only moves, copies or pads values (a reshape, a crop, a slice)",
    "gate": "multiplies a signal by a gate computed from it",
}
"""What a user can say a layer no relevance rule covers computes (`lrp(..., rules=)`,
`--rule LAYER=ROLE`); each relevance method gives it the rule that fits (`keras_vis.rules.by_name`).
"""


def cam_variant(name, variant, title, caption, *, report_options=_CAM_LAYER, **fields):
    """The entry of a `cam(method=name)` variant, drawn over the image.

    Args:
        name: the `method` name.
        variant: `"module:Class"` of its `BaseCAM` subclass.
        title, caption: as in `MethodSpec`.
        report_options: as in `MethodSpec`; default the report's CAM layer.
        **fields: other `MethodSpec` fields.
    """
    return MethodSpec(name, "cam", "keras_vis.attribution:cam", title, caption,
                      defaults={"method": name}, report_options=report_options,
                      drawing=OVER_IMAGE, variant=variant, **fields)


def relevance_method(name, title, caption, **report_options):
    """The entry of a relevance method of `keras_vis.attribution` (`lrp`, `deeplift`): signed,
    and given the report's rules for the layers no rule covers.

    Args:
        name: the method's name, that of its function in `keras_vis.attribution`.
        title, caption: as in `MethodSpec`.
        **report_options: its other report options, as in `MethodSpec.report_options`.
    """
    return MethodSpec(name, "lrp", f"keras_vis.attribution:{name}", title, caption,
                      report_options={**report_options, "rules": "settings.relevance_rules"},
                      drawing=SIGNED)


METHODS = (
    MethodSpec(
        "vanilla", "saliency", "keras_vis.attribution:saliency", "Gradient",
        "How much each pixel changes the class logit (Simonyan et al.).",
        label="vanilla", aliases=("saliency",), drawing=ON_ITS_OWN),
    MethodSpec(
        "guided", "saliency", "keras_vis.attribution:saliency", "Guided backprop",
        "Gradients kept only where both the forward input and the backward signal are positive.",
        label="guided", aliases=("guided_backprop",), defaults={"method": "guided"},
        drawing=ON_ITS_OWN),
    MethodSpec(
        "deconvnet", "saliency", "keras_vis.attribution:saliency", "Deconvnet backprop",
        "Gradients with every rectifier's backward pass rectified (Zeiler & Fergus).",
        label="deconvnet", defaults={"method": "deconvnet"}, drawing=ON_ITS_OWN),
    MethodSpec(
        "smoothgrad", "saliency", "keras_vis.attribution:saliency", "SmoothGrad",
        "Gradients averaged over noisy copies of the image.",
        defaults={"smooth_samples": DEFAULTS["smooth_samples"], "seed": 0},
        report_options={"smooth_samples": "settings.smooth_samples", "seed": "settings.seed"},
        drawing=ON_ITS_OWN),
    MethodSpec(
        "gradient_input", "saliency", "keras_vis.attribution:gradient_input", "Gradient × input",
        "Gradient times pixel value.", label="gradient×input", drawing=ON_ITS_OWN),
    MethodSpec(
        "integrated_gradients", "saliency", "keras_vis.attribution:integrated_gradients",
        "Integrated gradients",
        "Gradients averaged along the path from a black image (Sundararajan et al.).",
        label="integrated gradients",
        report_options={"steps": "settings.ig_steps", "baseline": "subject.black_input"},
        drawing=ON_ITS_OWN),
    MethodSpec(
        "gradient_shap", "saliency", "keras_vis.attribution:gradient_shap", "GradientSHAP",
        "Gradients at random points between a black image and the image, times their "
        "difference: expected gradients (Lundberg & Lee).",
        label="GradientSHAP", defaults={"seed": 0, "reduce": "abs_sum"},
        report_options={"samples": "settings.shap_samples", "seed": "settings.seed",
                        "baselines": "subject.black_input"},
        drawing=ON_ITS_OWN),
    cam_variant(
        "cam", "keras_vis.attribution.cam.classic:ClassicCAM", "CAM",
        "Feature maps weighted by the dense layer's weights of the class (Zhou et al.).",
        unavailable="keras_vis.attribution.cam.classic:unavailable"),
    cam_variant(
        "gradcam", "keras_vis.attribution.cam.gradcam:GradCAM", "Grad-CAM",
        "Feature maps weighted by their mean gradient (Selvaraju et al.)."),
    cam_variant(
        "gradcam++", "keras_vis.attribution.cam.gradcampp:GradCAMPlusPlus", "Grad-CAM++",
        "Feature maps weighted by higher-order gradient terms (Chattopadhyay et al.)."),
    cam_variant(
        "layercam", "keras_vis.attribution.cam.layercam:LayerCAM", "LayerCAM",
        "Each position weighted by its own positive gradient (Jiang et al.)."),
    cam_variant(
        "hirescam", "keras_vis.attribution.cam.hirescam:HiResCAM", "HiResCAM",
        "Feature maps times their gradients, position by position (Draelos & Carin)."),
    cam_variant(
        "scorecam", "keras_vis.attribution.cam.scorecam:ScoreCAM", "Score-CAM",
        "Feature maps weighted by the class probability of the image masked by each (Wang et al.).",
        report_options={**_CAM_LAYER, "max_maps": "settings.score_cam_maps"},
        variant_options=("max_maps", "fill")),
    cam_variant(
        "xgradcam", "keras_vis.attribution.cam.xgradcam:XGradCAM", "XGrad-CAM",
        "Feature maps weighted by their activation-normalised gradients (Fu et al.)."),
    cam_variant(
        "eigencam", "keras_vis.attribution.cam.eigencam:EigenCAM", "Eigen-CAM",
        "The first principal component of the feature maps; no gradient needed (Muhammad & "
        "Yeasin)."),
    cam_variant(
        "eigengradcam", "keras_vis.attribution.cam.eigencam:EigenGradCAM", "Eigen-Grad-CAM",
        "The first principal component of the feature maps times their gradients."),
    cam_variant(
        "ablationcam", "keras_vis.attribution.cam.ablationcam:AblationCAM", "Ablation-CAM",
        "Feature maps weighted by the drop of the score when each is zeroed (Desai & "
        "Ramaswamy).",
        variant_options=("max_channels",)),
    cam_variant(
        "fullgrad", "keras_vis.attribution.cam.fullgrad:FullGrad", "FullGrad",
        "Input gradient times input plus every convolution's bias gradients, summed over the "
        "layers (Srinivas & Fleuret).",
        report_options={}),
    MethodSpec(
        "guided_gradcam", "cam", "keras_vis.attribution:guided_gradcam", "Guided Grad-CAM",
        "Guided backprop sharpened where Grad-CAM points.", label="guided Grad-CAM",
        report_options=_CAM_LAYER, drawing=ON_ITS_OWN),
    relevance_method(
        "lrp", "LRP",
        "The class logit redistributed layer by layer onto the pixels (Bach et al.); red for "
        "the class, blue against it.",
        composite="settings.lrp_composite"),
    relevance_method(
        "deeplift", "DeepLIFT",
        "Each pixel's share of the logit's difference from a black image (rescale rule, "
        "Shrikumar et al.); red raises it, blue lowers it.",
        baseline="subject.black_input"),
    # Read as importance (high where hiding a patch costs the most), as the metrics read every
    # map; the report draws occlusion its own way, with the mask of the regions that matter.
    MethodSpec(
        "occlusion", "occlusion", "keras_vis.attribution.occlusion:occlusion_importance", "Occlusion"),
    MethodSpec(
        "rise", "occlusion", "keras_vis.attribution:rise", "RISE",
        "The class probability of the image seen through random masks, averaged with the masks "
        "as weights (Petsiuk et al.).",
        defaults={"seed": 0},
        report_options={"masks": "settings.rise_masks", "seed": "settings.seed"},
        drawing=OVER_IMAGE),
)

_BY_NAME = {name: spec for spec in METHODS for name in (spec.name, *spec.aliases)}


def find(name):
    """The `MethodSpec` of a name or alias, or `None`."""
    return _BY_NAME.get(name)


def known_names():
    """Every name and alias, in registry order (each name before its aliases)."""
    return tuple(_BY_NAME)


def family(name):
    """The methods of one family, in registry order."""
    return tuple(spec for spec in METHODS if spec.family == name)


def drawn(family_name=None):
    """The methods the report's method table draws (of one family, if given), in registry order."""
    return tuple(spec for spec in METHODS if spec.drawing is not None
                 and family_name in (None, spec.family))


def cam_variants():
    """The `cam(method=...)` variants, in registry order."""
    return tuple(spec for spec in METHODS if spec.variant is not None)


def choices(family_spec):
    """The names a family's `--method` takes, in the order they are drawn: the method drawn apart
    (if any), then the drawn ones."""
    apart = (family_spec.apart,) if family_spec.apart else ()
    return apart + tuple(spec.name for spec in drawn(family_spec.name))


def command_help(family_spec):
    """The `keras-vis --help` line of a family's subcommand: its summary, then its methods."""
    labels = [find(name).label for name in choices(family_spec)]
    return f"{family_spec.summary}: {', '.join(labels)}" if labels else family_spec.summary


METRIC_INPUTS = ("model", "method", "images", "maps", "masks", "target")
"""What a metric may read, by the keyword `keras_vis.metrics.evaluate` takes it as: the model, an
attribution method (a name or a function, for a metric that runs it again), the images, one map
per image, object masks, and the target (the class; `None` for the predicted one)."""


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """One faithfulness metric.

    Attributes:
        name: the name `keras_vis.metrics.evaluate`, the `FaithfulnessCallback`'s `metrics=` and
            `keras-vis evaluate --metric` take; also its TensorBoard tag.
        function: `"module:attribute"` of the metric: it takes the inputs of `needs` but `target`
            positionally, in that order (`target` as a keyword), and returns a `MetricResult`.
        title: its name in tables.
        summary: what it measures, in one line.
        needs: what it reads, from `METRIC_INPUTS`.
        higher_is_better: a higher `score` means a more faithful map (or one that points better).
    """

    name: str
    function: str
    title: str
    summary: str
    needs: typing.Tuple[str, ...]
    higher_is_better: bool

    def __post_init__(self):
        _check_path(self.function, "function")
        unknown = [need for need in self.needs if need not in METRIC_INPUTS]
        if unknown:
            raise ValueError(f"Expected `needs` to name inputs of {METRIC_INPUTS}. "
                             f"Received: needs={self.needs!r}")
        object.__setattr__(self, "needs", tuple(self.needs))

    @property
    def positional(self):
        """The inputs its function takes positionally, in order (all of `needs` but `target`)."""
        return tuple(need for need in self.needs if need != "target")

    def load(self):
        """The metric's function."""
        return resolve(self.function)


_SCORED = ("model", "images", "maps", "target")

METRICS = (
    MetricSpec(
        "deletion", "keras_vis.metrics.deletion:deletion", "Deletion AUC",
        "the class probability as the most important pixels are removed (Petsiuk et al.)",
        _SCORED, higher_is_better=False),
    MetricSpec(
        "insertion", "keras_vis.metrics.deletion:insertion", "Insertion AUC",
        "the class probability as the most important pixels are revealed (Petsiuk et al.)",
        _SCORED, higher_is_better=True),
    MetricSpec(
        "road", "keras_vis.metrics.road:road", "ROAD AUC",
        "deletion with the removed pixels imputed from their neighbours (Rong et al.)",
        _SCORED, higher_is_better=False),
    MetricSpec(
        "average_drop", "keras_vis.metrics.drop:average_drop", "Average drop (%)",
        "the confidence lost when the image is seen through its map (Chattopadhyay et al.)",
        _SCORED, higher_is_better=False),
    MetricSpec(
        "mufidelity", "keras_vis.metrics.mufidelity:mufidelity", "MuFidelity",
        "the correlation of the map's mass on random subsets with the score they carry (Bhatt "
        "et al.)", _SCORED, higher_is_better=True),
    MetricSpec(
        "pointing_game", "keras_vis.metrics.pointing:pointing_game", "Pointing game",
        "the share of maps whose maximum lies on the object (Zhang et al.)",
        ("maps", "masks"), higher_is_better=True),
    MetricSpec(
        "energy_pointing", "keras_vis.metrics.pointing:energy_pointing", "Energy pointing",
        "the share of the maps' mass on the object (Wang et al.)",
        ("maps", "masks"), higher_is_better=True),
    MetricSpec(
        "sparseness", "keras_vis.metrics.sparseness:sparseness", "Sparseness (Gini)",
        "how concentrated each map is: the Gini index of its values (Chalasani et al.)",
        ("maps",), higher_is_better=True),
    MetricSpec(
        "randomization_check", "keras_vis.metrics.randomization:randomization_check",
        "Randomization (Spearman)",
        "the maps' rank correlation with the original once the weights are randomized from the "
        "top layer down (Adebayo et al.)",
        ("model", "method", "images", "target"), higher_is_better=False),
)

_METRICS_BY_NAME = {spec.name: spec for spec in METRICS}


def find_metric(name):
    """The `MetricSpec` of a metric name, or `None`."""
    return _METRICS_BY_NAME.get(name)


def metrics_reading(*inputs):
    """The metrics that read nothing beyond `inputs` (names of `METRIC_INPUTS`), in order."""
    return tuple(spec for spec in METRICS if set(spec.needs) <= set(inputs))
