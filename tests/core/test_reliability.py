"""Bad input across the whole public API and the `keras-vis` command, in one table.

Every case is `(id, call, error type, pattern)`: `call(world)` must raise that error (the command
line: exit code 2 with one line on stderr) whose message matches the pattern, reads as a sentence
rather than a TensorFlow trace, and leaves the model, the model files and the output folder exactly
as they were.
"""

import contextlib
import dataclasses
import hashlib
import io as text_io
import pathlib
import re
import struct
import zlib

import cv2
import keras
import numpy as np
import pytest

from helpers.state import assert_model_unchanged, model_state
from keras_vis import io
from keras_vis.attribution import (
    apply_mask,
    cam,
    gradcam,
    gradient_input,
    guided_gradcam,
    integrated_gradients,
    occlusion,
    occlusion_mask,
    saliency,
)
from keras_vis.cli import main
from keras_vis.dataset import explain_dataset, load_maps
from keras_vis.deconv import deconvnet, receptive_field, top_activations
from keras_vis.inspect import feature_maps, filter_weights
from keras_vis.layers import find_layer, last_conv_layer
from keras_vis.maximization import filter_visualization, maximize, objectives
from keras_vis.metrics import deletion, insertion, randomization_check
from keras_vis.objectives import Channel, Neuron
from keras_vis.targets import Class
from helpers.models import channels_first_cnn, cnn, images, lambda_cnn

# Traces of TensorFlow internals (AutoGraph's "in user code:" rewrite) and tracebacks.
TRACE_MARKERS = ("in user code", 'File "', "Traceback")


@dataclasses.dataclass
class World:
    """What a case may touch: a tiny CNN and its images, files on disk, an output folder."""

    model: keras.Model
    images: np.ndarray
    files: dict
    out: pathlib.Path


class CommandFailed(Exception):
    """`keras-vis` exited with code 2; the message is the one line it printed on stderr."""


def png_header_only(width, height):
    """A PNG whose header claims `width`×`height` RGB pixels, with almost no pixel data."""

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Image and model files, written once: good ones and every kind of bad one."""
    folder = tmp_path_factory.mktemp("files")
    rgb = np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    paths = {name: folder / name for name in (
        "image.png", "grey.png", "rgba.png", "corrupt.png", "truncated.png", "huge.png",
        "model.keras", "lambda.keras", "channels_first.keras", "not_a_model.keras")}
    cv2.imwrite(str(paths["image.png"]), rgb[..., ::-1])
    cv2.imwrite(str(paths["grey.png"]), rgb[..., 0])
    cv2.imwrite(str(paths["rgba.png"]), np.dstack([rgb[..., ::-1], rgb[..., 0]]))
    paths["corrupt.png"].write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    encoded = paths["image.png"].read_bytes()
    paths["truncated.png"].write_bytes(encoded[: len(encoded) // 2])
    # 10^10 pixels (30 GB decoded): beyond OpenCV's 2**30-pixel decompression-bomb limit.
    paths["huge.png"].write_bytes(png_header_only(100_000, 100_000))
    paths["not_a_model.keras"].write_bytes(b"not a zip archive")
    keras.utils.set_random_seed(0)
    cnn("file_model").save(paths["model.keras"])
    lambda_cnn().save(paths["lambda.keras"])
    channels_first_cnn().save(paths["channels_first.keras"])
    keras.backend.clear_session()
    return {path.stem: path for path in paths.values()}


@pytest.fixture
def world(tiny_cnn, files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.png").write_bytes(b"a file from an earlier run")
    (out / "maps-00000.npz").write_bytes(b"maps from an earlier run")
    return World(tiny_cnn, images(2), files, out)


def listing(folder):
    """Every path under `folder` with its size and modification time."""
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


def digests(paths):
    return {name: hashlib.sha1(path.read_bytes()).hexdigest() for name, path in paths.items()}


def cli(*argv):
    """A case running `keras-vis argv` (`{name}` stands for `files[name]`); `--out` defaults to the
    world's output folder. Raises `CommandFailed` with the stderr line if it exits with 2."""

    def call(world):
        args = [a.format(**world.files) for a in argv]
        if "--out" not in args:
            args += ["--out", str(world.out)]
        stdout, stderr = text_io.StringIO(), text_io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(args + ["--quiet"])
        lines = stderr.getvalue().splitlines()
        assert code == 2, f"exit code {code}, stderr: {stderr.getvalue()!r}"
        assert stdout.getvalue() == ""
        assert len(lines) == 1 and lines[0].startswith("keras-vis: error: "), lines
        raise CommandFailed(lines[0])

    return call


def channel_objective(layer, index):
    return objectives.channel(layer, index)


QUIET = {"progress": False}
CF = np.zeros((1, 3, 16, 16), np.float32)  # an input for the channels-first model


def with_nan(batch):
    batch = batch.copy()
    batch[1, 3, 4, 0] = np.nan
    return batch


CASES = [
    # --- layer lookup and inspection
    ("find_layer/unknown name", lambda w: find_layer(w.model, "conv3"),
     ValueError, r"Received: layer='conv3'.*Did you mean: 'conv2'"),
    ("find_layer/float", lambda w: find_layer(w.model, 1.5),
     TypeError, r"a layer name, an integer index or a layer\. Received: layer=1\.5"),
    ("find_layer/index out of range", lambda w: find_layer(w.model, 99),
     ValueError, r"an index in \[-6, 5\].*Received: layer=99"),
    ("last_conv_layer/dense-only model",
     lambda w: last_conv_layer(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])),
     ValueError, r"contain a convolution layer"),
    ("filter_weights/dense layer", lambda w: filter_weights(w.model, "predictions"),
     ValueError, r"2D convolution layer.*It is a Dense.*'conv1', 'conv2'"),
    ("feature_maps/unknown layer", lambda w: feature_maps(w.model, w.images, ["conv1", "conv9"]),
     ValueError, r"Received: layer='conv9'"),
    ("feature_maps/input layer", lambda w: feature_maps(w.model, w.images, 0),
     ValueError, r"layers after the input"),
    ("feature_maps/wrong size", lambda w: feature_maps(w.model, w.images[:, :8], "conv1"),
     ValueError, r"Axis 1 has 8, the model needs 16"),
    # --- images every method shares
    ("saliency/NaN pixel", lambda w: saliency(w.model, with_nan(w.images)),
     ValueError, r"finite values \(no NaN or inf\)"),
    ("saliency/inf", lambda w: saliency(w.model, w.images * np.inf),
     ValueError, r"finite values \(no NaN or inf\)"),
    ("saliency/empty batch", lambda w: saliency(w.model, w.images[:0]),
     ValueError, r"a non-empty batch.*shape=\(0, 16, 16, 3\)"),
    ("saliency/single image without batch axis", lambda w: saliency(w.model, w.images[0]),
     ValueError, r"rank 4.*add a batch axis: `images\[None\]`"),
    ("saliency/wrong size", lambda w: saliency(w.model, w.images[:, :, :12]),
     ValueError, r"Axis 2 has 12, the model needs 16.*Resize"),
    ("saliency/grey images for an RGB model", lambda w: saliency(w.model, w.images[..., :1]),
     ValueError, r"Axis 3 has 1, the model needs 3 channels"),
    ("saliency/file name instead of images", lambda w: saliency(w.model, "photo.png"),
     TypeError, r"an array or tensor of shape \(N, H, W, C\)"),
    ("saliency/not a model", lambda w: saliency(w.images, w.images),
     TypeError, r"Expected `model` to be a `keras.Model`"),
    # --- targets
    ("saliency/class out of range", lambda w: saliency(w.model, w.images, 3),
     ValueError, r"class indices in \[0, 2\].*3 classes"),
    ("gradcam/one class per image, wrong count", lambda w: gradcam(w.model, w.images, [0, 1, 2]),
     ValueError, r"a list of 2 ints \(one per image\)"),
    ("saliency/Class output out of range",
     lambda w: saliency(w.model, w.images, Class(0, output=1)),
     ValueError, r"`output` to be an index in \[0, 0\].*1 output"),
    ("saliency/Channel out of range", lambda w: saliency(w.model, w.images, Channel("conv1", 4)),
     ValueError, r"an index in \[0, 3\].*'conv1' has 4 channels"),
    ("saliency/Neuron outside the map",
     lambda w: saliency(w.model, w.images, Neuron("conv2", 0, (8, 0))),
     ValueError, r"inside the 8×8 map of layer 'conv2'"),
    ("saliency/callable target of the wrong shape",
     lambda w: saliency(w.model, w.images, lambda outputs: outputs),
     ValueError, r"one score per image, shape \(N,\).*returned shape \(None, 3\)"),
    # --- attribution options
    ("saliency/method typo", lambda w: saliency(w.model, w.images, method="guidded"),
     ValueError, r"one of 'vanilla', 'guided', 'deconvnet'. Received: method='guidded'"),
    ("saliency/SmoothGrad noise NaN",
     lambda w: saliency(w.model, w.images, smooth_samples=2, smooth_noise=float("nan")),
     TypeError, r"`smooth_noise` to be a finite number"),
    ("gradient_input/reduce", lambda w: gradient_input(w.model, w.images, reduce="mean"),
     ValueError, r"`reduce` to be one of 'max_abs', 'abs_sum', 'sum', 'l2'"),
    ("integrated_gradients/steps 0", lambda w: integrated_gradients(w.model, w.images, steps=0),
     ValueError, r"`steps` to be an integer >= 1"),
    ("integrated_gradients/baseline shape",
     lambda w: integrated_gradients(w.model, w.images, baseline=np.zeros((5, 5))),
     ValueError, r"broadcastable to the images' shape \(2, 16, 16, 3\)"),
    ("gradcam/unknown layer", lambda w: gradcam(w.model, w.images, layer="conv_2"),
     ValueError, r"Did you mean: 'conv2'"),
    ("gradcam/dense layer", lambda w: gradcam(w.model, w.images, layer="predictions"),
     ValueError, r"spatial output.*\(Dense\).*'conv2' here"),
    ("cam/method typo", lambda w: cam(w.model, w.images, method="gradcam+++"),
     ValueError, r"Received: method='gradcam\+\+\+'"),
    ("cam/CAM on a layer not feeding the pooling",
     lambda w: cam(w.model, w.images, method="cam", layer="conv1"),
     ValueError, r"the layer feeding the global average pooling.*layer='conv2'"),
    ("cam/max_maps without Score-CAM", lambda w: cam(w.model, w.images, max_maps=2),
     ValueError, r"None unless method='scorecam'"),
    ("guided_gradcam/batch_size 0", lambda w: guided_gradcam(w.model, w.images, batch_size=0),
     ValueError, r"`batch_size` to be an integer >= 1"),
    ("occlusion/patch larger than the image", lambda w: occlusion(w.model, w.images, patch=17),
     ValueError, r"at most the image size 16×16"),
    ("occlusion/stride above patch", lambda w: occlusion(w.model, w.images, patch=4, stride=5),
     ValueError, r"`stride` to be at most `patch` \(4, 4\)"),
    ("occlusion/fill name", lambda w: occlusion(w.model, w.images, fill="grey"),
     ValueError, r"Expected `fill` to be a number, one number per channel.*'mean' or 'blur'"),
    ("occlusion_mask/NaN heatmap", lambda w: occlusion_mask(np.full((4, 4), np.nan)),
     ValueError, r"a finite map \(H, W\)"),
    ("apply_mask/mask of another size",
     lambda w: apply_mask(w.images[0], np.ones((8, 8), bool)),
     ValueError, r"the image's spatial shape \(16, 16\)"),
    # --- channels-first models
    ("saliency/channels-first model", lambda w: saliency(channels_first_cnn(), CF),
     ValueError, r"channels-last model.*Layer 'conv' uses data_format='channels_first'"),
    ("gradcam/channels-first model", lambda w: gradcam(channels_first_cnn(), CF),
     ValueError, r"channels-last model"),
    ("guided_gradcam/channels-first model", lambda w: guided_gradcam(channels_first_cnn(), CF),
     ValueError, r"channels-last model"),
    ("occlusion/channels-first model", lambda w: occlusion(channels_first_cnn(), CF, patch=4),
     ValueError, r"channels-last model"),
    ("deconvnet/channels-first model", lambda w: deconvnet(channels_first_cnn(), CF, "conv"),
     ValueError, r"channels-last model.*data_format='channels_first'"),
    ("receptive_field/channels-first model",
     lambda w: receptive_field(channels_first_cnn(), "conv"),
     ValueError, r"channels-last model"),
    ("maximize/channels-first model",
     lambda w: maximize(channels_first_cnn(), channel_objective("conv", 0), steps=1, **QUIET),
     ValueError, r"channels-last"),
    # --- activation maximization
    ("maximize/unknown layer", lambda w: maximize(w.model, channel_objective("conv9", 0), **QUIET),
     ValueError, r"Did you mean: 'conv2', 'conv1'"),
    ("maximize/channel out of range",
     lambda w: maximize(w.model, channel_objective("conv1", 4), steps=1, **QUIET),
     ValueError, r"an index in \[0, 3\]"),
    ("maximize/channel of a dense layer",
     lambda w: maximize(w.model, channel_objective("predictions", 0), steps=1, **QUIET),
     ValueError, r"spatial output.*objectives.neuron\('predictions', k\)"),
    ("maximize/steps 0",
     lambda w: maximize(w.model, channel_objective("conv1", 0), steps=0, **QUIET),
     ValueError, r"`steps` to be an integer >= 1"),
    ("maximize/class at another size", lambda w: maximize(w.model, 1, size=8, steps=1, **QUIET),
     ValueError, r"the model's input size \(16, 16\) for a class objective"),
    ("maximize/class out of range", lambda w: maximize(w.model, 3, steps=1, **QUIET),
     ValueError, r"class indices in \[0, 2\]"),
    ("maximize/optimizer name",
     lambda w: maximize(w.model, channel_objective("conv1", 0), optimizer="sgd", **QUIET),
     ValueError, r"one of 'adam', 'ascent'"),
    ("filter_visualization/crop too large",
     lambda w: filter_visualization(w.model, "conv1", [0], size=16, crop=8, steps=1, **QUIET),
     ValueError, r"`crop` to be less than half the image size"),
    # --- deconvnet
    ("deconvnet/dense layer", lambda w: deconvnet(w.model, w.images, "predictions"),
     ValueError, r"spatial output.*'conv1', 'pool1', 'conv2'"),
    ("deconvnet/channel out of range", lambda w: deconvnet(w.model, w.images, "conv1", channel=4),
     ValueError, r"channel indices in \[0, 3\]"),
    ("deconvnet/keep", lambda w: deconvnet(w.model, w.images, "conv1", keep="min"),
     ValueError, r"one of 'max', 'all'"),
    ("top_activations/k 0", lambda w: top_activations(w.model, w.images, "conv1", k=0),
     ValueError, r"`k` to be an integer >= 1"),
    ("top_activations/empty dataset", lambda w: top_activations(w.model, w.images[:0], "conv1"),
     ValueError, r"at least one image"),
    ("receptive_field/dense layer", lambda w: receptive_field(w.model, "predictions"),
     ValueError, r"spatial output"),
    # --- metrics
    ("deletion/maps at another size",
     lambda w: deletion(w.model, w.images, np.zeros((2, 8, 8))),
     ValueError, r"maps of shape \(2, 16, 16\).*at the image resolution"),
    ("deletion/NaN maps", lambda w: deletion(w.model, w.images, np.full((2, 16, 16), np.nan)),
     ValueError, r"finite values"),
    ("insertion/baseline name",
     lambda w: insertion(w.model, w.images, np.zeros((2, 16, 16)), baseline="noise"),
     ValueError, r"Expected `baseline` to be a number, one number per channel.*'mean' or 'blur'"),
    ("randomization_check/method typo", lambda w: randomization_check(w.model, "gradkam", w.images),
     ValueError, r"Known names: vanilla, saliency, guided, guided_backprop, deconvnet"),
    ("randomization_check/layer without weights",
     lambda w: randomization_check(w.model, "saliency", w.images, layers=["pool1"]),
     ValueError, r"layers that have weights.*'predictions', 'conv2', 'conv1'"),
    # --- whole datasets: nothing written, nothing deleted, even with overwrite=True
    ("explain_dataset/target name",
     lambda w: explain_dataset(w.model, w.images, out_dir=w.out / "maps", target="cat",
                               progress=False),
     TypeError, r"None \(the predicted class\), 'label' or a class index"),
    ("explain_dataset/method typo",
     lambda w: explain_dataset(w.model, w.images, "gradkam", out_dir=w.out / "maps",
                               progress=False),
     ValueError, r"Known names"),
    ("explain_dataset/images of another size, overwrite",
     lambda w: explain_dataset(w.model, w.images[:, :8], out_dir=w.out, overwrite=True,
                               progress=False),
     ValueError, r"Axis 1 has 8, the model needs 16"),
    ("explain_dataset/unknown layer option, overwrite",
     lambda w: explain_dataset(w.model, w.images, out_dir=w.out, overwrite=True, layer="conv9",
                               progress=False),
     ValueError, r"Received: layer='conv9'"),
    ("load_maps/folder without index", lambda w: load_maps(w.out),
     ValueError, r"a folder written by `explain_dataset`"),
    # --- image and model files
    ("load_image/corrupt", lambda w: io.load_image(w.files["corrupt"]),
     ValueError, r"corrupt\.png', which could not be decoded"),
    ("load_image/truncated", lambda w: io.load_image(w.files["truncated"]),
     ValueError, r"truncated\.png', which could not be decoded"),
    ("load_image/claims 100000×100000 pixels", lambda w: io.load_image(w.files["huge"]),
     ValueError, r"huge\.png', which OpenCV refused to decode.*2\*\*30 pixels"),
    ("load_image/missing", lambda w: io.load_image(w.out / "missing.png"),
     FileNotFoundError, r"missing\.png"),
    ("load_image/folder", lambda w: io.load_image(w.out),
     ValueError, r"a file, not a folder"),
    ("load_model/Lambda layer in safe mode", lambda w: io.load_model(w.files["lambda"]),
     ValueError, r"contains Python code.*`safe_mode=False`"),
    ("load_model/not a .keras archive", lambda w: io.load_model(w.files["not_a_model"]),
     ValueError, r"not a `\.keras` archive"),
    ("save_image/NaN picture over an existing file",
     lambda w: io.save_image(w.out / "earlier.png", np.full((4, 4, 3), np.nan, np.float32)),
     ValueError, r"an image with finite values \(no NaN or inf\)"),
    ("save_image/unknown extension", lambda w: io.save_image(w.out / "picture.xyz", w.images[0]),
     ValueError, r"an image extension"),
    # --- the command line
    ("cli/Lambda model without --unsafe", cli("summary", "--model", "{lambda}"),
     CommandFailed, r"contains Python code.*--unsafe"),
    ("cli/not a .keras archive", cli("summary", "--model", "{not_a_model}"),
     CommandFailed, r"not a `\.keras` archive"),
    ("cli/corrupt image", cli("saliency", "{corrupt}", "--model", "{model}"),
     CommandFailed, r"could not be decoded"),
    ("cli/truncated image", cli("saliency", "{truncated}", "--model", "{model}"),
     CommandFailed, r"could not be decoded"),
    ("cli/huge image", cli("saliency", "{huge}", "--model", "{model}"),
     CommandFailed, r"2\*\*30 pixels"),
    ("cli/missing image", cli("cam", "{image}", "nowhere.png", "--model", "{model}"),
     CommandFailed, r"No such file: 'nowhere\.png'"),
    ("cli/unknown layer", cli("cam", "{image}", "--model", "{model}", "--layer", "conv_2"),
     CommandFailed, r"Did you mean: 'conv2'"),
    ("cli/dense layer for CAM",
     cli("cam", "{image}", "--model", "{model}", "--layer", "predictions", "--method", "gradcam"),
     CommandFailed, r"feature maps \(N, H, W, C\).*Layers that fit: 'conv1'"),
    ("cli/class out of range", cli("cam", "{image}", "--model", "{model}", "--target", "3"),
     CommandFailed, r"a class index in \[0, 2\]"),
    ("cli/steps 0", cli("maximize", "{image}", "--model", "{model}", "--steps", "0"),
     CommandFailed, r"--steps"),
    ("cli/threshold above 1", cli("occlusion", "{image}", "--model", "{model}", "--threshold", "2"),
     CommandFailed, r"--threshold: expected a number in \[0, 1\]"),
    ("cli/method typo", cli("saliency", "{image}", "--model", "{model}", "--method", "guidded"),
     CommandFailed, r"invalid choice: 'guidded'"),
    ("cli/unknown preprocessing",
     cli("saliency", "{image}", "--model", "{model}", "--preprocess", "vgg17"),
     CommandFailed, r"--preprocess.*Did you mean: .*vgg16"),
    ("cli/channels-first model file",
     cli("saliency", "{image}", "--model", "{channels_first}", "--method", "vanilla"),
     CommandFailed, r"channels-last model.*data_format='channels_first'"),
    ("cli/output folder is a file", cli("summary", "--model", "{model}", "--out", "{image}"),
     CommandFailed, r"`--out` to be a folder"),
]


def case_id(case):
    return case.id if hasattr(case, "id") else case[0]


@pytest.mark.parametrize("case", [c if hasattr(c, "id") else pytest.param(c, id=c[0])
                                  for c in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(world, case):
    _, call, error_type, pattern = case
    model_before = model_state(world.model)
    files_before = digests(world.files)
    out_before = listing(world.out)
    with pytest.raises(error_type) as raised:
        call(world)
    message = str(raised.value)
    assert re.search(pattern, message, re.DOTALL), message
    assert not any(marker in message for marker in TRACE_MARKERS), message
    assert_model_unchanged(world.model, model_before)
    assert digests(world.files) == files_before
    assert listing(world.out) == out_before


def test_the_table_is_broad():
    """At least 30 cases, reaching every family of the API and the command line."""
    ids = [case_id(c) for c in CASES]
    assert len(ids) == len(set(ids)) >= 30
    families = {i.split("/")[0] for i in ids}
    assert {"find_layer", "feature_maps", "saliency", "gradcam", "cam", "integrated_gradients",
            "occlusion", "maximize", "deconvnet", "top_activations", "deletion",
            "randomization_check", "explain_dataset", "load_image", "load_model",
            "cli"} <= families


def test_grey_and_rgba_files_are_not_errors_but_rgb(files, tmp_path, capsys):
    """Grey and RGBA files load as RGB (grey repeated, alpha dropped) and run through the command
    line like any picture."""
    rgb = io.load_image(files["image"])
    grey = io.load_image(files["grey"])
    rgba = io.load_image(files["rgba"])
    assert grey.shape == rgba.shape == rgb.shape == (16, 16, 3)
    assert grey.dtype == rgba.dtype == np.uint8
    np.testing.assert_array_equal(grey, np.repeat(rgb[..., :1], 3, axis=-1))
    np.testing.assert_array_equal(rgba, rgb)
    out = tmp_path / "out"
    code = main(["saliency", str(files["grey"]), str(files["rgba"]), "--model", str(files["model"]),
                 "--method", "vanilla", "--out", str(out), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert {"saliency_grey_vanilla.png", "saliency_rgba_vanilla.png"} <= {
        p.name for p in out.iterdir()}
