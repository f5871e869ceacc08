"""One worker of a multi-worker `explain_dataset` run, started by the tests as its own process.

    python dataset_worker.py MODEL OUT_DIR {strategy,resolver} [--die-after-first-shard]

`TF_CONFIG` says which worker it is. It explains `images(64)` and prints one JSON line.
"""

import json
import os
import signal
import sys

import numpy as np

IMAGES = 64
SHARD_SIZE = 8
BATCH_SIZE = 4


def images(count=IMAGES):
    return np.random.default_rng(0).uniform(size=(count, 16, 16, 3)).astype("float32")


def main(model_path, out_dir, mode, *flags):
    import keras
    import tensorflow as tf

    from keras_vis.dataset import explain_dataset

    if mode == "strategy":
        options = {"strategy": tf.distribute.MultiWorkerMirroredStrategy()}
    else:
        options = {"cluster_resolver": tf.distribute.cluster_resolver.TFConfigClusterResolver()}
    model = keras.saving.load_model(model_path)
    written = []

    def on_shard(number, path):
        written.append(number)
        if "--die-after-first-shard" in flags:
            os.kill(os.getpid(), signal.SIGKILL)

    summary = explain_dataset(model, images(), "gradcam", out_dir=out_dir, batch_size=BATCH_SIZE,
                              shard_size=SHARD_SIZE, dtype="float32", progress=False,
                              on_shard=on_shard, **options)
    print(json.dumps({"written": written, "count": None if summary is None else summary.count}))


if __name__ == "__main__":
    main(*sys.argv[1:])
