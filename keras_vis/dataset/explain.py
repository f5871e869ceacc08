"""Explaining a whole dataset: maps streamed to resumable shards, across devices and workers."""

import contextlib
import hashlib
import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_vis import engine
from keras_vis._checks import check_choice, check_flag, check_model, check_positive_int, expected
from keras_vis.batches import to_float_batch
from keras_vis.dataset._sources import Share, open_source
from keras_vis.dataset._store import ShardStore, read_index
from keras_vis.dataset._workers import find_worker, wait_and_merge
from keras_vis.dataset.summary import dataset_summary, outside_share, summarise_shards
from keras_vis.metrics._arrays import to_maps, to_masks
from keras_vis.metrics._methods import describe_option, method_name, resolve_method
from keras_vis.progress import Bar, silenced

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


def _local_devices(strategy):
    """The devices of this worker's replicas under `strategy`; none for no strategy or the
    default one (this process's default device)."""
    if strategy is None:
        return ()
    try:
        return tuple(strategy.extended.worker_devices)
    except (RuntimeError, NotImplementedError):  # the default strategy has no devices of its own
        return ()


def _on_devices(strategy, explain, count):
    """`explain(0, count)`, split over this worker's replicas when it has several. With one
    replica it runs directly on that device: `strategy.run` would only add its overhead."""
    devices = _local_devices(strategy)
    if len(devices) > 1:
        return _distributed(strategy, explain, count, len(devices))
    with tf.device(devices[0]) if devices else contextlib.nullcontext():
        return explain(0, count)


def _distributed(strategy, explain, count, replicas):
    """Runs `explain(start, stop)` for each of this worker's `replicas` replicas' share of `count`
    images under `strategy` (the other workers' replicas explain other shards)."""
    bounds = _replica_bounds(count, replicas)
    # Replica ids run worker by worker, so this worker's replicas are the ids modulo `replicas`.
    shares = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(bounds[context.replica_id_in_sync_group % replicas:][:2]))

    def replica(share):
        start, stop = (int(b) for b in share.numpy())
        return tuple(tf.convert_to_tensor(a) for a in explain(start, stop))

    parts = strategy.run(replica, args=(shares,))
    local = [strategy.experimental_local_results(part) for part in parts]
    if len(local[0]) != replicas:
        raise ValueError(
            expected("strategy", "a strategy whose replicas run on this worker's own devices (e.g. "
                     "MirroredStrategy or MultiWorkerMirroredStrategy)", strategy))
    return tuple(np.concatenate([t.numpy() for t in part if t.shape[0]]) for part in local)


def explain_dataset(model, dataset, method="gradcam", *, out_dir, target=None, batch_size=32,
                    shard_size=256, dtype="float16", preprocess=None, strategy=None,
                    cluster_resolver=None, progress=True, overwrite=False, on_shard=None,
                    **options):
    """Computes the maps of a whole dataset into resumable shards, and summarises where they lie.

    The dataset is streamed `batch_size` images at a time; every `shard_size` images are written
    to `out_dir/maps-00000.npz`, `maps-00001.npz`, ... each atomically, and `out_dir/index.json` is
    updated after each shard. Run again with the same `out_dir` and settings after an interruption,
    and only the shards the index does not list are computed; the images of listed shards are
    re-read only to check, by a SHA-1, that the dataset has not changed (so the dataset must be
    read in a fixed order: no unseeded shuffling).

    On a cluster (a `MultiWorkerMirroredStrategy`, or a `cluster_resolver`), start the same call
    on every worker with the same `out_dir` on a shared file system: worker `i` of `n` explains
    shards `i`, `i + n`, `i + 2n`, ... and writes them with its own index
    `index-worker-<i>-of-<n>.json`; the chief (worker 0) then waits for every worker's index to
    be complete and merges them into `index.json`, which `load_maps` reads. A worker that
    stopped resumes its own shards when its command is started again.

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
            batch is split across this worker's replicas with `strategy.run`; the maps are the
            same as without it. A `MultiWorkerMirroredStrategy` also says, through its cluster
            resolver (`TF_CONFIG`), which worker this process is. Its workers are connected by
            TensorFlow's coordination service, which stops a restarted worker from rejoining
            while the others run: after a failure, restart them all (each resumes its own
            shards), or run the workers unconnected with `cluster_resolver`.
        cluster_resolver: a `tf.distribute.cluster_resolver.ClusterResolver` (e.g.
            `TFConfigClusterResolver()`) saying which worker of which cluster this process is,
            without connecting the workers: each can fail and be restarted on its own. Takes
            precedence over the strategy's resolver.
        progress: show a progress bar over the images on stderr once the job has run two
            seconds (unless inside `keras_vis.progress.silenced()`); the method's own bars stay
            quiet.
        overwrite: delete the maps already in `out_dir` and start again, instead of resuming.
        on_shard: called as `on_shard(number, path)` after each newly written shard.
        **options: keyword options for the method (e.g. `layer="block5_conv3"`).

    Returns:
        The `DatasetSummary` of all the maps in `out_dir` (see `dataset_summary`); on a worker
        other than the chief, of that worker's maps (`None` if the dataset left it none).

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
    progress = check_flag(progress, "progress")
    worker = find_worker(strategy, cluster_resolver)
    share = Share(shard_size, worker.count, worker.index)
    explain = resolve_method(method, options, batch_size)
    settings = {
        "model": model.name, "weights_sha1": _weights_digest(model), "method": method_name(method),
        "options": describe_option(options), "target": target, "shard_size": shard_size,
        "dtype": dtype, "preprocess": None if preprocess is None else method_name(preprocess),
    }
    store = ShardStore(out_dir, settings, overwrite=overwrite, share=share)

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

        maps, predicted, probabilities = _on_devices(strategy, part, len(images))
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
    shard = None
    with Bar(share.images(source.count), "explain_dataset", unit="images",
             enabled=progress) as bar:
        for batch in source.batches(batch_size, share):
            positions = batch.pop("positions")
            number = int(positions[0]) // shard_size
            if shard is None or shard["number"] != number:
                if shard is not None:
                    _finish(store, shard, on_shard)
                start = number * shard_size
                shard = {"number": number, "start": start, "count": 0,
                         "done": store.finished(number, start), "digest": hashlib.sha1(),
                         "parts": []}
                numbers_seen.append(number)
            shard["digest"].update(np.ascontiguousarray(batch["images"]).tobytes())
            shard["count"] += len(positions)
            if not shard["done"]:
                computed = explain_batch(batch)
                computed["indices"] = positions
                shard["parts"].append(computed)
            bar.advance(len(positions))
    if shard is not None:
        _finish(store, shard, on_shard)
    if not numbers_seen and worker.count == 1:
        raise ValueError(expected("dataset", "a dataset with at least one image", dataset))
    store.keep_only(set(numbers_seen), complete=True)
    if worker.count == 1:
        return dataset_summary(store.folder)
    if not wait_and_merge(store.folder, store.settings, worker, shard_size, announce=progress):
        return summarise_shards(store.folder, store.index_name) if numbers_seen else None
    if read_index(store.folder)["count"] == 0:
        raise ValueError(expected("dataset", "a dataset with at least one image", dataset))
    return dataset_summary(store.folder)


def _finish(store, shard, on_shard):
    digest = shard["digest"].hexdigest()
    done = shard["done"]
    if done:
        if done["sha1"] != digest or done["count"] != shard["count"]:
            last = shard["start"] + shard["count"] - 1
            raise ValueError(
                f"Expected the dataset whose maps are in '{store.folder}', to resume. Received: a "
                f"dataset whose images {shard['start']}–{last} differ from those of shard "
                f"{shard['number']} (shuffled, changed or resized?). Pass `overwrite=True` to "
                "start again."
            )
        return
    arrays = {key: np.concatenate([p[key] for p in shard["parts"]]) for key in shard["parts"][0]}
    path = store.write(shard["number"], shard["start"], digest, arrays)
    if on_shard is not None:
        on_shard(shard["number"], path)
