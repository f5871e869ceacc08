"""The compiled steps of incremental inference: one unaltered pass, then the altered copies.

The cache step runs the local part of the model once on an image and keeps the maps the copies
read. The copies step takes, for a batch of copies, each copy's new input pixels on its region and
every node's region start, and computes node after node only on its region: a window call on the
window of its input that region reads (the cached map with the input's changed region pasted in,
padding outside), with padding `"valid"`; a per-position call on its input's region; a merge on its
inputs' maps over its region. A call that reads exactly its inputs' regions (`direct_reads`: a 1×1
convolution, a merge of branches changed alike) takes them as they are. The maps the rest of the
model reads are completed (cached map, region pasted in) and the rest runs whole, with the engine's
head policy, to the target's score.

The steps are compiled once per model, head, target kind, region sizes and direct reads; the
images, their cached maps, the regions' positions and the new pixels are data.
"""

import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_vis import _keras, steps
from keras_vis.graph import Partial, Placeholder, record_calls
from keras_vis.spatial import SHIFT_TYPES


def _assemble(cached, values, starts, window_starts, window_size, pad_value):
    """Each copy's map over a window: its changed region where the window covers it, the cached
    map elsewhere in the map, `pad_value` outside the map.

    Args:
        cached: `(1, H, W, C)`: the unaltered map.
        values: `(B, h, w, C)`: each copy's changed region.
        starts: int32 `(B, 2)`: the regions' first row and column.
        window_starts: int32 `(B, 2)`: the windows' first row and column (may lie outside).
        window_size: the windows' static `(height, width)`.
        pad_value: the value outside the map.

    Returns:
        `(B, height, width, C)`.
    """
    height, width = cached.shape[1], cached.shape[2]
    rows = window_starts[:, :1] + tf.range(window_size[0])  # (B, wh)
    cols = window_starts[:, 1:] + tf.range(window_size[1])  # (B, ww)
    shape = tf.stack([tf.shape(rows)[0], window_size[0], window_size[1]])
    grid = [tf.broadcast_to(rows[:, :, None], shape), tf.broadcast_to(cols[:, None, :], shape)]
    in_map = ((grid[0] >= 0) & (grid[0] < height)) & ((grid[1] >= 0) & (grid[1] < width))
    base = tf.gather_nd(cached[0], tf.stack([tf.clip_by_value(grid[0], 0, height - 1),
                                             tf.clip_by_value(grid[1], 0, width - 1)], -1))
    region = [grid[0] - starts[:, :1, None], grid[1] - starts[:, 1:, None]]
    size = values.shape[1:3]
    in_region = ((region[0] >= 0) & (region[0] < size[0])) & ((region[1] >= 0)
                                                              & (region[1] < size[1]))
    changed = tf.gather_nd(values, tf.stack([tf.clip_by_value(region[0], 0, size[0] - 1),
                                             tf.clip_by_value(region[1], 0, size[1] - 1)], -1),
                           batch_dims=1)
    outside = tf.cast(pad_value, base.dtype)
    return tf.where(in_region[..., None], changed, tf.where(in_map[..., None], base, outside))


def _padding_value(layer):
    """What the positions outside the map count as for `layer`'s window."""
    return -np.inf if isinstance(layer, keras.layers.MaxPooling2D) else 0.0


def _average_correction(node):
    """For an `AveragePooling2D(padding="same")`, which averages the positions inside the map
    only: per axis, the window length over the count of its positions inside the map (the
    windowed average over zero padding divides by the whole window); `None` otherwise."""
    layer = node.layer
    if not isinstance(layer, keras.layers.AveragePooling2D) or layer.padding != "same":
        return None
    factors = []
    for axis in node.axes:
        first = axis.first_read(np.arange(axis.output_size))
        inside = np.minimum(first + axis.extent, axis.input_size) - np.maximum(first, 0)
        factors.append(tf.constant(axis.extent / inside, tf.float32))
    return factors


class IncrementalSteps:
    """The cache and copies steps for one model, local part, region sizes, direct reads, target
    and head.

    Get one from the compiled-step cache (`keras_vis.steps.cached`); it holds the model weakly.
    """

    def __init__(self, model, part, sizes, direct, target, head):
        self.part = part
        self.sizes = sizes
        self._direct = direct
        self.target = target.bind(model, head)
        self._model = weakref.ref(model)
        self._partial = Partial(model, head=head)
        self._calls = record_calls(model)[0]
        self._order = {id(node): k for k, node in enumerate(part.nodes)}
        self._live = frozenset(node.call for node in part.nodes[1:])
        read = {self._order[id(source)] for k, node in enumerate(part.nodes)
                if k not in direct for source in node.inputs}
        read |= {self._order[id(node)] for node in part.boundary}
        self._cached = sorted(read | {0})
        self._corrections = {k: _average_correction(node) for k, node in enumerate(part.nodes)
                             if node.kind == "window"}
        self._cache_step = steps.CompiledStep(
            self._cache, [tf.TensorSpec((1,) + part.nodes[0].shape, tf.float32)])
        self._copies_steps = {}
        self._lock = threading.Lock()

    @property
    def trace_count(self):
        return self._cache_step.trace_count + sum(
            step.trace_count for step in self._copies_steps.values())

    def cache(self, image):
        """The unaltered maps the copies read, for one image `(1, H, W, C)`."""
        return self._cache_step(tf.constant(image, tf.float32))

    def scores(self, pixels, starts, cached, class_index):
        """The target score of each copy of one image.

        Args:
            pixels: float32 `(B, h, w, C)`: each copy's input pixels on its patch.
            starts: int32 `(B, nodes, 2)`: each copy's region starts (`Regions.starts` rows).
            cached: the image's `cache`.
            class_index: the target's data for each copy.

        Returns:
            `(B,)` numpy scores.
        """
        signature = tuple((tuple(t.shape), t.dtype) for t in cached)
        with self._lock:
            step = self._copies_steps.get(signature)
            if step is None:
                cached_specs = [tf.TensorSpec(shape, dtype) for shape, dtype in signature]
                step = steps.CompiledStep(self._copies, (
                    tf.TensorSpec((None,) + pixels.shape[1:], tf.float32),
                    tf.TensorSpec((None,) + starts.shape[1:], tf.int32),
                    cached_specs, self.target.data_spec()))
                self._copies_steps[signature] = step
        return step(pixels, starts, list(cached), class_index).numpy()

    def _cache(self, image):
        keep = {self.part.nodes[k].call for k in self._cached if k}
        _, _, kept = self._partial([image], self._live, {}, keep=keep)
        return [image] + [kept[self.part.nodes[k].call] for k in self._cached if k]

    def _call(self, node, tensors, **overrides):
        """The node's layer called on `tensors` in place of the values it read."""
        _, args, kwargs = self._calls[node.call]
        flat = keras.tree.flatten((args, kwargs))
        supplied = iter(tensors)
        flat = [next(supplied) if isinstance(v, Placeholder) else v for v in flat]
        args, kwargs = keras.tree.pack_sequence_as((args, kwargs), flat)
        if _keras.takes_training_argument(node.layer):
            kwargs = {**kwargs, "training": False}
        return _keras.stand_in(node.layer, **overrides)(*args, **kwargs)

    def _window(self, k, node, maps, values, starts, source):
        """A window call on its region: its layer, with padding "valid", on the window of its
        input that the region reads (the input's region itself for a direct read)."""
        rows, cols = node.axes
        height, width = self.sizes[k]
        if k in self._direct:
            window = values[source]
        else:
            first = starts[:, k] * [rows.stride, cols.stride] - [rows.lead, cols.lead]
            size = (rows.read_length(height), cols.read_length(width))
            window = _assemble(maps[source], values[source], starts[:, source], first, size,
                               _padding_value(node.layer))
        if isinstance(node.layer, SHIFT_TYPES):
            return window
        result = self._call(node, [window], padding="valid")
        correction = self._corrections[k]
        if correction is not None:
            row_factors = tf.gather(correction[0], starts[:, k, :1] + tf.range(height))
            col_factors = tf.gather(correction[1], starts[:, k, 1:] + tf.range(width))
            result = result * tf.cast(row_factors[:, :, None, None]
                                      * col_factors[:, None, :, None], result.dtype)
        return result

    def _copies(self, pixels, starts, cached, class_index):
        with _keras.inference_context():
            return self._copies_in_context(pixels, starts, cached, class_index)

    def _copies_in_context(self, pixels, starts, cached, class_index):
        part, sizes = self.part, self.sizes
        maps = dict(zip(self._cached, cached))
        values = {0: pixels}

        def whole(k):
            # A region as large as its map is the map: nothing to paste it into.
            node = part.nodes[k]
            if sizes[k] == node.shape[:2]:
                return values[k]
            return _assemble(maps[k], values[k], starts[:, k], tf.zeros_like(starts[:, k]),
                             node.shape[:2], 0.0)

        for k, node in enumerate(part.nodes[1:], 1):
            sources = [self._order[id(source)] for source in node.inputs]
            if node.kind == "window" and (k in self._direct or sizes[k] != node.shape[:2]):
                values[k] = self._window(k, node, maps, values, starts, sources[0])
            elif k in self._direct:
                values[k] = self._call(node, [values[s] for s in sources])
            elif sizes[k] == node.shape[:2]:
                values[k] = self._call(node, [whole(s) for s in sources])
            else:
                values[k] = self._call(node, [
                    _assemble(maps[s], values[s], starts[:, s], starts[:, k], sizes[k], 0.0)
                    for s in sources])
        fed, inputs = {}, [None]
        for node in part.boundary:
            if node.call is None:
                inputs = [whole(0)]
            else:
                fed[(node.call, 0)] = whole(self._order[id(node)])
        outputs, _, _ = self._partial(inputs, part.rest, fed)
        return self.target.score(outputs, [], class_index)
