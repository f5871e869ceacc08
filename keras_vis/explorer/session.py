"""What the explorer knows and computes, apart from HTTP: the model, its images, every picture.

`Explorer` validates each request's parameters against what exists (image ids, layer paths,
method names, class indices), computes through the library's own techniques and keeps the results
in a `ResultCache`, keyed by (image, layer, method, class). Nothing a request sends is used as a
path: images are found by id in memory, layers by name in the model.
"""

import base64
import dataclasses
import hashlib
import itertools
import os
import threading

import numpy as np

from keras_vis import blank, demo, io, registry
from keras_vis._checks import NotApplicable, expected
from keras_vis.atlas import Atlas
from keras_vis.explorer import drawing, in_use
from keras_vis.explorer.cache import ResultCache
from keras_vis.explorer.jobs import Jobs
from keras_vis.explorer.panels import PANELS
from keras_vis.inspect import feature_maps, filter_weights, summary
from keras_vis.layers import convolutions_2d, default_cam_layer, find_layer, spatial_layers
from keras_vis.maximization import maximize, objectives
from keras_vis.plot import filter_tiles
from keras_vis.progress import silenced
from keras_vis.report import techniques
from keras_vis.report.methods import compute
from keras_vis.report.pictures import array_png, enlarge, rgb
from keras_vis.report.settings import Settings
from keras_vis.report.subject import file_name, make_subject

# Channels (feature maps or filters) per page.
PAGE_SIZE = 16
# Uploaded images kept; the oldest is forgotten first.
MAX_UPLOADS = 32
# How many top classes a prediction lists.
TOP_CLASSES = 5


class RequestError(Exception):
    """A request the explorer cannot answer, with its HTTP status and a message for the page."""

    status = 400


class NotFound(RequestError):
    status = 404


class TooLarge(RequestError):
    status = 413


class CannotRun(RequestError):
    """A method that does not apply to this model (CAM without global pooling, ...)."""

    status = 422


@dataclasses.dataclass(frozen=True, eq=False)
class Image:
    """One image the explorer shows: a sample given at start, or an upload."""

    id: str
    name: str
    source: str
    subject: object  # a one-image `keras_vis.report.subject.Subject`

    def describe(self):
        return {"id": self.id, "name": self.name, "source": self.source,
                "url": f"/api/images/{self.id}"}


class Explorer:
    """The model, the images and every picture the page asks for.

    Args:
        model: a built single-input image `keras.Model`.
        pictures: uint8 `(N, H, W, C)` samples, values 0–255, resized to the model's input size
            (kept at their own where the model leaves it open).
        names: one name per sample.
        preprocess: maps float32 pictures with values 0–255 to the model's input.
        class_names: the model's class names, or `None`.
        model_name: the name the page shows.
        settings: a `keras_vis.report.Settings` (steps, sizes, batch size, seed, the methods'
            work), which every picture is computed with.
        max_upload_bytes: the largest upload accepted.
        cache_bytes: the most bytes of results kept in memory.
        atlas: `None`, a `keras_vis.Atlas` of one of the model's layers, or the path of an
            atlas `.npz` file (read with `Atlas.load`), shown in its own panel.

    Raises:
        TypeError: for an `atlas` that is neither `None`, an `Atlas` nor a path.
        FileNotFoundError, ValueError: for an atlas file that cannot be read as one, or an atlas
            of a layer the model does not have.
        ValueError: for `settings` that cannot apply to the model and its images (a layer it
            lacks, an occlusion patch larger than the images).
    """

    def __init__(self, model, pictures, names, *, preprocess=None, class_names=None,
                 model_name=None, settings=None, max_upload_bytes=16 * 2**20,
                 cache_bytes=256 * 2**20, atlas=None):
        self.atlas = load_atlas(atlas)
        self.model = model
        self.preprocess = preprocess or io.no_preprocessing
        self.class_names = None if class_names is None else tuple(class_names)
        self.model_name = model_name or model.name
        self.settings = dataclasses.replace(settings or Settings(), progress=False)
        self.max_upload_bytes = max_upload_bytes
        height, width, channels = model.inputs[0].shape[1:]
        self.size = (height or pictures.shape[1], width or pictures.shape[2])
        self.channels = channels or 3
        self.cache = ResultCache(cache_bytes)
        self.jobs = Jobs()
        self._lock = threading.Lock()
        self._images = {}
        self._uploads = []
        self._upload_numbers = itertools.count(1)
        for index, (picture, name) in enumerate(zip(pictures, names)):
            picture = self._fit(picture)
            self._add(Image(f"s{index}", str(name), "sample", self._subject(picture, name)))
        self._layers = self._layer_table()
        self._check_atlas_layer()
        first = self._sample()
        if self.class_names is not None and len(self.class_names) != first.class_count:
            raise ValueError(f"Expected `class_names` to hold {first.class_count} names, one per "
                             f"class. Received: {len(self.class_names)} names.")
        techniques.check(first, self.settings)  # a patch larger than the images, before serving
        self.default_layer = self._path_of(default_cam_layer(model))
        self._methods = {spec.name: spec for spec in registry.drawn()}
        self._unavailable = {name: spec.why_unavailable(first, self.settings)
                             for name, spec in self._methods.items()}

    # --- what there is -------------------------------------------------------------------------

    def _subject(self, picture, name):
        return make_subject(self.model, picture[None], names=[file_name(name)],
                            preprocess=self.preprocess, class_names=self.class_names,
                            model_name=self.model_name)

    def _add(self, image):
        with self._lock:
            self._images[image.id] = image

    def _layer_table(self):
        """`{path: (layer, row)}` for every layer of the summary, nested models expanded."""
        spatial = {id(layer) for layer in spatial_layers(self.model)}
        convolutions = {id(layer) for layer in convolutions_2d(self.model)}
        table = {}
        for row in summary(self.model).to_dict()["layers"]:
            layer = find_layer(self.model, row["path"])
            shape = row["output_shape"]
            has_maps = id(layer) in spatial
            row = {**row, "features": has_maps,
                   "channels": shape[-1] if has_maps else None,
                   "filters_count": (int(filter_weights(self.model, layer).shape[-1])
                                     if id(layer) in convolutions else None)}
            table[row["path"]] = (layer, row)
        return table

    def _path_of(self, layer):
        return next(path for path, (found, _) in self._layers.items() if found is layer)

    def _check_atlas_layer(self):
        if self.atlas is None:
            return
        name = self.atlas.layer
        if name not in self._layers and self._find_path(name) is None:
            raise ValueError(f"Expected `atlas` to be an atlas of a layer of the model "
                             f"{self.model_name!r}. Received: an atlas of layer {name!r}, which "
                             f"the model does not have. Its layers include "
                             f"{', '.join(list(self._layers)[-8:])}.")

    def _sample(self):
        """The subject of the first sample, which stays while uploads come and go."""
        return next(iter(self._images.values())).subject

    def describe_model(self):
        """The model, its classes, layers and methods (with the options the settings give them),
        the settings in use and the page's panels, as the page reads them (JSON-ready)."""
        first = self._sample()
        families = {family.name: family.heading for family in registry.FAMILIES}
        settings = self.settings_in_use()
        return {
            "name": self.model_name,
            "input_size": list(self.size) + [int(self.channels)],
            "classes": [first.class_name(k) for k in range(first.class_count)],
            "probabilities": first.outputs_are_probabilities,
            "layers": [row for _, row in self._layers.values()],
            "default_layer": self.default_layer,
            "methods": [{"name": spec.name, "title": spec.title, "caption": spec.caption,
                         "family": spec.family, "family_heading": families[spec.family],
                         "unavailable": self._unavailable[spec.name],
                         "options": in_use.method_options(spec, self.settings)}
                        for spec in self._methods.values()],
            "page_size": PAGE_SIZE,
            "max_upload_bytes": self.max_upload_bytes,
            "maximize_steps": self.settings.maximize_steps,
            "atlas": self.atlas is not None,
            "settings": settings,
            "panels": [panel.describe(settings) for panel in PANELS],
        }

    def settings_in_use(self):
        """Every work setting, JSON-ready, with the sizes the explorer chose from the images where
        the settings leave them open: the channel images', occlusion's patch and stride."""
        patch, stride = techniques.occlusion_patch(self._sample(), self.settings)
        return in_use.settings_json(self.settings, maximize_size=self._maximize_size(),
                                    occlusion_patch=patch, occlusion_stride=stride)

    def _maximize_size(self):
        return self.settings.maximize_size or min(self.size[0], 128)

    def images(self):
        """Every image, samples first, as the page lists them."""
        with self._lock:
            return [image.describe() for image in self._images.values()]

    def image(self, image_id):
        with self._lock:
            found = self._images.get(image_id)
        if found is None:
            raise NotFound(f"No image with id {image_id!r}; GET /api/images lists them (uploads "
                           f"beyond the last {MAX_UPLOADS} are forgotten).")
        return found

    def layer(self, name, *, needs="features"):
        """`(path, layer, row)` of the layer a request names that has feature maps, or filters
        with `needs="filters"`: its path (`outer/inner` for a nested one) or any name
        `keras_vis.find_layer` takes (a nested layer's own name)."""
        path = name if name in self._layers else self._find_path(name)
        fitting = [p for p, (_, row) in self._layers.items()
                   if (row["features"] if needs == "features" else row["filters_count"])]
        what = "feature maps" if needs == "features" else "filters (a 2D convolution)"
        if path not in fitting:
            kind = None if path is None else self._layers[path][1]["type"]
            known = "unknown" if kind is None else f"a {kind} without {what}"
            raise RequestError(f"Expected `layer` to be a layer with {what}. Received: "
                               f"layer={name!r} ({known}). Layers that fit: "
                               f"{', '.join(fitting[-8:]) or 'none'}.")
        layer, row = self._layers[path]
        return path, layer, row

    def _find_path(self, name):
        try:
            return self._path_of(find_layer(self.model, name)) if name else None
        except (ValueError, TypeError, StopIteration):
            return None

    def class_index(self, image, text):
        """The class a request names (an index), or the image's predicted class for `None`."""
        if text is None or text == "":
            return int(image.subject.predicted[0])
        return index_in(text, image.subject.class_count, "class", "a class index")

    def method(self, name):
        spec = self._methods.get(name)
        if spec is None:
            raise RequestError(f"Expected `method` to be one of {', '.join(self._methods)}. "
                               f"Received: method={name!r}.")
        if self._unavailable[name]:
            raise CannotRun(self._unavailable[name])
        return spec

    @staticmethod
    def page(text, count):
        """The page number a request names, checked against `count` items."""
        pages = max(1, -(-count // PAGE_SIZE))
        return index_in(text or 0, pages, "page", "a page number")

    def _cached(self, key, compute):
        """The result of `compute()` kept under `key`, computed with progress bars silenced: the
        server's terminal is no place for them."""
        def quietly():
            with silenced():
                return compute()

        return self.cache.get(key, quietly)

    # --- uploads -------------------------------------------------------------------------------

    def add_upload(self, data, name="upload"):
        """Decodes an uploaded image file and adds it; the same picture twice is one image.

        Raises:
            TooLarge: beyond `max_upload_bytes`.
            ValueError: for data that is not an image (the message of `keras_vis.io.load_image`).
        """
        if len(data) > self.max_upload_bytes:
            raise TooLarge(too_large_message(self.max_upload_bytes, len(data)))
        picture = self._fit(io.load_image(bytes(data)))
        image_id = "u" + hashlib.sha1(picture.tobytes()).hexdigest()[:12]
        with self._lock:
            if image_id in self._images:
                return self._images[image_id]
        shown = " ".join(str(name).split())[:80] or "upload"
        image = Image(image_id, shown, "upload", self._subject(picture, shown))
        with self._lock:
            self._images[image.id] = image
            self._uploads.append(image.id)
            while len(self._uploads) > MAX_UPLOADS:
                self._images.pop(self._uploads.pop(0), None)
        return image

    def _fit(self, picture):
        """A decoded RGB picture at the working size, with the model's channels."""
        picture = io.resize(picture, self.size)
        if picture.ndim == 2:
            picture = picture[..., None]
        if self.channels == 1 and picture.shape[-1] != 1:
            picture = np.round(picture[..., :3].mean(axis=-1, keepdims=True)).astype(np.uint8)
        elif self.channels == 3 and picture.shape[-1] == 1:
            picture = np.repeat(picture, 3, axis=-1)
        return picture

    # --- pictures ------------------------------------------------------------------------------

    def image_png(self, image):
        return self._cached(("image", image.id), lambda: array_png(
            techniques.display(image.subject, self.settings, 0)))

    def predictions(self, image):
        """The top classes of an image: `[{index, name, score}]`, highest first."""
        row = self._cached(("outputs", image.id), lambda: image.subject.outputs[0])
        order = np.argsort(-row, kind="stable")[:TOP_CLASSES]
        return [{"index": int(c), "name": image.subject.class_name(c), "score": float(row[c])}
                for c in order]

    def _features(self, image, path, layer):
        return self._cached(("features", image.id, path), lambda: next(iter(
            feature_maps(self.model, image.subject.inputs, [layer],
                         batch_size=self.settings.batch_size).values()))[0])

    def features_png(self, image, layer_name, page_text=None):
        """A page of the feature maps of a layer for an image."""
        path, layer, row = self.layer(layer_name)
        page = self.page(page_text, row["channels"])
        channels = list(range(page * PAGE_SIZE, min(row["channels"], (page + 1) * PAGE_SIZE)))
        return self._cached(("features_png", image.id, path, page), lambda: (
            drawing.feature_page_png(self._features(image, path, layer), channels)))

    def filters_png(self, layer_name, page_text=None):
        """A page of the filters of a 2D convolution."""
        path, layer, row = self.layer(layer_name, needs="filters")
        page = self.page(page_text, row["filters_count"])

        def draw():
            tiles, _ = filter_tiles(self.model, layer, max_filters=(page + 1) * PAGE_SIZE)
            return drawing.filter_page_png(tiles[page * PAGE_SIZE:])

        return self._cached(("filters_png", path, page), draw)

    def explanation_map(self, image, method_name, class_text=None):
        """float32 `(H, W)`: the map of a registry method for an image and class, in [0, 1]
        (a signed method's centred, zero at 0.5), as the report draws it."""
        return self._explanation(image, method_name, class_text)[0]

    def _explanation(self, image, method_name, class_text=None):
        """`(map, reason)`: the map, and why it is blank (`""` when it is not)."""
        spec = self.method(method_name)
        target = self.class_index(image, class_text)

        def run():
            try:
                with blank.collected() as blanks:
                    found = compute(spec, image.subject, target, self.settings)[0]
            except NotApplicable as error:  # a layer no rule covers, no rectifier to guide
                raise CannotRun(str(error)) from None
            return found, blanks.get(0, "")

        return self._cached(("map", image.id, spec.name, target), run)

    def explanation_png(self, image, method_name, class_text=None):
        spec = self.method(method_name)
        target = self.class_index(image, class_text)

        def draw():
            found, reason = self._explanation(image, method_name, target)
            return techniques.draw_map(image.subject, self.settings, 0, spec, found, reason)

        return self._cached(("map_png", image.id, spec.name, target), lambda: array_png(draw()))

    def occlusion(self, image, class_text=None):
        """Occlusion's heatmap and mask for an image and class, as `pictures_json` gives them."""
        target = self.class_index(image, class_text)
        return self._cached(("occlusion", image.id, target), lambda: pictures_json(
            techniques.occlusion_pictures(image.subject, self.settings, target)))

    def deconv(self, image, layer_name):
        """The deconvnet projection of a layer's strongest activation, as `pictures_json`."""
        path, _, _ = self.layer(layer_name)
        settings = dataclasses.replace(self.settings, deconv_layers=(path,))
        return self._cached(("deconv", image.id, path), lambda: pictures_json(
            techniques.deconv_pictures(image.subject, settings)))

    def start_maximize(self, layer_name, channel_text):
        """Starts (or finds) the background render of an image maximizing one channel."""
        path, layer, row = self.layer(layer_name)
        channel = index_in(channel_text, row["channels"], "channel", "a channel index")
        first = self._sample()
        size = self._maximize_size()
        steps = self.settings.maximize_steps

        def render(progress):
            images = maximize(self.model, objectives.channel(layer, [channel]), size=size,
                              steps=steps, callbacks=[progress],
                              **techniques.render_options(first, self.settings))
            return array_png(enlarge(rgb(images[0]), self.settings.display_size))

        return self.jobs.start(("maximize", path, channel), f"{path} · channel {channel}", steps,
                               render)

    # --- the activation atlas ------------------------------------------------------------------

    def _given_atlas(self):
        if self.atlas is None:
            raise NotFound("This explorer has no activation atlas; start it with one "
                           "(`keras-vis serve --atlas FILE.npz`, or `serve(..., atlas=...)`).")
        return self.atlas

    def describe_atlas(self):
        """The atlas's layer, grid, layout, the URL of its picture and every kept cell with its
        majority class, JSON-ready.

        A cell's `class_name` is the atlas's own name for its class, else the model's (as
        `describe_model` lists them).

        Raises:
            NotFound: where the explorer has no atlas.
        """
        atlas = self._given_atlas()
        return {
            "layer": atlas.layer, "grid": int(atlas.grid), "size": int(atlas.size),
            "method": atlas.method, "samples": len(atlas.layout), "image": "/api/atlas.png",
            "cells": [{"row": int(row), "column": int(column), "count": int(count),
                       "class": int(klass), "class_name": self._atlas_class_name(int(klass)),
                       "share": float(share)}
                      for (row, column), count, klass, share in zip(
                          atlas.cells, atlas.counts, atlas.classes, atlas.class_shares)],
        }

    def _atlas_class_name(self, index):
        """The atlas's name for class `index`, else the one the page lists for it."""
        if self.atlas.class_names is not None:
            return self.atlas.class_name(index)
        return self._sample().class_name(index)

    def atlas_png(self):
        """The composed atlas picture as PNG.

        Raises:
            NotFound: where the explorer has no atlas.
        """
        atlas = self._given_atlas()
        return self._cached(("atlas_png",), lambda: array_png(atlas.image))

    def job(self, job_id):
        found = self.jobs.find(job_id)
        if found is None:
            raise NotFound(f"No job with id {job_id!r}.")
        return found

    def warm_up(self):
        """Computes what the page shows first (the first image's predictions, its Grad-CAM and
        the default layer's feature maps), so the first clicks find the compiled steps ready."""
        image = next(iter(self._images.values()))
        self.predictions(image)
        self.features_png(image, self.default_layer)
        if "gradcam" in self._methods and not self._unavailable["gradcam"]:
            self.explanation_png(image, "gradcam")

    def close(self, timeout=60):
        """Stops the background renders and waits (at most `timeout` seconds) for the
        computations under way, so that none is cut off half-way when the process exits."""
        self.jobs.close()
        self.cache.wait_idle(timeout)


def load_atlas(atlas):
    """`None`, or the `Atlas` that `atlas` is or names (a path to an atlas `.npz` file).

    Raises:
        TypeError: for anything else.
        FileNotFoundError, ValueError: for a file that cannot be read as an atlas.
    """
    if atlas is None or isinstance(atlas, Atlas):
        return atlas
    if not isinstance(atlas, (str, os.PathLike)):
        raise TypeError(expected("atlas", "None, a keras_vis.Atlas or the path of an atlas .npz "
                                          "file", atlas))
    if not str(os.fspath(atlas)).endswith(".npz"):
        raise ValueError(expected("atlas", "the path of an atlas .npz file, as `Atlas.save` "
                                           "writes it", os.fspath(atlas)))
    return Atlas.load(atlas)


def index_in(text, count, name, what):
    """The whole number a request's parameter `name` holds, checked to lie in `[0, count)`.

    Args:
        text: the parameter as the request sent it (a string, or `None` where it is missing).
        count: how many there are to choose from.
        name: the parameter's name, for the message.
        what: what the number stands for (`"a class index"`), for the message.

    Raises:
        RequestError: for text that is not a whole number in range.
    """
    try:
        index = int(text)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < count:
        raise RequestError(f"Expected `{name}` to be {what} in [0, {count - 1}]. Received: "
                           f"{name}={text!r}.")
    return index


def too_large_message(limit, size=None):
    """Why an upload of `size` bytes (`None`: more than `limit`, still arriving) is refused."""
    received = f"more than {limit} bytes" if size is None else f"{size} bytes"
    return (f"Expected an image file of at most {limit} bytes ({limit / 2**20:.1f} MiB). "
            f"Received: {received}. Send a smaller image, or start the explorer with a larger "
            "upload limit (--max-upload-mb).")


def pictures_json(pictures):
    """Report `Picture`s as the page shows them: title, caption, detail and a PNG data URI."""
    return [{"title": p.title, "caption": p.caption, "detail": p.detail,
             "png": "data:image/png;base64," + base64.b64encode(p.png()).decode("ascii")}
            for p in pictures]


def default_pictures():
    """The bundled sample pictures and their names (resized to the model by `Explorer`)."""
    return demo.sample_images()
