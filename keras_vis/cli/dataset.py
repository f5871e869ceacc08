"""`keras-vis explain-dataset`: `explain_dataset` on a folder of images, one command per worker."""

import json
import os
import sys
import types

from keras_vis import io
from keras_vis._checks import expected
from keras_vis.cli import inputs


def _strategy(name):
    """The strategy `--strategy` names: made before the model loads, as TensorFlow requires of a
    `MultiWorkerMirroredStrategy` (its collective operations are configured once, at startup)."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return None


def _tf_config_resolver():
    """The resolver of the cluster in `TF_CONFIG`, checked: a missing or malformed variable is a
    usage error here, not a silent single-worker run."""
    import tensorflow as tf

    text = os.environ.get("TF_CONFIG")
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    if not text:
        raise ValueError("Expected the TF_CONFIG environment variable to name the cluster and "
                         "this worker's task, for --tf-config. Received: no TF_CONFIG. Set e.g. "
                         f"{example}.")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(expected("TF_CONFIG", "JSON with a cluster and a task", text,
                                  f"It is not valid JSON ({error}).")) from None
    if not isinstance(config, dict) or not {"cluster", "task"} <= set(config):
        raise ValueError(expected("TF_CONFIG", "JSON with a cluster and a task", text,
                                  f"For example {example}."))
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()


def _target(text, model, class_names):
    outputs = model.outputs[0].shape[-1]
    return inputs.resolve_target(text, types.SimpleNamespace(class_count=outputs,
                                                             class_names=class_names))


def explain_folder(args):
    """Runs `explain-dataset` for parsed `args`; returns the exit code."""
    from keras_vis.dataset import explain_dataset
    from keras_vis.dataset._workers import find_worker

    if args.tf_config and args.strategy == "multi-worker":
        raise ValueError("Expected one way to name the cluster. Received: --tf-config and "
                         "--strategy multi-worker. --tf-config runs unconnected workers; "
                         "combine it with --strategy none or mirrored.")
    if not os.path.isdir(os.path.expanduser(args.folder)):
        raise ValueError(expected("FOLDER", "a folder of image files", args.folder))
    out = inputs.out_dir(args.out)
    strategy = _strategy(args.strategy)
    model, preprocess, _, class_names = inputs.load_model(args)
    inputs.input_size(model)
    target = _target(args.target, model, class_names)
    resolver = _tf_config_resolver() if args.tf_config else None
    options = {}
    if args.layer:
        if len(args.layer) > 1:
            raise ValueError(expected("--layer", "one layer for `explain-dataset`", args.layer))
        options["layer"] = args.layer[0]
    summary = explain_dataset(
        model, os.path.expanduser(args.folder), args.method, out_dir=out, target=target,
        batch_size=args.batch_size or 32, shard_size=args.shard_size, dtype=args.dtype,
        preprocess=None if preprocess is io.no_preprocessing else preprocess,
        strategy=strategy, cluster_resolver=resolver, progress=not args.quiet,
        overwrite=args.overwrite, **options)
    worker = find_worker(strategy, resolver)
    if summary is not None:
        print(summary.describe(class_names))
    if not args.quiet:
        if worker.is_chief:
            done = f"{summary.count} maps in {out}"
        else:
            count = 0 if summary is None else summary.count
            done = (f"worker {worker.index} of {worker.count} wrote its {count} maps to {out}; "
                    "the chief merges them")
        print(f"keras-vis: {done}", file=sys.stderr)
    return 0
