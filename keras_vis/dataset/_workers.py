"""Which worker of a cluster this process is, and the chief's wait for the others.

The workers of `explain_dataset` never exchange tensors: each explains its own shards and writes
its own files, so the only coordination is through the output folder, where the chief waits for
every worker's complete index before merging them.
"""

import dataclasses
import sys
import time

import tensorflow as tf

from keras_vis._checks import expected
from keras_vis.dataset._store import merge_workers, pending_workers
from keras_vis.progress import is_silenced

# How often the chief looks for the other workers' indices.
POLL_SECONDS = 0.5
# The tasks that explain data, in worker order (a cluster's chief, if it has one, is worker 0).
_EXPLAINING_TASKS = ("chief", "worker")


@dataclasses.dataclass(frozen=True)
class Worker:
    """This process's place in the cluster: worker `index` of `count`."""

    index: int = 0
    count: int = 1
    name: str = "the only worker"

    @property
    def is_chief(self):
        return self.index == 0


def _task_addresses(spec, task_type):
    addresses = spec.get(task_type, [])
    if isinstance(addresses, dict):  # a sparse job: {task index: address}
        return [addresses[key] for key in sorted(addresses)]
    return list(addresses)


def find_worker(strategy, cluster_resolver):
    """The `Worker` this process is, from `cluster_resolver` or else `strategy`'s own resolver (as
    a `MultiWorkerMirroredStrategy` has); the only worker when neither names a cluster.

    Raises:
        TypeError, ValueError: for a resolver that is not one, or a task that explains nothing
            (an evaluator or a parameter server).
    """
    if cluster_resolver is not None and not isinstance(
            cluster_resolver, tf.distribute.cluster_resolver.ClusterResolver):
        raise TypeError(expected("cluster_resolver", "None or a tf.distribute.cluster_resolver."
                                 "ClusterResolver (e.g. TFConfigClusterResolver())",
                                 cluster_resolver))
    resolver = cluster_resolver or getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return Worker()
    spec = resolver.cluster_spec().as_dict()
    tasks = [(task_type, index) for task_type in _EXPLAINING_TASKS
             for index in range(len(_task_addresses(spec, task_type)))]
    if len(tasks) <= 1:
        return Worker()
    task = (resolver.task_type, resolver.task_id)
    if task not in tasks:
        raise ValueError(expected(
            "cluster_resolver", "the resolver of a chief or worker task", f"{task[0]} {task[1]}",
            "Only chief and worker tasks explain data; do not run explain_dataset on an "
            "evaluator or parameter server."))
    return Worker(tasks.index(task), len(tasks), f"{task[0]} {task[1]}")


def wait_and_merge(folder, settings, worker, shard_size, announce):
    """On the chief: waits until every worker's index in `folder` is complete, then merges them
    into `index.json`. Other workers return at once.

    Returns:
        Whether `index.json` now lists every worker's shards (True on the chief).
    """
    if not worker.is_chief:
        return False
    pending = pending_workers(folder, settings, worker.count)
    if pending and announce and not is_silenced():
        names = ", ".join(str(w) for w in pending)
        print(f"explain_dataset: waiting for worker{'s' * (len(pending) > 1)} {names} of "
              f"{worker.count} to finish", file=sys.stderr, flush=True)
    while pending:
        time.sleep(POLL_SECONDS)
        pending = pending_workers(folder, settings, worker.count)
    merge_workers(folder, settings, worker.count, shard_size)
    return True
