"""`explain_dataset` on several workers: each explains its own shards, the chief merges, a killed
worker resumes only what it had not finished, and the merged maps equal a single-process run."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from helpers.dataset_worker import BATCH_SIZE, SHARD_SIZE, images
from keras_vis.dataset import explain_dataset, load_maps
from keras_vis.dataset._sources import Share
from keras_vis.dataset._store import merge_workers, read_index
from keras_vis.dataset._workers import Worker, find_worker

HELPERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "helpers")
WORKER_SCRIPT = os.path.join(HELPERS, "dataset_worker.py")
OPTIONS = {"batch_size": BATCH_SIZE, "shard_size": SHARD_SIZE, "dtype": "float32",
           "progress": False}


def _cluster(workers):
    ports = []
    sockets = [socket.socket() for _ in range(workers)]
    for listener in sockets:  # all bound at once, so the ports differ
        listener.bind(("127.0.0.1", 0))
        ports.append(listener.getsockname()[1])
    for listener in sockets:
        listener.close()
    return {"worker": [f"127.0.0.1:{port}" for port in ports]}


def _resolver(cluster, index):
    return tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type="worker", task_id=index)


def _assert_same_maps(folder, reference):
    merged, single = load_maps(folder), load_maps(reference)
    assert sorted(merged) == sorted(single)
    for key in single:
        np.testing.assert_array_equal(merged[key], single[key], err_msg=key)


@pytest.fixture
def reference(tiny_cnn, tmp_path):
    """The maps of one process explaining every image, and the saved model the workers load."""
    model_path = tmp_path / "model.keras"
    tiny_cnn.save(model_path)
    explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path / "single", **OPTIONS)
    return model_path, tmp_path / "single"


def test_shares_interleave_whole_shards_in_dataset_order():
    shares = [Share(4, workers=3, worker=w) for w in range(3)]
    assert [list(s.numbers(18)) for s in shares] == [[0, 3], [1, 4], [2]]
    assert [s.images(18) for s in shares] == [8, 6, 4]  # shard 4 holds the last 2 images
    assert Share(4, 3, 2).images(None) is None
    assert [s.owns(4) for s in shares] == [False, True, False]


def test_the_worker_comes_from_the_cluster_chief_first():
    cluster = {"chief": ["a:1"], "worker": ["b:1", "c:1"], "evaluator": ["d:1"]}
    spec = tf.train.ClusterSpec(cluster)

    def worker(task_type, index):
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            spec, task_type=task_type, task_id=index)
        return find_worker(None, resolver)

    assert worker("chief", 0) == Worker(0, 3, "chief 0")
    assert worker("worker", 1) == Worker(2, 3, "worker 1")
    assert not worker("worker", 0).is_chief
    with pytest.raises(ValueError, match="evaluator 0.*Only chief and worker tasks explain"):
        worker("evaluator", 0)
    with pytest.raises(TypeError, match="cluster_resolver.*ClusterResolver"):
        find_worker(None, "TF_CONFIG")
    # No cluster, or a cluster of one: the only worker.
    assert find_worker(tf.distribute.get_strategy(), None) == Worker()
    assert find_worker(None, _resolver({"worker": ["a:1"]}, 0)) == Worker()


@pytest.mark.parametrize("as_dataset", [False, True], ids=["arrays", "tf.data"])
def test_workers_run_one_after_the_other_merge_into_the_single_process_maps(
        tiny_cnn, reference, tmp_path, as_dataset):
    _, single = reference
    data = images()
    if as_dataset:  # streamed: each worker reads everything but explains only its shards
        data = tf.data.Dataset.from_tensor_slices(data).batch(5)
    cluster = _cluster(3)
    out = tmp_path / "workers"
    written = {}
    summaries = {}
    for index in (2, 1, 0):  # the chief last, so it finds the others finished
        summaries[index] = explain_dataset(
            tiny_cnn, data, "gradcam", out_dir=out, cluster_resolver=_resolver(cluster, index),
            on_shard=lambda number, path, index=index: written.setdefault(index, []).append(number),
            **OPTIONS)
    assert written == {0: [0, 3, 6], 1: [1, 4, 7], 2: [2, 5]}
    assert [summaries[i].count for i in (0, 1, 2)] == [64, 24, 16]  # the chief's is everything
    np.testing.assert_array_equal(summaries[2].indices, np.r_[16:24, 40:48])
    _assert_same_maps(out, single)
    assert read_index(out)["workers"] == 3
    assert [e["number"] for e in read_index(out, "index-worker-1-of-3.json")["shards"]] == [1, 4, 7]


def test_maps_cannot_be_loaded_before_every_worker_finished(tiny_cnn, tmp_path):
    cluster = _cluster(2)
    explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path,
                    cluster_resolver=_resolver(cluster, 1), **OPTIONS)
    with pytest.raises(ValueError, match=r"only the workers' indices \(index-worker-1-of-2.json\)"
                                         ".*Run the workers that have not"):
        load_maps(tmp_path)
    with pytest.raises(ValueError, match="worker 0 of 2 not finished"):
        merge_workers(tmp_path, read_index(tmp_path, "index-worker-1-of-2.json")["settings"], 2,
                      SHARD_SIZE)


def test_a_worker_given_a_different_dataset_is_caught_at_the_merge(tiny_cnn, tmp_path):
    cluster = _cluster(2)
    explain_dataset(tiny_cnn, images(40), "gradcam", out_dir=tmp_path,
                    cluster_resolver=_resolver(cluster, 1), **OPTIONS)  # shards 1, 3
    with pytest.raises(ValueError, match="cover the dataset one after the other.*"
                                         "shard 6 .* where shard 5 was due"):
        explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path,
                        cluster_resolver=_resolver(cluster, 0), **OPTIONS)  # shards 0, 2, 4, 6


def test_overwrite_on_a_worker_deletes_only_its_own_shards(tiny_cnn, tmp_path):
    cluster = _cluster(2)
    for index in (1, 0):
        explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path,
                        cluster_resolver=_resolver(cluster, index), **OPTIONS)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("maps-*.npz")}
    written = []
    explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path, overwrite=True,
                    cluster_resolver=_resolver(cluster, 1),
                    on_shard=lambda number, path: written.append(number), **OPTIONS)
    assert written == [1, 3, 5, 7]
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("maps-*.npz")}
    untouched = {name for name in after if after[name] == before[name]}
    assert untouched == {f"maps-{n:05d}.npz" for n in (0, 2, 4, 6)}
    assert (tmp_path / "index.json").exists()  # the chief's merged index is the chief's to redo


def test_the_shards_of_several_workers_resume_in_one_process_and_with_other_workers(
        tiny_cnn, reference, tmp_path):
    _, single = reference
    cluster = _cluster(2)
    for index in (1, 0):
        explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path,
                        cluster_resolver=_resolver(cluster, index), **OPTIONS)
    written = []
    explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path,
                    on_shard=lambda number, path: written.append(number), **OPTIONS)
    assert written == []  # the merged index lists every shard: nothing is computed again
    _assert_same_maps(tmp_path, single)
    three = _cluster(3)
    explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path,
                    cluster_resolver=_resolver(three, 2),
                    on_shard=lambda number, path: written.append(number), **OPTIONS)
    assert written == []


def _start_workers(model_path, out, mode, cluster, indices, die=()):
    processes = {}
    for index in indices:
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        environment = dict(os.environ, TF_CONFIG=json.dumps(config), CUDA_VISIBLE_DEVICES="",
                           PYTHONPATH=os.pathsep.join(filter(None, [HELPERS,
                                                                    os.environ.get("PYTHONPATH")])))
        flags = ["--die-after-first-shard"] if index in die else []
        processes[index] = subprocess.Popen(
            [sys.executable, WORKER_SCRIPT, str(model_path), str(out), mode, *flags],
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return processes


def _finish(process, timeout=180):
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    return process.returncode, stdout, stderr


def _report(process):
    code, stdout, stderr = _finish(process)
    assert code == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.subprocess
def test_two_multi_worker_mirrored_processes_give_the_single_process_maps(reference, tmp_path):
    model_path, single = reference
    out = tmp_path / "out"
    workers = _start_workers(model_path, out, "strategy", _cluster(2), (0, 1))
    reports = {index: _report(process) for index, process in workers.items()}
    assert reports == {0: {"written": [0, 2, 4, 6], "count": 64},
                       1: {"written": [1, 3, 5, 7], "count": 32}}
    _assert_same_maps(out, single)


@pytest.mark.subprocess
def test_a_worker_killed_after_its_first_shard_resumes_only_its_missing_shards(reference,
                                                                               tmp_path):
    model_path, single = reference
    out = tmp_path / "out"
    cluster = _cluster(2)
    workers = _start_workers(model_path, out, "resolver", cluster, (0, 1), die=(1,))
    code, _, _ = _finish(workers[1])
    assert code == -9  # SIGKILL, right after shard 1 was written
    assert workers[0].poll() is None  # the chief waits for worker 1
    assert [e["number"] for e in read_index(out, "index-worker-1-of-2.json")["shards"]] == [1]
    assert not read_index(out, "index-worker-1-of-2.json")["complete"]
    first = (out / "maps-00001.npz").stat().st_mtime_ns
    restarted = _start_workers(model_path, out, "resolver", cluster, (1,))[1]
    assert _report(restarted) == {"written": [3, 5, 7], "count": 32}
    assert _report(workers[0]) == {"written": [0, 2, 4, 6], "count": 64}
    assert (out / "maps-00001.npz").stat().st_mtime_ns == first
    _assert_same_maps(out, single)
    assert not list(out.glob("*.tmp"))  # no half-written file is left behind


@pytest.mark.subprocess
@pytest.mark.slow  # four worker processes started in turn: 15 s; the resume itself is tested above
def test_multi_worker_mirrored_workers_restarted_together_resume_their_own_shards(reference,
                                                                                  tmp_path):
    """TensorFlow's coordination service refuses a lone restarted worker while the chief runs, so
    after a failure every worker is started again: the chief finds its shards done."""
    model_path, single = reference
    out = tmp_path / "out"
    cluster = _cluster(2)
    workers = _start_workers(model_path, out, "strategy", cluster, (0, 1), die=(1,))
    assert _finish(workers[1])[0] == -9
    chief_shards = [f"maps-{n:05d}.npz" for n in (0, 2, 4, 6)]
    deadline = time.monotonic() + 120
    while not all((out / name).exists() for name in chief_shards):  # then the chief only waits
        assert time.monotonic() < deadline and workers[0].poll() is None
        time.sleep(0.1)
    workers[0].kill()
    _finish(workers[0])
    written = {p.name: p.stat().st_mtime_ns for p in out.glob("maps-*.npz")}
    assert sorted(written) == sorted(chief_shards + ["maps-00001.npz"])
    restarted = _start_workers(model_path, out, "strategy", cluster, (0, 1))
    assert _report(restarted[1]) == {"written": [3, 5, 7], "count": 32}
    assert _report(restarted[0]) == {"written": [], "count": 64}
    assert {name: (out / name).stat().st_mtime_ns for name in written} == written
    _assert_same_maps(out, single)


@pytest.mark.parametrize("strategy", ["default", "one device"])
def test_a_strategy_of_one_local_device_gives_the_same_maps(tiny_cnn, reference, tmp_path,
                                                            strategy):
    _, single = reference
    chosen = (tf.distribute.get_strategy() if strategy == "default"
              else tf.distribute.OneDeviceStrategy("/cpu:0"))
    explain_dataset(tiny_cnn, images(), "gradcam", out_dir=tmp_path / "out", strategy=chosen,
                    **OPTIONS)
    _assert_same_maps(tmp_path / "out", single)
