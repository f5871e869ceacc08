"""Explaining whole datasets: resumable sharded maps, multi-device runs, where the model looks."""

import numpy as np

from keras_vis.dataset._store import read_shards
from keras_vis.dataset.explain import explain_dataset
from keras_vis.dataset.summary import DatasetSummary, dataset_summary


def load_maps(out_dir):
    """Reads every shard of an `explain_dataset` output folder into one dict of arrays.

    Args:
        out_dir: the folder `explain_dataset` wrote.

    Returns:
        A dict with the shards' arrays concatenated in dataset order: `maps` `(N, H, W)`,
        `indices`, `classes`, `predicted`, `scores`, and `labels`, `outside`, `paths` where present.

    Raises:
        ValueError: if the folder has no index.
    """
    shards = list(read_shards(out_dir))
    if not shards:
        raise ValueError(f"Expected maps in '{out_dir}'. Received: an index that lists no shard.")
    return {key: np.concatenate([s[key] for s in shards]) for key in shards[0]}


__all__ = ["DatasetSummary", "dataset_summary", "explain_dataset", "load_maps"]
