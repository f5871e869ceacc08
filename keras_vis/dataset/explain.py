"""Explaining a whole dataset: maps streamed to resumable shards, optionally across devices."""

import hashlib
import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_vis import engine
from keras_vis._checks import (check_choice, check_model, check_positive_int, expected,
                               to_float_batch)
from keras_vis.dataset._sources import aligned, open_source
from keras_vis.dataset._store import ShardStore
from keras_vis.dataset.summary import dataset_summary, outside_share
from keras_vis.metrics._arrays import to_maps, to_masks
from keras_vis.metrics._methods import describe_option, method_name, resolve_method
from keras_vis.progress import Bar, check_progress, silenced

DTYPES = ("float16", "float32")


def _weights_digest(model):
    digest = hashlib.sha1()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


def _check_target(target, source):
    if target is None or target == "label":
        if target == "label" and not source.has_labels:
            raise ValueError(expected("target", "None or a class index for a dataset without "
                                      "labels", target, "Give (images, labels) to explain labels."))
        return target
    if isinstance(target, numbers.Integral) and not isinstance(target, bool) and target >= 0:
        return int(target)
    raise TypeError(expected("target", "None (the predicted class), 'label' or a class index",
                             target))


def _replica_bounds(count, replicas):
    return np.linspace(0, count, replicas + 1).round().astype(np.int64)


def _distributed(strategy, explain, count):
    """Runs `explain(start, stop)` for each replica's share of `count` images under `strategy`."""
    replicas = strategy.num_replicas_in_sync
    bounds = _replica_bounds(count, replicas)
    shares = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(bounds[context.replica_id_in_sync_group:][:2]))

    def replica(share):
        start, stop = (int(b) for b in share.numpy())
        return tuple(tf.convert_to_tensor(a) for a in explain(start, stop))

    parts = strategy.run(replica, args=(shares,))
    local = [strategy.experimental_local_results(part) for part in parts]
    if len(local[0]) != replicas:
        raise ValueError(
            expected("strategy", "a strategy whose replicas all run in this process (e.g. "
                     "MirroredStrategy over local devices)", strategy,
                     "For several workers, give each worker its part of the data "
                     "(`dataset.shard(workers, index)`) and its own `out_dir`.")
        )
    return tuple(np.concatenate([t.numpy() for t in part if t.shape[0]]) for part in local)


def explain_dataset(model, dataset, method="gradcam", *, out_dir, target=None, batch_size=32,
                    shard_size=256, dtype="float16", preprocess=None, strategy=None, progress=True,
                    overwrite=False, on_shard=None, **options):
    """Computes the maps of a whole dataset into resumable shards, and summarises where they lie.

    The dataset is streamed `batch_size` images at a time; every `shard_size` images are written
    to `out_dir/maps-00000.npz`, `maps-00001.npz`, ... each atomically, and `out_dir/index.json` is
    updated after each shard. Run again with the same `out_dir` and settings after an interruption,
    and only the shards the index does not list are computed; the images of listed shards are
    re-read only to check, by a SHA-1, that the dataset has not changed (so the dataset must be
    read in a fixed order: no unseeded shuffling).

    Each shard holds `maps` `(n, H, W)` (`dtype`), `indices` (dataset positions), `classes` (the
    class explained), `predicted` (the model's class), `scores` (the model's output for the
    explained class, e.g. its probability), and where the dataset has them `labels`, `outside`
    (share of map mass off the object mask) and `paths` (files of a folder dataset).

    Args:
        model: a built single-input, channels-last `keras.Model` (with `strategy`, best created
            or loaded under `strategy.scope()`, so its weights are mirrored on every device).
        dataset: a numpy array `(N, H, W, C)`; a tuple `(images, labels)` or `(images, labels,
            masks)` of arrays (such as `keras_vis.demo.shapes(...)` returns); a
            `tf.data.Dataset` of images or `(image, label[, mask])` tuples, batched or not; or a
            folder of image files (read recursively in sorted order with
            `keras_vis.io.load_image`, resized to the model's input size, as 0–255 RGB). Masks
            must each mark at least one pixel.
        method: an attribution method name (`"gradcam"`, `"saliency"`, `"guided"`,
            `"smoothgrad"`, `"integrated_gradients"`, `"scorecam"`, `"occlusion"`, ... — see
            `keras_vis.metrics.randomization_check`) or a callable
            `(model, images, target, **options) -> maps (n, H, W)`.
        out_dir: the output folder (created if missing).
        target: `None` to explain the predicted class, `"label"` for the dataset's labels, or a
            class index for every image.
        batch_size: images per method call (and passed to named methods): bounds the memory.
        shard_size: images per shard file.
        dtype: `"float16"` (half the disk; enough for maps in [0, 1]) or `"float32"`.
        preprocess: a function applied to each batch of images before the model sees them (e.g.
            `keras.applications.vgg16.preprocess_input`); `None` for none.
        strategy: a `tf.distribute.Strategy` (e.g. `MirroredStrategy` over several GPUs): each
            batch is split across its replicas with `strategy.run`; the maps are the same as
            without it.
        progress: show a progress bar over the images on stderr once the job has run two
            seconds (unless inside `keras_vis.progress.silenced()`); the method's own bars stay
            quiet.
        overwrite: delete the maps already in `out_dir` and start again, instead of resuming.
        on_shard: called as `on_shard(number, path)` after each newly written shard.
        **options: keyword options for the method (e.g. `layer="block5_conv3"`).

    Returns:
        The `DatasetSummary` of all the maps in `out_dir` (see `dataset_summary`).

    Raises:
        ValueError, TypeError: for a dataset, target or option that cannot work (before anything
            is computed), `out_dir` maps made with other settings (unless `overwrite`), a dataset
            that changed since the shards it resumes were written, or maps of the wrong shape.
    """
    check_model(model)
    source = open_source(dataset, model)
    target = _check_target(target, source)
    batch_size = check_positive_int(batch_size, "batch_size")
    shard_size = check_positive_int(shard_size, "shard_size")
    check_choice(dtype, "dtype", DTYPES)
    if preprocess is not None and not callable(preprocess):
        raise TypeError(expected("preprocess", "None or a function of a batch of images",
                                 preprocess))
    if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(expected("strategy", "None or a tf.distribute.Strategy", strategy))
    if on_shard is not None and not callable(on_shard):
        raise TypeError(expected("on_shard", "None or a function (number, path)", on_shard))
    progress = check_progress(progress)
    explain = resolve_method(method, options, batch_size)
    settings = {
        "model": model.name, "weights_sha1": _weights_digest(model), "method": method_name(method),
        "options": describe_option(options), "target": target, "shard_size": shard_size,
        "dtype": dtype, "preprocess": None if preprocess is None else method_name(preprocess),
    }
    store = ShardStore(out_dir, settings, overwrite=overwrite)

    def explain_batch(batch):
        images = batch["images"] if preprocess is None else preprocess(batch["images"])
        images = to_float_batch(images, model)
        chosen = batch["labels"] if target == "label" else target

        def part(start, stop):
            piece = images[start:stop]
            if len(piece) == 0:  # a replica with no share of a small batch; dropped when gathered
                return (np.zeros(0, np.float32),) * 3
            classes = chosen[start:stop] if target == "label" else chosen
            # Silenced here, not around the loop: a strategy runs replicas in threads of its own.
            with silenced():
                maps = explain(model, piece, classes)
            maps = to_maps(maps, piece.shape[:3], name="method's maps")
            probabilities = engine.run(model, piece, input_grads=False, head="model",
                                       batch_size=batch_size).outputs[0]
            probabilities = probabilities.reshape(len(piece), -1)
            return maps, probabilities.argmax(axis=1), probabilities

        if strategy is None:
            maps, predicted, probabilities = part(0, len(images))
        else:
            maps, predicted, probabilities = _distributed(strategy, part, len(images))
        explained = predicted if chosen is None else np.broadcast_to(chosen, predicted.shape)
        result = {
            "maps": maps.astype(dtype), "classes": explained.astype(np.int64),
            "predicted": predicted.astype(np.int64),
            "scores": probabilities[np.arange(len(maps)), explained].astype(np.float32),
        }
        if "masks" in batch:
            result["outside"] = outside_share(maps, to_masks(batch["masks"], maps.shape))
        for key in ("labels", "paths"):
            if key in batch:
                result[key] = batch[key]
        return result

    numbers_seen = []
    position = 0
    shard = None
    with Bar(source.count, "explain_dataset", unit="images", enabled=progress) as bar:
        for batch in aligned(source.batches(batch_size), batch_size, shard_size):
            if shard is None:
                number = position // shard_size
                shard = {"number": number, "start": position,
                         "done": store.finished(number, position), "digest": hashlib.sha1(),
                         "parts": []}
            count = len(batch["images"])
            shard["digest"].update(np.ascontiguousarray(batch["images"]).tobytes())
            if not shard["done"]:
                computed = explain_batch(batch)
                computed["indices"] = np.arange(position, position + count)
                shard["parts"].append(computed)
            position += count
            bar.advance(count)
            if position % shard_size == 0:
                _finish(store, shard, position, on_shard)
                numbers_seen.append(shard["number"])
                shard = None
    if shard is not None:
        _finish(store, shard, position, on_shard)
        numbers_seen.append(shard["number"])
    if not numbers_seen:
        raise ValueError(expected("dataset", "a dataset with at least one image", dataset))
    store.keep_only(set(numbers_seen), complete=True)
    return dataset_summary(store.folder)


def _finish(store, shard, position, on_shard):
    digest = shard["digest"].hexdigest()
    done = shard["done"]
    if done:
        if done["sha1"] != digest or done["count"] != position - shard["start"]:
            raise ValueError(
                f"Expected the dataset whose maps are in '{store.folder}', to resume. Received: a "
                f"dataset whose images {shard['start']}–{position - 1} differ from those of shard "
                f"{shard['number']} (shuffled, changed or resized?). Pass `overwrite=True` to "
                "start again."
            )
        return
    arrays = {key: np.concatenate([p[key] for p in shard["parts"]]) for key in shard["parts"][0]}
    path = store.write(shard["number"], shard["start"], digest, arrays)
    if on_shard is not None:
        on_shard(shard["number"], path)
