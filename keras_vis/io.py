"""Reading and writing images, writing any file atomically, and loading models safely.

Images are always handed back as uint8 RGB arrays `(H, W, 3)`, whatever the file held (grey,
RGBA, 16-bit), so the rest of the package never has to guess a file's colour layout. Every write
goes through `atomic_write`: a temporary file in the target's folder, renamed over the target only
once it is complete, so an interrupted or failing write never leaves a half-written file.
"""

import contextlib
import dataclasses
import difflib
import numbers
import os
import pathlib
import tempfile
import typing
import urllib.error
import zipfile

import cv2
import keras
import numpy as np

from keras_vis._checks import expected
from keras_vis.pixels import to_uint8  # also offered here, beside `save_image`

# Files are created with the permissions an ordinary `open(path, "w")` would give them.
_UMASK = os.umask(0)
os.umask(_UMASK)


def can_write_to(folder, target):
    """Whether `target` (a folder, or the folder of a file) can be written, `folder` being its
    deepest existing ancestor (or itself).

    Permissions can say yes where the file system says no (`/proc`, a read-only mount): a
    read-only file system is asked for, and a folder still to be created is tried (and removed)
    in `folder`. An existing folder is left untouched.
    """
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return False
    except (AttributeError, OSError):  # no statvfs on this system
        pass
    if pathlib.Path(target) == pathlib.Path(folder):
        return True
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".keras-vis-", dir=folder))
    except OSError:
        return False
    return True


def check_writable(path, name="path"):
    """Raises `ValueError` unless the file `path` can be written (its folders created): before the
    work whose result it will hold, not after.

    Returns:
        `path` as a `pathlib.Path`.
    """
    path = pathlib.Path(os.fspath(path))
    if path.is_dir():
        raise ValueError(expected(name, "a file path", str(path), "It is a folder."))
    existing = next((p for p in path.parents if p.exists()), pathlib.Path.cwd())
    if not existing.is_dir():
        raise ValueError(expected(name, "a path whose folders can be created", str(path),
                                  f"'{existing}' is a file."))
    if not can_write_to(existing, path.parent):
        raise ValueError(expected(name, "a file that can be written", str(path),
                                  f"'{existing}' is not writable."))
    return path


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """Opens a temporary file next to `path` and moves it over `path` only if the block succeeds.

    The target is either left untouched (when the block raises; the temporary file is removed) or
    replaced in one step by `os.replace`, so readers never see a half-written file. Missing parent
    folders are created. An `OSError` of the write names `path`, not the temporary file.

    Example:
        >>> with atomic_write("report/index.html", "w", encoding="utf-8") as f:
        ...     f.write(html)

    Args:
        path: the file to write (str or `pathlib.Path`).
        mode: `"wb"` (bytes) or `"w"` (text).
        **open_kwargs: passed to `open` (e.g. `encoding="utf-8"`, `newline=""`).

    Yields:
        The open temporary file object.

    Raises:
        IsADirectoryError: if `path` is a folder.
        NotADirectoryError: if a folder above `path` is a file.
        OSError: if the folder cannot be written (permissions, a full disk, ...).
    """
    if mode not in ("w", "wb"):
        raise ValueError(expected("mode", "'w' or 'wb'", mode))
    path = pathlib.Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"Expected `path` to be a file path. Received: path='{path}', a folder.")
    make_parent_folders(path)
    handle, temporary = _temporary_file(path)
    in_block = False
    try:
        with os.fdopen(handle, mode, **open_kwargs) as file:
            in_block = True
            yield file
            in_block = False
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if isinstance(error, OSError):
            name_the_target(error, path, temporary, unnamed=not in_block)
        raise


def check_parent_folders(path):
    """Checks, creating nothing, that the folders above `path` are folders or can be created.

    Raises:
        NotADirectoryError: if one of them exists as a file (`Path.mkdir` would only say "File
            exists", about that file).
    """
    path = pathlib.Path(os.fspath(path))
    existing = next((parent for parent in path.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise NotADirectoryError(
            f"Expected `path` to be under folders only. Received: path='{path}', where "
            f"'{existing}' is a file, not a folder. Choose another path, or move that file away."
        )
    return path


def make_parent_folders(path):
    """Creates the missing folders above `path`.

    Raises:
        NotADirectoryError: if one of them exists as a file.
    """
    check_parent_folders(path).parent.mkdir(parents=True, exist_ok=True)


def _temporary_file(path):
    """`(descriptor, name)` of a new temporary file in the folder of `path`."""
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        # It names the temporary file it could not create.
        name_the_target(error, path, error.filename)
        raise


def name_the_target(error, path, temporary=None, unnamed=True):
    """Makes the `OSError` `error` name `path` instead of the temporary file written for it, and,
    with `unnamed`, also where it names no file at all (a full disk at `write` or `fsync`).

    Returns:
        `error`, changed in place, to be raised again.
    """
    about_temporary = temporary is not None and os.fspath(temporary) in (error.filename,
                                                                         error.filename2)
    # Only errors with an errno print their file name; others keep their own message.
    if about_temporary or (unnamed and error.errno is not None and error.filename is None):
        error.filename, error.filename2 = str(path), None
    return error


def image_layout(array, name="image"):
    """Checks that `array` is one image, `(H, W)` grey or `(H, W, 3|4)` colour, and returns it with a
    single-channel axis `(H, W, 1)` dropped.

    Raises:
        ValueError: for any other shape, or an empty image.
    """
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))) or 0 in array.shape:
        raise ValueError(expected(name, "an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)", array))
    return array


def check_target_size(target_size):
    """Returns `target_size` as `(height, width)` ints, or `None`; raises on anything else."""
    if target_size is None:
        return None
    if (
        not isinstance(target_size, (tuple, list))
        or len(target_size) != 2
        or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                   for s in target_size)
    ):
        raise ValueError(expected("target_size", "None or a (height, width) pair of positive ints",
                                  target_size))
    return int(target_size[0]), int(target_size[1])


def resize(image, target_size):
    """Resizes an `(H, W[, C])` array to `(height, width)`: area averaging when shrinking, bilinear
    interpolation when enlarging (OpenCV)."""
    height, width = target_size
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=interpolation)
    return resized.reshape((height, width) + image.shape[2:])


def load_image(path, target_size=None):
    """Reads an image file, or an image file's contents, as uint8 RGB.

    Grey images are repeated over three channels, an alpha channel is dropped, 16-bit images are
    scaled down to 8 bits, and EXIF orientation is applied (OpenCV decoding).

    Args:
        path: the image file (str or `pathlib.Path`), or its contents: `bytes`, `bytearray`,
            `memoryview` or a binary file object (an upload, `io.BytesIO`); any format OpenCV
            reads (PNG, JPEG, BMP, TIFF, WebP, ...).
        target_size: `None` to keep the file's size, or `(height, width)` to resize to.

    Returns:
        A uint8 numpy array `(H, W, 3)` in RGB order, values 0–255.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if the file is not a readable image (also one whose header claims more than
            2**30 pixels, OpenCV's decompression-bomb limit), or `target_size` is malformed.
    """
    target_size = check_target_size(target_size)
    data, received = _encoded_image(path)
    what = "`path`" if received.startswith("path=") else "the data"
    try:
        with _opencv_quiet():  # its own "[ WARN ]" lines would precede the error below
            image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as error:
        # OpenCV refuses, before decoding, headers claiming more than 2**30 pixels
        # (CV_IO_MAX_IMAGE_PIXELS): a decompression-bomb guard.
        raise ValueError(
            f"Expected {what} to be an image file OpenCV can read. Received: {received}, which "
            f"OpenCV refused to decode ({' '.join(str(error).split())}). Images claiming more "
            "than 2**30 pixels are refused as possible decompression bombs."
        ) from None
    if image is None:
        raise ValueError(
            f"Expected {what} to be an image file OpenCV can read (PNG, JPEG, BMP, TIFF, WebP, ...). "
            f"Received: {received}, which could not be decoded as an image (corrupt, empty or "
            "not an image)."
        )
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image if target_size is None else resize(image, target_size)


@contextlib.contextmanager
def _opencv_quiet():
    """OpenCV's log lines off while a file is decoded; every failure is reported as an error."""
    logging = cv2.utils.logging
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def _encoded_image(source):
    """`(uint8 array of the encoded file, how to name it in a message)` for `load_image`."""
    if hasattr(source, "read"):
        source = source.read()
        if not isinstance(source, (bytes, bytearray, memoryview)):
            raise TypeError(expected("path", "a file opened in binary mode ('rb')",
                                     type(source).__name__))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = np.frombuffer(bytes(source), dtype=np.uint8)
        return data, f"{data.size} bytes"
    path = _existing_file(source)
    return np.fromfile(path, dtype=np.uint8), f"path='{path}'"


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
"""The file name endings read as images when a folder is given."""


def image_files(folder, name="folder"):
    """The image files of a folder and its subfolders, as paths relative to it, sorted.

    Args:
        folder: the folder (str or `pathlib.Path`).
        name: the argument's name in error messages.

    Returns:
        A list of POSIX-style relative paths (str), non-empty.

    Raises:
        ValueError: if `folder` is not an existing folder or holds no file ending in one of
            `IMAGE_SUFFIXES`.
    """
    root = pathlib.Path(os.fspath(folder))
    if not root.is_dir():
        raise ValueError(expected(name, "an existing folder of images", str(root)))
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise ValueError(expected(name, f"a folder holding image files "
                                        f"({', '.join(IMAGE_SUFFIXES)})", str(root)))
    return paths


def load_images(paths, target_size=None):
    """Reads several image files into one uint8 RGB batch.

    Args:
        paths: a list of file paths.
        target_size: `(height, width)` to resize every image to; `None` only works when all files
            have the same size.

    Returns:
        A uint8 numpy array `(N, H, W, 3)`.

    Raises:
        TypeError: if `paths` is a single path rather than a list.
        FileNotFoundError, ValueError: as `load_image`, and for images of different sizes without
            `target_size`.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(expected("paths", "a list of image paths", paths,
                                 "For one file use `load_image(path)` or pass `[path]`."))
    paths = list(paths)
    if not paths:
        raise ValueError(expected("paths", "a non-empty list of image paths", paths))
    target_size = check_target_size(target_size)
    images = [load_image(path, target_size) for path in paths]
    sizes = {image.shape[:2] for image in images}
    if len(sizes) > 1:
        raise ValueError(
            expected("target_size", "a (height, width) when the images differ in size", None,
                     f"The files have sizes {sorted(sizes)}.")
        )
    return np.stack(images)


def save_image(path, image):
    """Writes an image file atomically; the format follows the file extension.

    Args:
        path: the file to write (parent folders are created).
        image: `(H, W)`, `(H, W, 1)`, `(H, W, 3)` RGB or `(H, W, 4)` RGBA; uint8 0–255 or float
            0–1 (see `keras_vis.pixels.to_uint8`).

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: for an unsupported extension, a malformed image or out-of-range values.
        TypeError: for a non-numeric or complex image.
        OSError: if the file cannot be written (see `atomic_write`); it names `path`.

    Whatever fails, the target file is left as it was and no temporary file remains.
    """
    path = pathlib.Path(os.fspath(path))
    extension = path.suffix.lower()
    if not extension or not cv2.haveImageWriter(f"x{extension}"):
        raise ValueError(
            expected("path", "a file name with an image extension (.png, .jpg, .bmp, .tif, .webp)",
                     path)
        )
    pixels = image_layout(to_uint8(image))  # refuses complex images too
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[-1] == 3 else cv2.COLOR_RGBA2BGRA)
    try:
        ok, encoded = cv2.imencode(extension, pixels)
    except cv2.error as error:
        ok, reason = False, f" ({' '.join(str(error).split())})"
    else:
        reason = ""
    if not ok:
        raise ValueError(f"Could not encode the image as '{extension}' for path='{path}'{reason}.")
    try:
        with atomic_write(path, "wb") as file:
            file.write(encoded.tobytes())
    except OSError as error:
        name_the_target(error, path)
        raise
    return path


def _existing_file(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(expected("path", "a file path (str or pathlib.Path)", path))
    path = pathlib.Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(2, "No such file", str(path))
    if path.is_dir():
        raise ValueError(expected("path", "a file, not a folder", str(path)))
    return path


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model with the input preprocessing it expects.

    Attributes:
        model: the `keras.Model`.
        preprocess: a function mapping RGB images with values 0–255 (float or uint8 arrays
            `(N, H, W, 3)`) to the model's input; for a model loaded from a file, whose
            preprocessing is unknown, the identity.
        name: the application name (`"vgg16"`) or the file's model name.
    """

    model: keras.Model
    preprocess: typing.Callable
    name: str

    def __iter__(self):
        """Lets `model, preprocess = load_model(...)` unpack the two parts most callers need."""
        return iter((self.model, self.preprocess))


def no_preprocessing(images):
    """The identity: used for models loaded from a file, whose preprocessing is not recorded."""
    return images


# Each `keras.applications` module holding a `preprocess_input`, with the constructors it serves.
_APPLICATION_MODULES = {
    "vgg16": ("VGG16",),
    "vgg19": ("VGG19",),
    "resnet50": ("ResNet50",),
    "resnet": ("ResNet101", "ResNet152"),
    "resnet_v2": ("ResNet50V2", "ResNet101V2", "ResNet152V2"),
    "mobilenet": ("MobileNet",),
    "mobilenet_v2": ("MobileNetV2",),
    "mobilenet_v3": ("MobileNetV3Small", "MobileNetV3Large"),
    "efficientnet": tuple(f"EfficientNetB{i}" for i in range(8)),
    "efficientnet_v2": tuple(f"EfficientNetV2{size}"
                             for size in ("B0", "B1", "B2", "B3", "S", "M", "L")),
    "densenet": ("DenseNet121", "DenseNet169", "DenseNet201"),
    "xception": ("Xception",),
    "inception_v3": ("InceptionV3",),
    "inception_resnet_v2": ("InceptionResNetV2",),
    "nasnet": ("NASNetMobile", "NASNetLarge"),
    "convnext": tuple(f"ConvNeXt{size}" for size in ("Tiny", "Small", "Base", "Large", "XLarge")),
}
APPLICATIONS = {
    constructor.lower(): (getattr(keras.applications, constructor), getattr(keras.applications, module))
    for module, constructors in _APPLICATION_MODULES.items() for constructor in constructors
}
"""Every `keras.applications` family by lower-case name: (constructor, module holding its
`preprocess_input`)."""

_MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")


def load_model(spec, *, weights="imagenet", safe_mode=True, input_shape=None, **application_kwargs):
    """Loads a model from a file or builds a `keras.applications` model, with its preprocessing.

    Args:
        spec: a `.keras` / `.h5` file path, or an application name such as `"vgg16"`, `"ResNet50V2"`,
            `"mobilenet_v2"`, `"efficientnetb0"`, `"convnext-tiny"` (case, `-`, `_` and spaces are
            ignored; `keras_vis.io.APPLICATIONS` lists them all).
        weights: for an application, `"imagenet"` (downloaded by Keras on first use), `None` or
            `"none"` (random initialization), or the path of a `.weights.h5` file saved from the
            same architecture. For a model file, a `.weights.h5` path loads those weights into
            it; `"imagenet"` and `None` leave the file's weights as they are.
        safe_mode: refuse to deserialize Python code (`Lambda` layers) stored in a model file.
            Pass `False` only for files you trust.
        input_shape: for an application, the input shape `(H, W, 3)` (see the Keras application's
            own limits).
        **application_kwargs: other options of the application constructor (`include_top`,
            `classes`, `pooling`, ...).

    Returns:
        A `LoadedModel(model, preprocess, name)`; it also unpacks as `model, preprocess`.

    Raises:
        FileNotFoundError: for a model or weights file that does not exist.
        ValueError: for an unknown application name (with the closest names), a weights path that
            does not end in `.weights.h5` or does not fit the model, a model file that needs
            `safe_mode=False`, or ImageNet weights that cannot be downloaded.
    """
    weights_path = _check_weights(weights)
    if isinstance(spec, os.PathLike) or (
        isinstance(spec, str) and (spec.lower().endswith(_MODEL_FILE_SUFFIXES) or os.sep in spec)
    ):
        loaded = _load_model_file(pathlib.Path(os.fspath(spec)), safe_mode)
    elif isinstance(spec, str):
        loaded = _build_application(spec, weights, weights_path, input_shape, application_kwargs)
    else:
        raise TypeError(expected("spec", "a model file path or an application name such as 'vgg16'", spec))
    if weights_path is not None:
        _load_weights(loaded.model, weights_path)
    return loaded


def _check_weights(weights):
    if weights is None or (isinstance(weights, str) and weights.lower() in ("none", "imagenet")):
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(expected("weights", "'imagenet', None or a path to a .weights.h5 file", weights))
    path = pathlib.Path(os.fspath(weights))
    if not path.name.endswith(".weights.h5"):
        raise ValueError(
            expected("weights", "'imagenet', None or a path ending in '.weights.h5'", str(path),
                     "Save weights with `model.save_weights('name.weights.h5')`.")
        )
    if not path.exists():
        raise FileNotFoundError(2, "No such weights file", str(path))
    return path


def _load_model_file(path, safe_mode):
    if not path.exists():
        raise FileNotFoundError(2, "No such model file", str(path))
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        # Keras itself would answer "File not found" for a file that is there.
        raise ValueError(f"Could not load a Keras model from '{path}': the file is not a `.keras` "
                         "archive (a zip file), so it is damaged or not a Keras model.")
    try:
        model = keras.saving.load_model(path, safe_mode=safe_mode, compile=False)
    except ValueError as error:
        if safe_mode and "safe_mode" in str(error):
            raise ValueError(
                f"The model file '{path}' contains Python code (such as a `Lambda` layer), which "
                "safe mode refuses to run because loading it could execute arbitrary code. Only if "
                "you trust the file, pass `safe_mode=False` (`--unsafe` on the command line)."
            ) from error
        raise ValueError(f"Could not load a Keras model from '{path}': {error}") from error
    except OSError as error:
        raise ValueError(
            f"Could not load a Keras model from '{path}': the file is not a valid `.keras` or `.h5` "
            f"model ({error})."
        ) from error
    return LoadedModel(model, no_preprocessing, model.name)


def application_name(spec):
    """Normalizes an application name: `"ResNet50_V2"` → `"resnet50v2"`."""
    return "".join(c for c in spec.lower() if c not in "-_ ")


def _build_application(spec, weights, weights_path, input_shape, kwargs):
    name = application_name(spec)
    if name not in APPLICATIONS:
        close = difflib.get_close_matches(name, APPLICATIONS, n=4, cutoff=0.5)
        hint = f"Did you mean: {', '.join(repr(c) for c in close)}?" if close else (
            f"Known names: {', '.join(APPLICATIONS)}.")
        raise ValueError(expected("spec", "a model file path or a keras.applications name", spec,
                                  hint + " A model file needs a .keras or .h5 extension."))
    constructor, module = APPLICATIONS[name]
    download = weights_path is None and isinstance(weights, str) and weights.lower() == "imagenet"
    options = dict(kwargs, weights="imagenet" if download else None)
    if input_shape is not None:
        options["input_shape"] = tuple(input_shape)
    try:
        model = constructor(**options)
    except Exception as error:
        if download and _is_download_error(error):
            raise ValueError(
                f"Could not download the ImageNet weights of '{name}' (no internet access?): "
                f"{error}. Pass `weights=None` for random weights, or `weights='path/to/"
                f"{name}.weights.h5'` for weights saved locally with `model.save_weights(...)`."
            ) from error
        raise
    return LoadedModel(model, module.preprocess_input, name)


def _is_download_error(error):
    # Keras wraps the network error in a bare `Exception("URL fetch failure on ...")`.
    for _ in range(8):
        if error is None:
            return False
        if isinstance(error, (urllib.error.URLError, ConnectionError, TimeoutError)):
            return True
        if "URL fetch failure" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _load_weights(model, path):
    try:
        model.load_weights(path)
    except (ValueError, KeyError) as error:
        raise ValueError(
            f"Expected `weights` to fit model '{model.name}'. Received: weights='{path}', saved from "
            f"a different architecture or input shape ({error})."
        ) from error


__all__ = [
    "APPLICATIONS",
    "LoadedModel",
    "atomic_write",
    "image_layout",
    "load_image",
    "load_images",
    "load_model",
    "save_image",
    "to_uint8",
]
