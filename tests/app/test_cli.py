"""The `keras-vis` command, run in-process: every subcommand on the bundled model, valid pictures
that show what the library computes, and bad input answered with one line, exit code 2 and an
untouched output folder."""

import contextlib
import json
import os
import pathlib
import re
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest

from keras_vis import demo, plot, registry
from keras_vis.attribution import gradcam, lrp
from keras_vis.cli import commands, main, parser
from keras_vis.inspect import summary
from keras_vis.report.pictures import enlarge
from keras_vis.report.subject import file_name

# Tiny step counts: the commands' wiring is tested here, the techniques in their own tests.
FAST = {
    "maximize": ["--filters", "2", "--steps", "2", "--class-steps", "2"],
    "saliency": ["--smooth-samples", "2", "--ig-steps", "2", "--shap-samples", "2"],
    "cam": ["--score-cam-maps", "4"],
    "occlusion": ["--rise-masks", "32", "--approximate", "0.5"],
    "report": ["--filters", "2", "--steps", "2", "--class-steps", "2", "--smooth-samples", "2",
               "--ig-steps", "2", "--shap-samples", "2", "--score-cam-maps", "4",
               "--rise-masks", "32"],
}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def listing(folder):
    """Every file under `folder` with its size and modification time (`None` if no folder)."""
    if not folder.exists():
        return None
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


def read_png(path):
    image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} is not a readable image"
    assert image.std() > 0, f"{path} is blank"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Two of the bundled sample images, written as PNG files, and their names."""
    folder = tmp_path_factory.mktemp("images")
    pictures, names = demo.sample_images()
    paths = []
    for picture, name in list(zip(pictures, names))[:2]:
        path = folder / f"{name}.png"
        cv2.imwrite(os.fspath(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def test_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in parser.COMMANDS:
        assert command.name in out


@pytest.mark.subprocess
def test_console_script_help_runs():
    script = pathlib.Path(sys.executable).with_name("keras-vis")
    assert script.exists(), "the package is not installed (pip install -e .)"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for command in parser.COMMANDS:
        assert command.name in done.stdout


def test_summary_with_no_options_uses_the_bundled_model(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "summary", "--quiet")
    assert code == 0 and err == ""
    folder = tmp_path / "keras_vis_output"
    expected = summary(demo.load_model())
    assert str(expected) in out
    written = json.loads((folder / "summary.json").read_text())
    assert written == json.loads(json.dumps(expected.to_dict()))
    assert (folder / "summary.txt").read_text() == str(expected) + "\n"


@pytest.mark.parametrize("command", ["filters", "features", "maximize", "saliency", "cam", "lrp",
                                     "occlusion", "deconv"])
def test_every_command_writes_valid_pictures(capsys, tmp_path, samples, command,
                                            tensorflow_warnings):
    out = tmp_path / "out"
    images = [] if command == "filters" else samples  # kernels need no images
    code, printed, err = run(capsys, command, *images, "--out", out, *FAST.get(command, []))
    assert code == 0, err
    assert "\x1b" not in err  # stderr is no terminal here: no ANSI codes
    assert not [m for m in tensorflow_warnings if "retracing" in m]
    written = sorted(p.name for p in out.iterdir())
    assert sorted(pathlib.Path(line).name for line in printed.split()) == written
    assert written
    assert all(name.startswith(command + "_") and name.endswith(".png") for name in written)
    for name in written:
        read_png(out / name)
    stems = [p.stem for p in samples]
    if command in ("saliency", "cam", "lrp", "occlusion"):
        drawn = [file_name(method.name) for method in registry.drawn(command)]
        if command == "occlusion":
            drawn += ["heatmap", "mask"]  # drawn apart: the heatmap and the regions that matter
        assert written == sorted([f"{command}_{stem}.png" for stem in stems]  # overview panels
                                 + [f"{command}_{stem}_{kind}.png" for stem in stems
                                    for kind in drawn])
    if command == "features":
        assert written == sorted(f"features_{s}.png" for s in stems)


def test_lrp_picture_is_the_library_relevance_centred_on_white(capsys, tmp_path, samples):
    """`keras-vis lrp --composite` draws `lrp(normalize=False)` with zero in the colour map's
    middle: white where a pixel has no relevance."""
    code, _, err = run(capsys, "lrp", samples[0], "--method", "lrp", "--composite", "epsilon",
                       "--target", "1", "--out", tmp_path, "--quiet")
    assert code == 0 and err == ""
    picture = cv2.cvtColor(cv2.imread(os.fspath(samples[0])), cv2.COLOR_BGR2RGB)
    relevance = lrp(demo.load_model(), picture[None].astype(np.float32), 1,
                              composite="epsilon", normalize=False)
    centred = 0.5 + relevance / (2 * np.abs(relevance).max())
    expected = plot.overlay(enlarge(picture, 128), centred[0], cmap="bwr", alpha=1.0,
                            normalize=False)
    np.testing.assert_array_equal(read_png(tmp_path / f"lrp_{samples[0].stem}_lrp.png"), expected)


def test_cam_picture_is_the_library_gradcam_of_the_named_class(capsys, tmp_path, samples):
    """`--target <name>` explains that class: the file equals Grad-CAM of that class index, drawn
    over the (enlarged) image."""
    code, _, err = run(capsys, "cam", samples[0], "--method", "gradcam", "--target",
                       demo.CLASS_NAMES[2], "--out", tmp_path, "--quiet")
    assert code == 0 and err == ""
    model = demo.load_model()
    picture = cv2.cvtColor(cv2.imread(os.fspath(samples[0])), cv2.COLOR_BGR2RGB)
    heatmap = gradcam(model, picture[None].astype(np.float32), 2)[0]
    expected = plot.overlay(enlarge(picture, 128), heatmap, cmap="jet", alpha=0.45)
    shown = read_png(tmp_path / f"cam_{samples[0].stem}_gradcam.png")
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 2


def tiny_model(lambda_layer=False):
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    if lambda_layer:
        x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny")


def test_model_file_with_preprocess_and_class_names(capsys, tmp_path, samples):
    """A user's model file: images resized to its input, `--preprocess unit` divides by 255, and
    `--class-names` lets `--target` be a name."""
    keras.utils.set_random_seed(4)
    model = tiny_model()
    path = tmp_path / "tiny.keras"
    model.save(path)
    names = tmp_path / "classes.txt"
    names.write_text("red\ngreen\nblue\n")
    code, _, err = run(capsys, "cam", samples[0], "--model", path, "--preprocess", "unit",
                       "--class-names", names, "--target", "green", "--method", "gradcam",
                       "--display-size", "16", "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    picture = cv2.cvtColor(cv2.imread(os.fspath(samples[0])), cv2.COLOR_BGR2RGB)
    small = cv2.resize(picture, (16, 16), interpolation=cv2.INTER_AREA)
    heatmap = gradcam(model, small[None] / np.float32(255), 1)[0]
    expected = plot.overlay(small, heatmap, cmap="jet", alpha=0.45)
    shown = read_png(tmp_path / "out" / f"cam_{samples[0].stem}_gradcam.png")
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 2


def test_unsafe_model_loads_with_unsafe_and_a_warning(capsys, tmp_path):
    path = tmp_path / "lambda.keras"
    tiny_model(lambda_layer=True).save(path)
    code, out, err = run(capsys, "summary", "--model", path, "--unsafe", "--out", tmp_path / "out")
    assert code == 0
    assert "double" in out and "Lambda" in out
    assert err.startswith("keras-vis: warning:") and "trust" in err


def test_a_layer_no_relevance_rule_covers_is_given_one_with_rule(capsys, tmp_path, samples):
    path = tmp_path / "lambda.keras"
    tiny_model(lambda_layer=True).save(path)
    common = ["lrp", samples[0], "--model", path, "--unsafe", "--preprocess", "unit"]
    code, _, err = run(capsys, *common, "--out", tmp_path / "refused", "--method", "lrp")
    assert code == 2 and "`--rule double=elementwise`" in err and "rules=" not in err
    assert not (tmp_path / "refused").exists()
    out = tmp_path / "out"
    code, _, err = run(capsys, *common, "--rule", "double=elementwise", "--out", out, "-q")
    assert code == 0, err
    assert {p.stem.split("_")[-1] for p in out.glob("*.png")} >= {"lrp", "deeplift"}
    code, _, err = run(capsys, *common, "--rule", "double=twice", "--out", out)
    assert code == 2 and "elementwise" in err


@pytest.fixture
def broken_inputs(tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    unsafe = tmp_path / "lambda.keras"
    tiny_model(lambda_layer=True).save(unsafe)
    return {"corrupt": corrupt, "unsafe": unsafe, "missing": tmp_path / "missing.png"}


BAD_INPUT = {
    "missing image": (["saliency", "{missing}"], "No such file"),
    "corrupt image": (["saliency", "{corrupt}"], "could not be decoded"),
    "unknown application": (["cam", "--model", "vgg17", "--weights", "none"], "vgg16"),
    "unknown layer": (["cam", "--layer", demo.LAST_CONV_LAYER + "_typo"], demo.LAST_CONV_LAYER),
    "unsafe model": (["summary", "--model", "{unsafe}"], "--unsafe"),
    "missing model file": (["summary", "--model", "{missing}.keras"], "No such model file"),
    "unknown class name": (["cam", "--target", "hexagon"], "class"),
    "class index out of range": (["cam", "--target", "99"], "[0, 4]"),
    "bad option value": (["maximize", "--steps", "0"], "--steps"),
    "approximation outside (0, 1]": (["occlusion", "--approximate", "0"], "(0, 1]"),
    "layer for a command without layers": (["occlusion", "--layer", demo.LAST_CONV_LAYER],
                                           "--layer"),
    "an option the command does not use": (["summary", "--target", "3"], "--target"),
    "two layers where one is used": (["cam", "--layer", demo.LAST_CONV_LAYER, "--layer",
                                      demo.LAST_CONV_LAYER], "one layer"),
    "a display larger than any screen": (["cam", "--display-size", "100000"], "4096"),
    "a rendered image larger than memory": (["maximize", "--size", "100000"], "4096"),
    "a patch larger than the images": (["occlusion", "--patch", "1000"], "--patch"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, broken_inputs, case):
    argv, words = BAD_INPUT[case]
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.png").write_bytes(b"kept")
    before = listing(out)
    argv = [a.format(**broken_inputs) for a in argv]
    code, printed, err = run(capsys, *argv, "--out", out)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-vis: error: "), err
    assert words in lines[0]
    assert printed == ""
    assert listing(out) == before


def test_bad_input_does_not_create_the_output_folder(capsys, tmp_path):
    out = tmp_path / "never"
    code, _, _ = run(capsys, "filters", "--layer", "no_such_layer", "--out", out)
    assert code == 2 and not out.exists()


def test_interrupt_while_working_exits_130_and_writes_nothing(capsys, tmp_path, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "filters", interrupted)
    code, _, err = run(capsys, "filters", "--out", tmp_path / "out")
    assert code == 130 and "interrupted" in err
    assert not (tmp_path / "out").exists()


def test_interrupt_while_writing_leaves_only_whole_files(capsys, tmp_path, monkeypatch):
    """Ctrl-C in the middle of the second file: the first is complete, the second absent, no
    temporary file left."""
    real = commands.atomic_write
    calls = []

    class HalfThenInterrupt:
        def __init__(self, file):
            self.file = file

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def second_write_interrupted(path, mode="wb", **kwargs):
        calls.append(path)
        with real(path, mode, **kwargs) as file:
            yield file if len(calls) < 2 else HalfThenInterrupt(file)

    monkeypatch.setattr(commands, "atomic_write", second_write_interrupted)
    out = tmp_path / "out"
    code, _, _ = run(capsys, "filters", "--out", out, "--quiet")
    assert code == 130
    assert [p.name for p in out.iterdir()] == [calls[0].name]
    read_png(calls[0])


def test_report_prints_its_path_even_when_quiet(capsys, tmp_path, samples, tensorflow_warnings):
    out = tmp_path / "report"
    code, printed, err = run(capsys, "report", samples[0], "--out", out, "--quiet", *FAST["report"])
    assert code == 0 and err == ""
    assert not [m for m in tensorflow_warnings if "retracing" in m]
    assert printed.strip() == str(out / "report.html")
    text = (out / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert f'id="image-{samples[0].stem}"' in text
    assert '<section id="atlas">' in text  # the demo model's bundled atlas


def test_report_refuses_an_atlas_file_that_is_not_one(capsys, tmp_path, samples):
    (tmp_path / "atlas.npz").write_bytes(b"not an archive")
    code, _, err = run(capsys, "report", samples[0], "--out", tmp_path / "report", "--atlas",
                       tmp_path / "atlas.npz", *FAST["report"])
    assert code != 0 and "Atlas.save" in one_error_line(err)
    assert not (tmp_path / "report" / "report.html").exists()


# --- `--out`, `--class-names` and the wording of library errors ---------------------------------


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-vis: error: "), err
    return lines[0]


def _unwritable(folder, monkeypatch):
    """`folder` refuses writes (as a folder without write permission does, even for root)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, *a, **k: (
        False if pathlib.Path(path) == folder and mode & os.W_OK else real(path, mode, *a, **k)))


BAD_OUT = {
    "a file": ("summary", "blocker", "a file"),
    "under a file": ("cam", "blocker/out", "is a file"),
    "in a folder that refuses writes": ("saliency", "locked/out", "not writable"),
    "a folder that refuses writes": ("saliency", "locked", "not writable"),
    "a picture file name": ("cam", "gradcam.png", "a folder"),
    "a report file name": ("report", "report.html", "a folder"),
    "a report whose file is a folder": ("report", "taken", "report.html"),
    "a summary whose file is a folder": ("summary", "taken", "summary.txt"),
    # Permissions say yes, the file system no.
    **({"a folder in /proc": ("saliency", "/proc/keras-vis-out", "not writable")}
       if os.path.isdir("/proc/self") else {}),
}


@pytest.mark.parametrize("case", list(BAD_OUT))
def test_bad_out_is_reported_before_the_model_is_loaded(capsys, tmp_path, monkeypatch, case):
    """`docs/cli.md`: a bad option value stops the command before anything is computed, and leaves
    the folders as they were."""
    command, out, words = BAD_OUT[case]
    (tmp_path / "blocker").write_text("a file")
    (tmp_path / "locked").mkdir()
    for name in ("report.html", "summary.txt"):
        (tmp_path / "taken" / name).mkdir(parents=True)
    _unwritable(tmp_path / "locked", monkeypatch)

    def no_model(*args):
        raise AssertionError("the model was loaded before --out was checked")

    from keras_vis.cli import inputs
    monkeypatch.setattr(inputs, "load_model", no_model)
    before = listing(tmp_path)
    code, printed, err = run(capsys, command, "--out", tmp_path / out, "--quiet")
    line = one_error_line(err)
    assert code == 2 and printed == ""
    assert "--out" in line and words in line, line
    assert listing(tmp_path) == before


def test_out_file_taken_by_a_folder_writes_nothing(capsys, tmp_path):
    """A picture whose file name is taken by a folder: reported before any file is written."""
    out = tmp_path / "out"
    (out / "filters_block2_conv1.png").mkdir(parents=True)  # the second file the command writes
    before = listing(out)
    code, printed, err = run(capsys, "filters", "--out", out, "--quiet")
    line = one_error_line(err)
    assert code == 2 and "a folder" in line and "filters_block2_conv1.png" in line, line
    assert listing(out) == before


@pytest.mark.parametrize("case", ["folder", "binary file"])
def test_class_names_pointing_at_a_folder_says_so(capsys, tmp_path, case):
    path = tmp_path / "names"
    if case == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    code, _, err = run(capsys, "summary", "--class-names", path, "--out", tmp_path / "out")
    line = one_error_line(err)
    assert code == 2 and "--class-names" in line and str(path) in line
    assert ("a folder" if case == "folder" else "UTF-8") in line, line
    assert not (tmp_path / "out").exists()


PYTHON_SPELLING = re.compile(
    r"`(spec|weights|safe_mode|layer|layers|target|stride|patch|size|images)`"
    r"|(?<![\w.-])(spec|weights|safe_mode|layer|layers|target|stride|patch|size|images)="
    r"|keras_vis\.|objectives\.|None")

LIBRARY_ERRORS = {
    "unknown layer": (["cam", "--layer", "no_such_layer"], "--layer"),
    "dense layer for cam": (["cam", "--layer", "predictions", "--method", "gradcam"], "--layer"),
    "input layer for cam": (["cam", "--layer", "image", "--method", "gradcam"], "--layer"),
    "dense layer for deconv": (["deconv", "--layer", "predictions"], "--layer"),
    "dense layer for features": (["features", "--layer", "gap"], "--layer"),
    "input layer for features": (["features", "--layer", "image"], "--layer"),
    "pooling layer for filters": (["filters", "--layer", "gap"], "--layer"),
    "dense layer for maximize": (["maximize", "--layer", "predictions", *FAST["maximize"]],
                                 "--layer"),
    "bad weights": (["summary", "--model", "vgg16", "--weights", "bad"], "--weights"),
    "unknown application": (["summary", "--model", "nosuchnet"], "--model"),
    "stride above the patch": (["occlusion", "--stride", "1000"], "--stride"),
    "maximize size too small": (["maximize", "--size", "1", *FAST["maximize"]], "--size"),
}


@pytest.mark.parametrize("case", list(LIBRARY_ERRORS))
def test_library_errors_name_the_flags_not_python_arguments(capsys, tmp_path, case):
    argv, flag = LIBRARY_ERRORS[case]
    code, _, err = run(capsys, *argv, "--out", tmp_path / "out", "--quiet")
    line = one_error_line(err)
    assert code == 2 and flag in line, line
    assert not PYTHON_SPELLING.search(line), line


def test_offline_imagenet_download_names_the_weights_flag(capsys, tmp_path, monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception(f"URL fetch failure on {kwargs.get('origin')}: None -- [Errno -2] Name or "
                        "service not known")  # as Keras words it

    monkeypatch.setattr(file_utils, "get_file", offline)
    code, _, err = run(capsys, "summary", "--model", "mobilenetv3small", "--out", tmp_path / "o")
    line = one_error_line(err)
    assert code == 2 and "`--weights none`" in line and "`--weights path/to/" in line, line
    assert "weights=" not in line
