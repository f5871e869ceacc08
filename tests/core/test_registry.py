"""The method registry: every method described once, and every consumer derived from it."""

import argparse
import ast
import dataclasses
import inspect
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from keras_vis import registry
from keras_vis.attribution import cam
from keras_vis.attribution.cam import METHODS as CAM_CLASSES, BaseCAM
from keras_vis.cli import parser as cli_parser
from keras_vis.report import methods as report_methods
from keras_vis.report.settings import Settings
from keras_vis.report.subject import Subject

PACKAGE = pathlib.Path(registry.__file__).parent

# Literals whose strings are spelled like method names but name something else.
NOT_METHOD_LISTS = {
    ("__init__.py", "_FUNCTIONS"),  # the functions `keras_vis` exports lazily
    ("attribution/saliency.py", "COMPOSITES"),  # saliency's own backprop rules
}


class _AnySubject:
    """Stands for a `Subject` whose attributes are not computed."""

    def __getattr__(self, name):
        return None


def test_every_entry_resolves_to_a_callable_its_options_bind_to():
    for spec in registry.METHODS:
        function = spec.load()
        assert callable(function), spec.name
        signature = inspect.signature(function)
        signature.bind_partial(None, None, None, **spec.defaults, batch_size=1)
        signature.bind_partial(None, None, None, **spec.report_arguments(
            _AnySubject(), Settings()), batch_size=1)
        if spec.unavailable is not None:
            inspect.signature(registry.resolve(spec.unavailable)).bind(None, None)


def test_report_options_read_real_settings_fields_and_subject_attributes():
    fields = {field.name for field in dataclasses.fields(Settings)}
    subject_fields = {field.name for field in dataclasses.fields(Subject)}
    for spec in registry.METHODS:
        for option, source in spec.report_options.items():
            where, _, attribute = source.partition(".")
            if where == "settings":
                assert attribute in fields, (spec.name, option)
            else:
                assert attribute in subject_fields or hasattr(Subject, attribute), (spec, option)


def test_names_and_aliases_are_unique():
    names = [name for spec in registry.METHODS for name in (spec.name, *spec.aliases)]
    assert len(names) == len(set(names))
    assert list(registry.known_names()) == names
    for name in names:
        assert name in (registry.find(name).name, *registry.find(name).aliases)
    assert registry.find("no such method") is None


def test_every_family_has_methods_and_every_method_a_family():
    families = [family.name for family in registry.FAMILIES]
    assert len(families) == len(set(families))
    for family in families:
        assert registry.family(family), family
    assert sum(len(registry.family(family)) for family in families) == len(registry.METHODS)
    with pytest.raises(ValueError, match="Expected `family`"):
        registry.MethodSpec("new", "no such family", "keras_vis.attribution:saliency", "New")


def test_specs_are_read_only():
    spec = registry.find("smoothgrad")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"
    with pytest.raises(TypeError):
        spec.defaults["seed"] = 1


def test_cam_variants_are_base_cam_subclasses_taking_their_options():
    cam_keywords = inspect.signature(cam).parameters
    for spec in registry.cam_variants():
        variant = spec.load_variant()
        assert issubclass(variant, BaseCAM), spec.name
        inspect.signature(variant).bind_partial(**dict.fromkeys(spec.variant_options))
        assert set(spec.variant_options) <= set(cam_keywords), spec.name
        assert spec.load() is cam and spec.defaults["method"] == spec.name
    with pytest.raises(ValueError, match="Expected a `cam` variant"):
        registry.find("vanilla").load_variant()


def test_cam_accepts_exactly_the_cam_variant_names(tiny_cnn, rng):
    images = rng.random((1, 16, 16, 3), dtype=np.float32)
    variants = [spec.name for spec in registry.cam_variants()]
    assert list(CAM_CLASSES) == variants
    assert [CAM_CLASSES[spec.name] for spec in registry.cam_variants()] == [
        spec.load_variant() for spec in registry.cam_variants()]
    for name in variants:
        maps = cam(tiny_cnn, images, 0, method=name)
        assert maps.shape == (1, 16, 16), name
    choices = re.escape(", ".join(repr(name) for name in variants))
    for name in sorted(set(registry.known_names()) - set(variants)):
        with pytest.raises(ValueError, match=f"Expected `method` to be one of {choices}\\."):
            cam(tiny_cnn, images, 0, method=name)


def _subcommands():
    action = next(a for a in cli_parser.build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_cli_method_choices_and_help_are_the_registry_s():
    subcommands = _subcommands()
    for family in registry.FAMILIES:
        names = tuple(spec.name for spec in registry.drawn(family.name))
        names = ((family.apart,) if family.apart else ()) + names
        options = [a for a in subcommands[family.name]._actions if "--method" in a.option_strings]
        if names:
            assert tuple(options[0].choices) == names + ("all",), family.name
        else:
            assert not options, family.name
        assert cli_parser.find_command(family.name).help == registry.command_help(family)
    assert registry.command_help(registry.FAMILIES[0]).startswith("gradient saliency maps: ")


def test_report_table_is_the_registry_s_drawn_methods():
    assert report_methods.METHODS == registry.drawn()
    for family in registry.FAMILIES:
        assert tuple(report_methods.group(family.name)) == registry.drawn(family.name)


@pytest.mark.subprocess
def test_registry_and_cli_parser_import_without_tensorflow():
    code = ("import sys, keras_vis.registry, keras_vis.cli.parser as p; p.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'numpy')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_registry_imports_only_the_standard_library():
    tree = ast.parse((PACKAGE / "registry.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            assert module.split(".")[0] in sys.stdlib_module_names, module


def _named(node):
    """The string `node` is, or the string a call `node` gets first (`Method("gradcam", ...)`)."""
    if isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def method_lists(source, path):
    """`(line, names)` of each tuple, list or set literal, or dict literal's keys, that names two
    or more methods or aliases: as string constants, or as the first argument of calls."""
    names = set(registry.known_names())
    tree = ast.parse(source)
    exempt = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and (t.id == "__all__" or (path, t.id) in
                                                NOT_METHOD_LISTS) for t in targets):
                exempt.update(id(inner) for inner in ast.walk(node.value))
    found = []
    for node in ast.walk(tree):
        if id(node) in exempt:
            continue
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [key for key in node.keys if key is not None]
        else:
            continue
        hits = [name for name in map(_named, items) if name in names]
        if len(hits) >= 2:
            found.append((node.lineno, hits))
    return sorted(found)


def test_no_consumer_lists_methods_by_hand():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "registry.py":
            continue
        for line, hits in method_lists(path.read_text(encoding="utf-8"), relative):
            problems.append(f"keras_vis/{relative}:{line}: {hits}")
    assert not problems, ("methods listed by hand instead of read from keras_vis.registry:\n"
                          + "\n".join(problems))


def test_the_hand_list_check_catches_lists_of_methods():
    source = ('SALIENCY_METHODS = ("vanilla", "guided", "deconvnet")\n'
              'METHODS = {"gradcam": GradCAM, "cam": ClassicCAM}\n'
              'def f():\n'
              '    return f(["occlusion", "saliency"], {"smoothgrad", "x"})\n'
              '__all__ = ["cam", "gradcam"]\n'
              'TABLE = (Method("cam", "CAM"), Method("hirescam", "HiResCAM"))\n')
    assert method_lists(source, "module.py") == [
        (1, ["vanilla", "guided", "deconvnet"]), (2, ["gradcam", "cam"]),
        (4, ["occlusion", "saliency"]), (6, ["cam", "hirescam"])]


def test_cli_docs_name_every_drawn_method():
    docs = (PACKAGE.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    for family in registry.FAMILIES:
        (row,) = [line for line in docs.splitlines() if line.startswith(f"| `{family.name}` |")]
        for method in registry.drawn(family.name):
            assert re.search(rf"[ (]{re.escape(method.name)}[ ,]", row), (family.name, method.name)


def test_each_option_has_one_default_everywhere(tiny_cnn):
    """The Python signatures, the report's `Settings`, the registry's named methods, the command
    line's `--help` of every command that takes the option, and the explorer state the same
    default for each option."""
    import inspect

    import numpy as np

    from keras_vis.attribution import (gradient_shap, integrated_gradients, lrp, occlusion_mask,
                                       rise, saliency)
    from keras_vis.attribution.cam.scorecam import ScoreCAM
    from keras_vis.cli.options import COMMAND_OPTIONS, METHOD_WORK
    from keras_vis.cli.parser import build_parser
    from keras_vis.explorer.session import Explorer
    from keras_vis.report.settings import Settings

    def default(function, parameter):
        return inspect.signature(function).parameters[parameter].default

    settings = Settings()
    python = {"ig_steps": default(integrated_gradients, "steps"),
              "shap_samples": default(gradient_shap, "samples"),
              "rise_masks": default(rise, "masks"),
              "score_cam_maps": ScoreCAM().max_maps,
              "smooth_samples": registry.find("smoothgrad").defaults["smooth_samples"],
              "occlusion_threshold": default(occlusion_mask, "threshold"),
              "lrp_composite": default(lrp, "composite"),
              "batch_size": default(saliency, "batch_size")}
    for name, value in python.items():
        assert getattr(settings, name) == value, name
    for name, value in registry.DEFAULTS.items():
        assert getattr(settings, name) == value, name
    parsers = build_parser().subcommands
    checked = set()
    for command, options in COMMAND_OPTIONS.items():
        helps = {action.dest: " ".join(action.help.split())
                 for action in parsers[command]._actions if action.help}
        for option in options:
            assert option.field in helps, (command, option.flag)
            if option.repeat:
                continue
            if option.default_text is None:
                value = registry.DEFAULTS[option.field]
                assert getattr(settings, option.field) == value, option.field
                assert f"(default {value})" in helps[option.field], (command, option.flag)
            else:
                assert f"(default: {option.default_text})" in helps[option.field]
            checked.add(option.field)
    assert {"smooth_samples", "ig_steps", "shap_samples", "score_cam_maps", "rise_masks",
            "maximize_steps", "class_steps", "maximize_filters", "occlusion_threshold",
            "display_size", "max_filters", "feature_channels", "lrp_composite"} <= checked
    assert settings.lrp_composite == registry.LRP_COMPOSITES[0]
    # Every family tunes its methods with options of its own, and every option belongs to one.
    fields = [field for family in registry.FAMILIES for field in family.settings]
    assert sorted(fields) == sorted(option.field for option in METHOD_WORK)
    explorer = Explorer(tiny_cnn, np.zeros((1, 16, 16, 3), np.uint8), ["black"])
    assert explorer.settings.maximize_steps == registry.DEFAULTS["maximize_steps"]
    assert explorer.describe_model()["maximize_steps"] == registry.DEFAULTS["maximize_steps"]
    assert explorer.settings.display_size == registry.DEFAULTS["display_size"]
