"""Image files in every colour layout, atomic writes, and safe model loading."""

import errno
import io as pyio
import os
import urllib.error

import cv2
import keras
import numpy as np
import pytest

from keras_vis import io


def write_raw(path, pixels):
    """Writes `pixels` as OpenCV stores them (BGR channel order), bypassing the code under test."""
    assert cv2.imwrite(str(path), pixels)
    return path


def test_load_image_grey_becomes_three_equal_channels(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 12
    image = io.load_image(write_raw(tmp_path / "grey.png", grey))
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], grey)


def test_load_image_rgba_drops_alpha_and_returns_rgb_order(tmp_path):
    bgra = np.zeros((3, 4, 4), np.uint8)
    bgra[...] = (30, 20, 10, 77)  # blue, green, red, alpha
    image = io.load_image(write_raw(tmp_path / "rgba.png", bgra))
    assert image.shape == (3, 4, 3)
    np.testing.assert_array_equal(image, np.broadcast_to(np.array([10, 20, 30], np.uint8), (3, 4, 3)))


@pytest.mark.parametrize("channels", [1, 3])
def test_load_image_scales_16_bit_down_to_8_bit(tmp_path, channels):
    values = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5957)  # up to 65527
    pixels = values if channels == 1 else np.stack([values] * 3, axis=-1)
    image = io.load_image(write_raw(tmp_path / "deep.png", pixels))
    assert image.dtype == np.uint8 and image.shape == (3, 4, 3)
    expected = values / 257.0  # 65535 -> 255
    assert np.max(np.abs(image[..., 0].astype(float) - expected)) <= 1.0


def test_load_image_resizes_to_height_width_by_area(tmp_path):
    bgr = np.zeros((4, 6, 3), np.uint8)
    blocks = np.array([[10, 50, 90], [130, 170, 210]], np.uint8)  # 2×3 blocks of 2×2 pixels
    bgr[...] = np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1)[..., None]
    image = io.load_image(write_raw(tmp_path / "blocks.png", bgr), target_size=(2, 3))
    assert image.shape == (2, 3, 3)
    np.testing.assert_array_equal(image[..., 1], blocks)


def test_load_image_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "cat.png"
    with pytest.raises(FileNotFoundError, match="cat.png"):
        io.load_image(missing)


@pytest.mark.parametrize("content", [b"this is not an image", b""])
def test_load_image_corrupt_file_is_a_value_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="broken.png"):
        io.load_image(path)


def test_load_image_rejects_folders_and_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        io.load_image(tmp_path)
    path = write_raw(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    for size in [(0, 3), (3,), "big", (2.5, 3)]:
        with pytest.raises(ValueError, match="target_size"):
            io.load_image(path, target_size=size)


def test_load_image_reads_a_files_contents_as_bytes_or_a_binary_file(tmp_path):
    bgr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    path = write_raw(tmp_path / "pixels.png", bgr)
    expected = io.load_image(path)
    data = path.read_bytes()
    for source in (data, bytearray(data), memoryview(data), pyio.BytesIO(data)):
        np.testing.assert_array_equal(io.load_image(source), expected)
    np.testing.assert_array_equal(io.load_image(data, target_size=(2, 3)),
                                  io.load_image(path, target_size=(2, 3)))


def test_load_image_names_undecodable_contents_by_their_size():
    with pytest.raises(ValueError, match=r"Received: 7 bytes, which could not be decoded"):
        io.load_image(b"not png")
    with pytest.raises(ValueError, match="Received: 0 bytes"):
        io.load_image(pyio.BytesIO())
    with pytest.raises(TypeError, match="binary mode"):
        io.load_image(pyio.StringIO("text"))


def test_image_files_lists_a_folders_images_sorted_and_refuses_an_empty_one(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/two.PNG", "one.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert io.image_files(tmp_path) == ["b/two.PNG", "one.jpg"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"Expected `images` to be a folder holding image files"):
        io.image_files(tmp_path / "empty", "images")
    with pytest.raises(ValueError, match="existing folder"):
        io.image_files(tmp_path / "one.jpg")


def test_load_images_stacks_a_batch_and_needs_a_size_for_mixed_files(tmp_path):
    a = write_raw(tmp_path / "a.png", np.full((4, 4), 40, np.uint8))
    b = write_raw(tmp_path / "b.png", np.full((6, 2, 3), 90, np.uint8))
    batch = io.load_images([a, b], target_size=(3, 5))
    assert batch.shape == (2, 3, 5, 3) and batch.dtype == np.uint8
    assert np.all(batch[0] == 40) and np.all(batch[1] == 90)
    with pytest.raises(ValueError, match="target_size"):
        io.load_images([a, b])
    with pytest.raises(TypeError, match="load_image"):
        io.load_images(str(a))
    with pytest.raises(ValueError, match="non-empty"):
        io.load_images([])


def test_save_image_round_trips_uint8_and_float_and_grey(tmp_path, rng):
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = io.save_image(tmp_path / "deep" / "folder" / "rgb.png", rgb)
    np.testing.assert_array_equal(io.load_image(path), rgb)

    floats = rng.random((5, 7, 3))
    io.save_image(tmp_path / "float.png", floats)
    expected = np.round(floats * 255).astype(np.uint8)
    np.testing.assert_array_equal(io.load_image(tmp_path / "float.png"), expected)

    grey = rng.integers(0, 256, (5, 7, 1), dtype=np.uint8)
    io.save_image(tmp_path / "grey.png", grey)
    np.testing.assert_array_equal(io.load_image(tmp_path / "grey.png"), np.repeat(grey, 3, axis=-1))


def test_save_image_leaves_no_temporary_file_and_normal_permissions(tmp_path):
    io.save_image(tmp_path / "out.png", np.zeros((3, 3, 3), np.uint8))
    reference = tmp_path / "reference.txt"
    reference.write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "reference.txt"]
    assert os.stat(tmp_path / "out.png").st_mode == os.stat(reference).st_mode


@pytest.mark.parametrize(
    "bad_image, error",
    [
        (np.full((3, 3, 3), np.nan), ValueError),
        (np.full((3, 3, 3), 200.0), ValueError),  # a float image in 0–255
        (np.full((3, 3, 3), 300, np.int32), ValueError),
        (np.zeros((3, 3, 2), np.uint8), ValueError),
        (np.array([["a"]]), TypeError),
    ],
)
def test_save_image_bad_input_leaves_the_target_unchanged(tmp_path, bad_image, error):
    target = tmp_path / "keep.png"
    write_raw(target, np.full((2, 2), 7, np.uint8))
    before = target.read_bytes()
    with pytest.raises(error):
        io.save_image(target, bad_image)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_float_image_in_0_255_gets_a_hint(tmp_path):
    with pytest.raises(ValueError, match="/ 255"):
        io.save_image(tmp_path / "x.png", np.full((2, 2, 3), 128.0))


def test_save_image_rejects_an_unknown_extension_before_writing(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        io.save_image(tmp_path / "image.nope", np.zeros((2, 2, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_old_file_when_the_block_fails(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_write(target, "w", encoding="utf-8") as file:
            file.write("half of the new cont")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with io.atomic_write(target, "w", encoding="utf-8") as file:
        file.write("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_atomic_write_rejects_other_modes_and_folders(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with io.atomic_write(tmp_path / "x", "a"):
            pass
    with pytest.raises(IsADirectoryError):
        with io.atomic_write(tmp_path, "w"):
            pass


# --- models -------------------------------------------------------------------------------------


def lambda_model():
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0 + 1.0)(keras.layers.Dense(3, name="dense")(inputs))
    return keras.Model(inputs, outputs)


def test_load_model_refuses_lambda_in_safe_mode_and_loads_when_trusted(tmp_path):
    model = lambda_model()
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode=False") as raised:
        io.load_model(path)
    assert "--unsafe" in str(raised.value) and "trust" in str(raised.value)

    loaded = io.load_model(str(path), safe_mode=False)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_allclose(loaded.model.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.preprocess(x) is x  # a file records no preprocessing
    model_back, preprocess = loaded  # unpacks as (model, preprocess)
    assert model_back is loaded.model and preprocess is loaded.preprocess


def test_load_model_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.keras"):
        io.load_model(tmp_path / "absent.keras")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.h5"):
        io.load_model(junk)
    with pytest.raises(TypeError, match="spec"):
        io.load_model(42)


def test_load_model_file_with_weights_and_mismatched_weights(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    model.save(tmp_path / "m.keras")
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    other.save_weights(tmp_path / "other.weights.h5")
    loaded = io.load_model(tmp_path / "m.keras", weights=tmp_path / "other.weights.h5")
    for a, b in zip(loaded.model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)

    wide = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="dense")])
    wide.save_weights(tmp_path / "wide.weights.h5")
    with pytest.raises(ValueError, match="wide.weights.h5"):
        io.load_model(tmp_path / "m.keras", weights=tmp_path / "wide.weights.h5")


def test_load_model_weights_argument_is_checked(tmp_path):
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        io.load_model("vgg16", weights=tmp_path / "vgg16.h5")
    with pytest.raises(FileNotFoundError, match="gone.weights.h5"):
        io.load_model("vgg16", weights=tmp_path / "gone.weights.h5")
    with pytest.raises(TypeError, match="weights"):
        io.load_model("vgg16", weights=3)


def test_unknown_application_name_suggests_close_ones():
    with pytest.raises(ValueError, match="'vgg16'"):
        io.load_model("vgg61", weights=None)
    with pytest.raises(ValueError, match="resnet50v2"):
        io.load_model("resnet50v3", weights=None)


def test_application_names_are_normalized():
    assert io.application_name("MobileNet_V2") == "mobilenetv2"
    assert io.application_name("convnext-tiny") == "convnexttiny"
    required = ["vgg16", "vgg19", "resnet50", "resnet50v2", "mobilenet", "mobilenetv2", "mobilenetv3small",
                "efficientnetb0", "densenet121", "xception", "inceptionv3", "convnexttiny"]
    assert set(required) <= set(io.APPLICATIONS)


SMALL_VGG16 = dict(input_shape=(32, 32, 3), include_top=False)  # the quickest application to build


@pytest.mark.applications
def test_application_loads_local_weights_with_its_preprocessing(tmp_path):
    reference = keras.applications.VGG16(weights=None, **SMALL_VGG16)
    path = tmp_path / "vgg16.weights.h5"
    reference.save_weights(path)
    keras.backend.clear_session()

    loaded = io.load_model("VGG-16", weights=str(path), **SMALL_VGG16)
    assert loaded.name == "vgg16"
    assert tuple(loaded.model.input_shape) == (None, 32, 32, 3)
    assert len(loaded.model.weights) == len(reference.weights)
    for a, b in zip(loaded.model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    # VGG16 ("caffe" mode): RGB to BGR, then the ImageNet channel means are subtracted.
    pixel = np.array([[[[10.0, 20.0, 30.0]]]])
    np.testing.assert_allclose(loaded.preprocess(pixel), [[[[30 - 103.939, 20 - 116.779, 10 - 123.68]]]],
                               rtol=1e-5)


def test_offline_imagenet_download_becomes_a_clear_error(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        try:
            raise urllib.error.URLError("[Errno -2] Name or service not known")
        except urllib.error.URLError as error:
            raise Exception(f"URL fetch failure on {kwargs.get('origin')}: None -- {error}")  # as Keras does

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(ValueError, match="weights=None") as raised:
        io.load_model("vgg16", weights="imagenet", **SMALL_VGG16)
    assert ".weights.h5" in str(raised.value)


# --- writing under bad folders, failing writes ----------------------------------------------------


def test_save_image_under_a_file_parent_says_so(tmp_path):
    """A folder on the way that is a file: the error names it and says a folder was expected."""
    blocker = tmp_path / "f"
    blocker.write_text("a file")
    for path in (blocker / "x.png", blocker / "deeper" / "x.png"):
        with pytest.raises(NotADirectoryError) as raised:
            io.save_image(path, np.zeros((2, 2, 3), np.uint8))
        message = str(raised.value)
        assert f"'{blocker}' is a file" in message and "folder" in message and str(path) in message
    with pytest.raises(NotADirectoryError, match="is a file"):
        with io.atomic_write(blocker / "report.html", "w"):
            pass
    assert [p.name for p in tmp_path.iterdir()] == ["f"] and blocker.read_text() == "a file"


class _DiskFull:
    """A file whose every write fails as a full disk does."""

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.file.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.file, name)


def _unwritable_folder(monkeypatch, folder):
    """`mkstemp` in `folder` fails as in a folder without write permission (even for root)."""
    real_open = os.open

    def refusing_open(path, *args, **kwargs):
        if os.path.dirname(os.fspath(path)) == str(folder):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)


def _disk_full_while_writing(monkeypatch, folder):
    real_fdopen = os.fdopen
    monkeypatch.setattr(io.os, "fdopen", lambda fd, *args, **kwargs: _DiskFull(
        real_fdopen(fd, *args, **kwargs)))


def _disk_full_at_fsync(monkeypatch, folder):
    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", full)


def _rename_refused(monkeypatch, folder):
    def refused(source, target):
        raise OSError(errno.EBUSY, "Device or resource busy", source, None, target)

    monkeypatch.setattr(io.os, "replace", refused)


def _encoder_fails(monkeypatch, folder):
    def failing(*args):
        raise cv2.error("simulated encoder failure")

    monkeypatch.setattr(io.cv2, "imencode", failing)


WRITE_FAILURES = {
    "unwritable folder": (_unwritable_folder, PermissionError),
    "disk full while writing": (_disk_full_while_writing, OSError),
    "disk full at fsync": (_disk_full_at_fsync, OSError),
    "rename refused": (_rename_refused, OSError),
    "encoder fails": (_encoder_fails, ValueError),
    "unsupported extension": (None, ValueError),
}


@pytest.mark.parametrize("case", list(WRITE_FAILURES))
def test_failed_write_leaves_no_temporary_file_nor_shows_its_name(tmp_path, monkeypatch, case):
    """Whatever fails, the folder holds what it held, and the error names the target, never the
    temporary file the write went through."""
    arrange, error = WRITE_FAILURES[case]
    target = tmp_path / ("picture.nope" if arrange is None else "picture.png")
    (tmp_path / "earlier.png").write_bytes(b"kept")
    if arrange is not None:
        arrange(monkeypatch, tmp_path)
    with pytest.raises(error) as raised:
        io.save_image(target, np.zeros((4, 4, 3), np.uint8))
    monkeypatch.undo()
    message = str(raised.value)
    assert str(target) in message and ".tmp" not in message and ".picture.png." not in message
    assert [p.name for p in tmp_path.iterdir()] == ["earlier.png"]


def test_a_corrupt_image_is_one_error_with_nothing_printed_before_it(capfd):
    with pytest.raises(ValueError, match="could not be decoded"):
        io.load_image(b"\x89PNG\r\n\x1a\n this is not an image")
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # OpenCV's own "[ WARN ]" and "[ERROR]" lines stay quiet
