"""`explain_dataset` throughput on one process, two local workers and two local replicas.

The bundled demo model (64² input) explains `keras_vis.demo.shapes(N)` with Grad-CAM, batches of
32 images in shards of 128. Each configuration runs in fresh processes; every process first
explains 64 of the images untimed (tracing, thread pools), then all of them wait at a barrier and
the clock runs from its release until the chief has merged the indices. Rows:

- 1 process: `explain_dataset` with no strategy;
- 2 workers, MultiWorkerMirroredStrategy: two processes on 127.0.0.1 connected by `TF_CONFIG`;
- 2 workers, unconnected: the same two processes given a `TFConfigClusterResolver`;
- 2 replicas, MirroredStrategy: one process whose CPU is split into two logical devices.

Each configuration's maps are checked equal to the single process' before its time is reported.

Usage: `python benchmarks/scale.py [--quick] [--out PATH]`; results: benchmarks/results/scale.md.
"""

import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FULL = {"images": 4096, "repeats": 3}
QUICK = {"images": 128, "repeats": 1}
BATCH_SIZE = 32
SHARD_SIZE = 128
WARMUP_IMAGES = 64
CONFIGS = (
    ("1 process", "single", 1),
    ("2 workers, MultiWorkerMirroredStrategy", "strategy", 2),
    ("2 workers, unconnected (`cluster_resolver`)", "resolver", 2),
    ("2 replicas, MirroredStrategy over 2 logical CPUs", "replicas", 1),
)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for listener in sockets:
        listener.bind(("127.0.0.1", 0))
    ports = [listener.getsockname()[1] for listener in sockets]
    for listener in sockets:
        listener.close()
    return ports


def worker(mode, data, out, barrier):
    """One process of a configuration: warm up, wait at the barrier, explain, report the time."""
    import numpy as np

    from keras_vis import demo  # first, so that TensorFlow's import lines stay off stderr
    from keras_vis.dataset import explain_dataset

    import tensorflow as tf

    if mode == "replicas":
        cpu = tf.config.list_physical_devices("CPU")[0]
        halves = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, halves)

    options = {}
    if mode == "strategy":
        options["strategy"] = tf.distribute.MultiWorkerMirroredStrategy()
    elif mode == "resolver":
        options["cluster_resolver"] = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    elif mode == "replicas":
        options["strategy"] = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    model = demo.load_model()
    images = np.load(data)
    settings = {"batch_size": BATCH_SIZE, "shard_size": SHARD_SIZE, "progress": False}
    index = json.loads(os.environ.get("TF_CONFIG", '{"task": {"index": 0}}'))["task"]["index"]
    # Untimed, each process on its own (no cluster): traces the steps on every local device.
    local = {"strategy": options["strategy"]} if mode == "replicas" else {}
    explain_dataset(model, images[-WARMUP_IMAGES:], "gradcam", out_dir=f"{out}-warmup-{index}",
                    **settings, **local)
    pathlib.Path(f"{barrier}.ready-{index}").touch()
    while not pathlib.Path(barrier).exists():
        time.sleep(0.01)
    start, cpu = pathlib.Path(barrier).stat().st_mtime, time.process_time()
    explain_dataset(model, images, "gradcam", out_dir=out, **settings, **options)
    print(json.dumps({"start": start, "end": time.time(), "cpu": time.process_time() - cpu}))


def run_config(mode, workers, data, folder, attempt):
    """Starts the processes of one configuration; returns (seconds, CPU seconds, out_dir)."""
    out, barrier = folder / f"{mode}-{attempt}", folder / f"{mode}-{attempt}.go"
    ports = _free_ports(workers)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(workers):
        environment = dict(os.environ, CUDA_VISIBLE_DEVICES="")
        if workers > 1:
            environment["TF_CONFIG"] = json.dumps({"cluster": cluster,
                                                   "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, __file__, "--worker", mode, str(data), str(out), str(barrier)],
            env=environment, stdout=subprocess.PIPE, text=True))
    while not all(pathlib.Path(f"{barrier}.ready-{i}").exists() for i in range(workers)):
        if any(p.poll() not in (None, 0) for p in processes):
            raise RuntimeError(f"a {mode} process failed before the barrier")
        time.sleep(0.05)
    barrier.touch()
    reports = []
    for process in processes:
        stdout, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a {mode} process failed with exit code {process.returncode}")
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    seconds = max(r["end"] for r in reports) - reports[0]["start"]
    return seconds, sum(r["cpu"] for r in reports), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", default=str(HERE / "results" / "scale.md"))
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "DATA", "OUT", "BARRIER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker)
    import numpy as np

    from _machine import markdown_table, write_result
    from keras_vis import demo
    from keras_vis.dataset import load_maps

    sizes = QUICK if args.quick else FULL
    began = time.perf_counter()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        data = folder / "images.npy"
        np.save(data, demo.shapes(sizes["images"], seed=1)[0].astype(np.float32))
        runs, single = {}, None
        for attempt in range(sizes["repeats"]):  # interleaved, so a load spike hits all alike
            for title, mode, workers in CONFIGS:
                seconds, cpu, out = run_config(mode, workers, data, folder, attempt)
                maps = load_maps(out)
                single = maps if single is None else single
                for key in single:
                    np.testing.assert_array_equal(maps[key], single[key], err_msg=f"{mode}: {key}")
                runs.setdefault(title, []).append((seconds, cpu))
                print(title, f"{seconds:.2f} s, {cpu:.2f} CPU s", flush=True)
        rows = []
        base = statistics.median(s for s, _ in runs[CONFIGS[0][0]])
        for title, _, _ in CONFIGS:
            seconds = statistics.median(s for s, _ in runs[title])
            busy = statistics.median(c / s for s, c in runs[title])
            rows.append([title, f"{seconds:.2f}", f"{sizes['images'] / seconds:.0f}",
                         f"{base / seconds:.2f}×", f"{busy:.2f}"])
    load_end = os.getloadavg()
    intro = f"""
Generated by `python benchmarks/scale.py{' --quick' if args.quick else ''}` in
{(time.perf_counter() - began) / 60:.1f} minutes. Load average (1, 5, 15 min) at the start
{', '.join(f'{v:.2f}' for v in load_start)}, at the end {', '.join(f'{v:.2f}' for v in load_end)}.

The bundled demo model (64² RGB input) explains {sizes['images']} images of
`keras_vis.demo.shapes(seed=1)` with Grad-CAM: batches of {BATCH_SIZE}, shards of {SHARD_SIZE},
float16 maps. Every configuration runs in fresh processes that first explain {WARMUP_IMAGES} of
the images untimed, each on its own (tracing), then start together at a barrier; the time runs
from the barrier until the last process has returned (for workers: the chief's merge of the
indices included).
Seconds are the median of {sizes['repeats']} interleaved runs; "cores busy" is the CPU time of
all the configuration's processes over that wall time (the median of the runs' ratios). Every
run's maps equal the single process' exactly (checked before any time is reported).
"""
    table = markdown_table(["Configuration", "Seconds", "Images/s", "vs 1 process",
                            "Cores busy"], rows)
    note = """
On 2 cores one process keeps about one and a half cores busy: between batches it runs Python
(the batch's probabilities and SHA-1, the shard writes), and convolutions this small do not
split evenly over two threads. A second worker fills those gaps, so two workers finish a little
sooner, but not twice as soon: neither has a core of its own. The two ways of forming the cluster
do the same work (they differ only in who connects them) and differ here by no more than
run-to-run noise. Two replicas in one process are slower: `strategy.run` cuts each batch in two
and runs the halves in two threads of one Python process, and on one CPU that costs more than it
overlaps; replicas pay off on several GPUs, where each half runs on its own device.

On a cluster, each worker brings its own cores or GPUs. The workers exchange nothing while they
compute, only one shard file and one index rewrite per `shard_size` images and one merge of small
JSON indices at the end, so the throughput is the per-worker rate times the number of workers,
as long as the shared file system keeps up with the writes.
"""
    write_result(args.out, "Explaining datasets at scale", intro,
                 [("Throughput", table), ("Reading the numbers", note)])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
