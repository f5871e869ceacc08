"""`keras-vis explain-dataset`: the library's maps of a folder, one command per worker, and
one-line errors for what cannot work."""

import json
import os
import re

import cv2
import numpy as np
import pytest

from keras_vis import demo
from keras_vis.cli import main
from keras_vis.dataset import explain_dataset, load_maps

OPTIONS = ["--shard-size", "4", "--batch-size", "3", "--dtype", "float32"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Ten PNG files in two subfolders: the bundled samples, some twice."""
    root = tmp_path_factory.mktemp("photos")
    pictures, names = demo.sample_images()
    for index in range(10):
        path = root / ("a" if index < 5 else "b") / f"{index:02d}_{names[index % len(names)]}.png"
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(os.fspath(path), cv2.cvtColor(pictures[index % len(pictures)],
                                                  cv2.COLOR_RGB2BGR))
    return root


def run(capsys, *argv):
    code = main(["explain-dataset", *(str(a) for a in argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _cluster(workers):
    return {"worker": [f"127.0.0.1:{2222 + i}" for i in range(workers)]}  # never connected


def test_the_command_writes_the_library_maps_and_prints_the_summary(capsys, folder, tmp_path):
    out = tmp_path / "maps"
    code, printed, err = run(capsys, folder, "--out", out, "--target", "star", "--method",
                             "saliency", *OPTIONS)
    assert code == 0, err
    summary = explain_dataset(demo.load_model(), folder, "saliency", target=4,
                              out_dir=tmp_path / "library", shard_size=4, batch_size=3,
                              dtype="float32", progress=False)
    assert printed.strip() == summary.describe(demo.CLASS_NAMES)
    assert "images per explained class: star: 10" in printed  # by name, as --target took it
    assert err.strip().splitlines()[-1] == f"keras-vis: 10 maps in {out}"
    cli, library = load_maps(out), load_maps(tmp_path / "library")
    for key in library:
        np.testing.assert_array_equal(cli[key], library[key], err_msg=key)
    assert list(cli["paths"][:2]) == ["a/00_" + demo.sample_images()[1][0] + ".png",
                                      "a/01_" + demo.sample_images()[1][1] + ".png"]
    assert set(cli["classes"]) == {4}  # "star", by its name


def test_one_command_per_worker_gives_the_single_command_maps(capsys, folder, tmp_path,
                                                             monkeypatch):
    single, merged = tmp_path / "single", tmp_path / "merged"
    assert run(capsys, folder, "--out", single, "--quiet", *OPTIONS)[0] == 0
    cluster = _cluster(2)
    for index in (1, 0):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                    "task": {"type": "worker", "index": index}}))
        code, printed, err = run(capsys, folder, "--out", merged, "--tf-config", *OPTIONS)
        assert code == 0, err
        if index == 1:  # shard 1: images 4–7
            assert printed.startswith("4 maps;")
            assert err.strip().splitlines()[-1] == (
                f"keras-vis: worker 1 of 2 wrote its 4 maps to {merged}; the chief merges them")
    assert err.strip().splitlines()[-1] == f"keras-vis: 10 maps in {merged}"
    assert sorted(p.name for p in merged.glob("index*.json")) == [
        "index-worker-0-of-2.json", "index-worker-1-of-2.json", "index.json"]
    a, b = load_maps(single), load_maps(merged)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("case", ["no TF_CONFIG", "bad TF_CONFIG", "both clusters", "no folder",
                                  "empty folder", "changed settings", "bad layer"])
def test_what_cannot_work_is_one_line_and_exit_2(capsys, folder, tmp_path, monkeypatch, case):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    out = tmp_path / "maps"
    argv = [folder, "--out", out, *OPTIONS]
    if case == "no TF_CONFIG":
        argv.append("--tf-config")
        message = "Expected the TF_CONFIG environment variable"
    elif case == "bad TF_CONFIG":
        monkeypatch.setenv("TF_CONFIG", "{cluster")
        argv.append("--tf-config")
        message = "Expected `TF_CONFIG` to be JSON with a cluster and a task.*not valid JSON"
    elif case == "both clusters":
        argv += ["--tf-config", "--strategy", "multi-worker"]
        message = "Expected one way to name the cluster"
    elif case == "no folder":
        argv[0] = tmp_path / "missing"
        message = "Expected `FOLDER` to be a folder of image files"
    elif case == "empty folder":
        (tmp_path / "empty").mkdir()
        argv[0] = tmp_path / "empty"
        message = "Expected `FOLDER` to be a folder holding image files"
    elif case == "changed settings":
        assert run(capsys, *argv, "--quiet")[0] == 0
        argv += ["--method", "saliency"]
        message = (r"Expected `--out` to be empty or to hold maps made with the same settings.*"
                   r"method \('gradcam' before, 'saliency' now\). Pass `--overwrite`")
    else:
        argv += ["--layer", "nope"]
        message = "Expected `--layer` to name a layer of model 'shapes_cnn'"
    before = sorted(p.name for p in out.iterdir()) if out.exists() else None
    code, printed, err = run(capsys, *argv)
    assert code == 2
    assert printed == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-vis: error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert (sorted(p.name for p in out.iterdir()) if out.exists() else None) == before
