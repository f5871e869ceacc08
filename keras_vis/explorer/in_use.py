"""The settings the explorer computes with, as the page shows them: JSON-ready values, and the
options each attribution method was called with."""

import dataclasses


def json_value(value):
    """A `keras_vis.report.Settings` value as JSON: a tuple as a list, each `(layer, role)` pair
    of `relevance_rules` as `"layer=role"`, as `--rule` takes it."""
    if isinstance(value, tuple):
        return ["=".join(item) if isinstance(item, tuple) else item for item in value]
    return value


def settings_json(settings, **resolved):
    """Every work field of `settings` (a `keras_vis.report.Settings`), JSON-ready.

    Args:
        settings: the `Settings`.
        **resolved: values the explorer chose from the model and its images for fields the
            settings leave to it (`maximize_size=64`), shown in place of their `None`.
    """
    values = {field.name: json_value(getattr(settings, field.name))
              for field in dataclasses.fields(settings) if field.name != "progress"}
    return {**values, **resolved}


def method_options(spec, settings):
    """The options of a registry method (`MethodSpec`) that `settings` fill, as JSON:
    `{"masks": 300, "seed": 0}` for RISE; an option left to the method (`None`, no rules) is left
    out."""
    return {option: json_value(value)
            for option, value in spec.settings_arguments(settings).items()
            if value is not None and value != ()}
