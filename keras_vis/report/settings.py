"""How much work each technique does in a report or on the command line."""

import dataclasses
import typing

from keras_vis._checks import check_number, check_positive_int, expected
from keras_vis.limits import MAX_SIDE
from keras_vis.registry import DEFAULTS, LRP_COMPOSITES, RULE_ROLES


@dataclasses.dataclass(frozen=True)
class Settings:
    """Step counts, layers and sizes for every technique; the defaults (read from
    `keras_vis.registry.DEFAULTS`, as the methods' own are) suit the bundled demo model (a whole
    report in well under a minute on two CPU cores) and scale to ImageNet models.

    Layers are names (nested paths allowed) or `None` for a choice made from the model's structure.

    Attributes:
        display_size: pictures smaller than this (shorter side, pixels) are enlarged by a whole
            factor, nearest neighbour, so 64-pixel inputs stay crisp.
        filter_layers: convolutions whose kernels are drawn; default the first two.
        max_filters: kernels drawn per layer.
        feature_layers: layers whose feature maps are drawn; default up to four convolutions spread
            over the depth.
        feature_channels: feature maps drawn per layer.
        maximize_layer: the layer whose channels are maximized; default the last convolution.
        maximize_filters: channels maximized: those most active on the images.
        maximize_steps: optimisation steps for channels.
        maximize_size: size of the channel images; default the model's input size, at most 128.
        class_steps: optimisation steps for class images (0 to skip them).
        max_classes: at most this many classes get an image (the predicted ones first).
        cam_layer: the layer class activation maps weight; default the last convolution.
        smooth_samples: SmoothGrad noisy copies per image.
        ig_steps: integrated-gradients path points.
        score_cam_maps: Score-CAM keeps this many channels of highest variance.
        rise_masks: RISE random masks per image.
        shap_samples: GradientSHAP samples per image.
        lrp_composite: the layer-wise relevance propagation composite (see `keras_vis.lrp`).
        relevance_rules: `(layer name, role)` pairs: what layers no relevance rule covers compute
            (a role of `keras_vis.registry.RULE_ROLES`), for LRP and DeepLIFT (their `rules=`).
        occlusion_patch: side of the occluding square; default an eighth of the image (at least 4).
        occlusion_stride: step between patches; default half the patch.
        occlusion_threshold: share of the maximum below which a region counts as needed.
        occlusion_approximate: `None` for exact occlusion maps, or Krypton's threshold τ in
            (0, 1] (see `keras_vis.occlusion`'s `approximate`): faster, approximate maps.
        deconv_layers: layers projected by the deconvnet; default a middle and the last convolution.
        batch_size: images per compiled call.
        seed: seed of every random start and noise sample.
        progress: show progress bars.
    """

    display_size: int = DEFAULTS["display_size"]
    filter_layers: typing.Optional[typing.Tuple[str, ...]] = None
    max_filters: int = DEFAULTS["max_filters"]
    feature_layers: typing.Optional[typing.Tuple[str, ...]] = None
    feature_channels: int = DEFAULTS["feature_channels"]
    maximize_layer: typing.Optional[str] = None
    maximize_filters: int = DEFAULTS["maximize_filters"]
    maximize_steps: int = DEFAULTS["maximize_steps"]
    maximize_size: typing.Optional[int] = None
    class_steps: int = DEFAULTS["class_steps"]
    max_classes: int = DEFAULTS["max_classes"]
    cam_layer: typing.Optional[str] = None
    smooth_samples: int = DEFAULTS["smooth_samples"]
    ig_steps: int = DEFAULTS["ig_steps"]
    score_cam_maps: int = DEFAULTS["score_cam_maps"]
    rise_masks: int = DEFAULTS["rise_masks"]
    shap_samples: int = DEFAULTS["shap_samples"]
    lrp_composite: str = LRP_COMPOSITES[0]
    relevance_rules: typing.Tuple[typing.Tuple[str, str], ...] = ()
    occlusion_patch: typing.Optional[int] = None
    occlusion_stride: typing.Optional[int] = None
    occlusion_threshold: float = DEFAULTS["occlusion_threshold"]
    occlusion_approximate: typing.Optional[float] = None
    deconv_layers: typing.Optional[typing.Tuple[str, ...]] = None
    batch_size: int = DEFAULTS["batch_size"]
    seed: int = DEFAULTS["seed"]
    progress: bool = True

    def __post_init__(self):
        for name in ("display_size", "max_filters", "feature_channels", "maximize_filters",
                     "maximize_steps", "max_classes", "smooth_samples", "ig_steps",
                     "score_cam_maps", "rise_masks", "shap_samples", "batch_size"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.class_steps, "class_steps", minimum=0)
        check_positive_int(self.seed, "seed", minimum=0)
        for name in ("maximize_size", "occlusion_patch", "occlusion_stride"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name)
        for name in ("display_size", "maximize_size"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name, maximum=MAX_SIDE)
        check_number(self.occlusion_threshold, "occlusion_threshold", low=0, high=1)
        if self.occlusion_approximate is not None:
            check_number(self.occlusion_approximate, "occlusion_approximate", low=0, high=1,
                         low_inclusive=False)
        if not isinstance(self.lrp_composite, str):
            raise TypeError(expected("lrp_composite", "a composite name", self.lrp_composite))
        object.__setattr__(self, "relevance_rules", tuple(
            tuple(pair) for pair in self.relevance_rules))
        for pair in self.relevance_rules:
            if (len(pair) != 2 or not isinstance(pair[0], str) or pair[1] not in RULE_ROLES):
                raise ValueError(expected(
                    "relevance_rules", f"(layer name, role) pairs with roles among "
                    f"{', '.join(RULE_ROLES)}", self.relevance_rules))
        for name in ("filter_layers", "feature_layers", "deconv_layers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, str) or not value):
                raise ValueError(expected(name, "None or a non-empty tuple of layer names", value))
