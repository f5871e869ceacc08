"""Starting and stopping the explorer: `serve` and the `Server` it returns."""

import asyncio
import errno
import numbers
import os
import pathlib
import socket
import sys
import threading
import time

import numpy as np

from keras_vis import demo, io
from keras_vis.demo import atlas as demo_atlas
from keras_vis._checks import check_model, expected
from keras_vis.explorer.app import create_app
from keras_vis.explorer.session import Explorer
from keras_vis.pixels import to_uint8
from keras_vis.report.settings import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORT = 8765


class Server:
    """A running explorer: its `url`, and `stop()`.

    Made by `serve`. Usable as a context manager (`with keras_vis.serve(model, block=False) as
    server:` stops it at the end of the block); in a notebook, its cell shows a link.

    Attributes:
        url: where the page is, `http://host:port/`.
        explorer: the `keras_vis.explorer.session.Explorer` it serves.
    """

    def __init__(self, explorer, sock, *, host):
        import uvicorn

        self.explorer = explorer
        self.port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/"
        self._socket = sock
        config = uvicorn.Config(create_app(explorer), log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = None
        self._warming = None

    def run(self):
        """Serves in this thread until Ctrl-C or `stop()` from another thread."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._close()

    def start(self):
        """Serves on a background thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.run, name="keras-vis-explorer", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"The explorer could not start on {self.url}; see the log "
                                   "above.")
            time.sleep(0.02)
        return self

    @property
    def running(self):
        return self._server.started and not self._server.should_exit

    def stop(self, timeout=10):
        """Stops serving, waits (up to `timeout` seconds) for the server thread to end, and stops
        the background renders."""
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._close()

    def warm_up(self):
        """Computes what the page shows first on a background thread (see `Explorer.warm_up`)."""
        self._warming = threading.Thread(target=_warm_up, args=(self.explorer,), daemon=True,
                                         name="keras-vis-explorer-warm-up")
        self._warming.start()

    def _close(self):
        # Computations still running when the interpreter exits would be cut off inside
        # TensorFlow: they are waited for.
        if self._warming is not None:
            self._warming.join()
        self.explorer.close()
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        return f"<keras_vis explorer {'at ' + self.url if self.running else 'stopped'}>"

    def _repr_html_(self):
        return (f'keras-vis explorer: <a href="{self.url}" target="_blank">{self.url}</a>'
                if self.running else "keras-vis explorer (stopped)")


def serve(model=None, images=None, *, names=None, preprocess=None, class_names=None,
          model_name=None, host="127.0.0.1", port=DEFAULT_PORT, settings=None, max_upload_mb=16,
          block=None, warm_up=True, atlas=None):
    """Starts the interactive explorer of a model in the browser.

    The page lists the model's layers (nested models expanded); for the chosen image (a sample,
    or one dropped on the page) it shows the top classes; for the chosen layer its feature maps,
    its filters and, on request, the image that maximizes a channel (rendered in the background);
    for the chosen class every attribution method of `keras_vis.registry`, with occlusion and the
    deconvnet on demand; given an activation atlas, a panel shows it with each cell's class.
    Pictures are computed by the library's compiled steps, which stay warm, and kept per (image,
    layer, method, class).

    Example:
        >>> server = keras_vis.serve(model, pictures, class_names=names, port=0, block=False)
        >>> server.url
        'http://127.0.0.1:.../'
        >>> server.stop()

    Args:
        model: a built `keras.Model` with one image input; default the bundled demo model (with
            its class names).
        images: the sample images: uint8 `(N, H, W, C)` (or floats in [0, 1]), a folder of image
            files, or a list of image paths; default the bundled samples. They are resized to the
            model's input size.
        names: one name per image; default the file names (or `image_0`, ...).
        preprocess: maps float32 pictures with values 0–255 to the model's input; default none.
        class_names: the model's class names in output order, or `None`.
        model_name: the name the page shows; default `model.name`.
        host: the address to listen on. The default, 127.0.0.1, lets only this machine in; any
            other address lets every machine that reaches it run the model (a warning says so).
        port: the port; 0 picks a free one (`Server.url` tells which).
        settings: a `keras_vis.report.Settings` for steps, sizes, batch size, seed and the
            methods' work (SmoothGrad samples, RISE masks, the LRP composite, occlusion's patch,
            ...); default the report's.
        max_upload_mb: the largest image file the page accepts, in MiB.
        block: serve until Ctrl-C (`True`) or on a background thread, returning at once
            (`False`); default `True`, or `False` where an event loop already runs (a notebook).
        warm_up: compute the first image's predictions, Grad-CAM and feature maps right after
            start, so the first clicks find the compiled steps ready.
        atlas: an activation atlas of one of the model's layers to show: a `keras_vis.Atlas`
            (from `keras_vis.activation_atlas`) or the path of an `.npz` file `Atlas.save`
            wrote; default none, or the bundled atlas of the demo model when `model` is `None`.

    Returns:
        The `Server`: running when `block` is false, stopped once a blocking `serve` returns.

    Raises:
        TypeError, ValueError: for a model without one image input, images it cannot take, a
            bad `host`, `port`, `max_upload_mb` or `atlas`, or a port already in use.
        FileNotFoundError, ValueError: for an `atlas` file that cannot be read as an atlas, or an
            atlas of a layer the model does not have.
    """
    if model is None:
        model = demo.load_model()
        class_names = demo.CLASS_NAMES if class_names is None else class_names
        model_name = model_name or "demo"
        atlas = demo_atlas.ATLAS_PATH if atlas is None else atlas
    check_model(model)
    pictures, names = _pictures(images, names)
    limit = _check_upload_limit(max_upload_mb)
    if settings is not None and not isinstance(settings, Settings):
        raise TypeError(expected("settings", "None or a keras_vis.report.Settings", settings))
    if block is not None and not isinstance(block, bool):
        raise TypeError(expected("block", "None, True or False", block))
    explorer = Explorer(model, pictures, names, preprocess=preprocess, class_names=class_names,
                        model_name=model_name, settings=settings, max_upload_bytes=limit,
                        atlas=atlas)
    sock = _listen(host, port)
    if host not in LOOPBACK:
        print(f"keras-vis: warning: the explorer listens on {host}: every machine that can reach "
              "it can see your images and run your model. Use --host 127.0.0.1 unless that is "
              "what you want.", file=sys.stderr)
    server = Server(explorer, sock, host=host)
    if block is None:
        block = not _event_loop_running()
    if warm_up:
        server.warm_up()
    if not block:
        return server.start()
    print(f"keras-vis: explorer at {server.url} (Ctrl-C stops it)", flush=True)
    server.run()
    return server


def _warm_up(explorer):
    try:
        explorer.warm_up()
    except Exception as error:  # the same request will fail again with its own answer
        print(f"keras-vis: warning: warming up failed: {error}", file=sys.stderr)


def _event_loop_running():
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _pictures(images, names):
    """`(pictures, names)` of the `images` argument: a batch, a folder, paths or the samples."""
    if images is None:
        pictures, found = demo.sample_images()
    elif isinstance(images, (str, os.PathLike)):
        folder = pathlib.Path(os.fspath(images))
        paths = io.image_files(folder, "images")
        pictures = [io.load_image(folder / path) for path in paths]
        found = [pathlib.Path(path).stem for path in paths]
    elif isinstance(images, (list, tuple)) and images and all(
            isinstance(p, (str, os.PathLike)) for p in images):
        pictures = [io.load_image(path) for path in images]
        found = [pathlib.Path(os.fspath(path)).stem for path in images]
    else:
        pictures = to_uint8(images, "images")
        if pictures.ndim != 4 or len(pictures) == 0:
            raise ValueError(expected("images", "a non-empty batch of pictures (N, H, W, C), a "
                                                "folder or a list of image paths", pictures))
        found = [f"image_{i}" for i in range(len(pictures))]
    names = found if names is None else list(names)
    if len(names) != len(pictures):
        raise ValueError(expected("names", f"{len(pictures)} names, one per image", names))
    # Pictures of different sizes are brought to the first one's; `Explorer` fits the model.
    size = pictures[0].shape[:2]
    return np.stack([_three_channels(io.resize(np.asarray(p), size)) for p in pictures]), names


def _three_channels(picture):
    return picture if picture.ndim == 3 else picture[..., None]


def _check_upload_limit(megabytes):
    if (isinstance(megabytes, bool) or not isinstance(megabytes, numbers.Real)
            or not 0 < megabytes <= 1024):
        raise ValueError(expected("max_upload_mb", "a number of MiB in (0, 1024]", megabytes))
    return int(megabytes * 2**20)


def _listen(host, port):
    """A socket bound to `(host, port)`, listening; a clear error where that cannot be."""
    if not isinstance(host, str) or not host:
        raise TypeError(expected("host", "an address such as 127.0.0.1", host))
    if isinstance(port, bool) or not isinstance(port, numbers.Integral) or not 0 <= port <= 65535:
        raise ValueError(expected("port", "a port number in [0, 65535] (0: any free port)", port))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, int(port)), family=family, backlog=128)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ValueError(expected("port", "a free port", port,
                                      f"Port {port} is in use; pass another, or 0 for any free "
                                      "one.")) from None
        raise ValueError(expected("host", "an address this machine can listen on", host,
                                  f"{error.strerror or error}.")) from None
