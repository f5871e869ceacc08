"""Every registered attribution method as a test case: its function, its defaults and options that
keep it fast on tiny models. Tests that must cover every method iterate `CASES`, so a method added to
`keras_vis.registry` is tested without being named here."""

import inspect

from keras_vis import registry

# Work-size options, by option name, given to every method that takes them.
FAST = {
    "smooth_samples": 2, "steps": 3, "samples": 2, "masks": 24, "max_maps": 3, "max_channels": 3,
    "patch": 8, "stride": 8,
}
# `cam` keywords that only some variants take (`MethodSpec.variant_options`).
VARIANT_OPTIONS = {option for spec in registry.cam_variants() for option in spec.variant_options}


def parameters(spec):
    """`{name: default}` of the keyword options `spec`'s function takes (a variant: its own only)."""
    found = {name: parameter.default
             for name, parameter in inspect.signature(spec.load()).parameters.items()}
    if spec.variant is not None:
        for name in VARIANT_OPTIONS - set(spec.variant_options):
            found.pop(name, None)
    return {**found, **spec.defaults}


def options(spec, **overrides):
    """The options a test calls `spec`'s function with: its defaults, with the work sizes of
    `FAST` where they are smaller (`None` standing for "all"); a size that is off stays off."""
    current = parameters(spec)
    fast = {name: value for name, value in FAST.items() if name in current
            and (current[name] is None or current[name] > value)}
    return {**spec.defaults, **fast, **overrides}


def call(spec, model, images, target=None, **overrides):
    """`spec`'s maps of `images`, computed fast."""
    return spec.load()(model, images, target, **options(spec, **overrides))


# name -> MethodSpec, every registered method.
CASES = {spec.name: spec for spec in registry.METHODS}
