"""Explaining datasets: shards equal direct maps, resuming redoes only missing shards, the summary."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.state import assert_model_unchanged, model_state

from keras_vis import engine, progress
from keras_vis.attribution import gradcam
from keras_vis.dataset import dataset_summary, explain_dataset, load_maps
from keras_vis.io import save_image

SIDE = 8


def _region_model(region):
    """8×8×1 → flatten → dense(2): logit 0 is the sum of the pixels in `region`, logit 1 its negative.

    On positive images class 0 wins and its input gradient is exactly `region`: a model that looks
    where the test says."""
    inputs = keras.Input((SIDE, SIDE, 1))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    column = region.reshape(-1, 1).astype("float32")
    model.get_layer("predictions").set_weights([np.hstack([column, -column]), np.zeros(2, "float32")])
    return model


def _object_data(count, rng):
    images = rng.uniform(0.1, 1.0, (count, SIDE, SIDE, 1)).astype("float32")
    masks = np.zeros((count, SIDE, SIDE), bool)
    masks[:, 2:6, 2:6] = True  # the "object" is the centre
    return images, np.zeros(count, np.int64), masks


CORNERS = np.zeros((SIDE, SIDE), bool)
CORNERS[:2, :2] = CORNERS[:2, -2:] = CORNERS[-2:, :2] = CORNERS[-2:, -2:] = True
CENTRE = np.zeros((SIDE, SIDE), bool)
CENTRE[2:6, 2:6] = True


@pytest.fixture
def images(rng):
    return rng.uniform(0, 1, (10, 16, 16, 3)).astype("float32")


def test_shards_and_index_hold_the_maps_of_a_direct_call(tiny_cnn, images, tmp_path):
    before = model_state(tiny_cnn)
    summary = explain_dataset(tiny_cnn, images, "gradcam", out_dir=tmp_path, batch_size=3,
                              shard_size=4, dtype="float32", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "index.json", "maps-00000.npz", "maps-00001.npz", "maps-00002.npz"]
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["complete"] and index["count"] == 10
    assert [(s["start"], s["count"]) for s in index["shards"]] == [(0, 4), (4, 4), (8, 2)]
    assert index["settings"]["method"] == "gradcam" and index["settings"]["dtype"] == "float32"
    stored = load_maps(tmp_path)
    probabilities = tiny_cnn.predict(images, verbose=0)
    np.testing.assert_allclose(stored["maps"], gradcam(tiny_cnn, images), atol=1e-6)
    np.testing.assert_array_equal(stored["indices"], np.arange(10))
    np.testing.assert_array_equal(stored["predicted"], probabilities.argmax(axis=1))
    np.testing.assert_array_equal(stored["classes"], probabilities.argmax(axis=1))
    np.testing.assert_allclose(stored["scores"], probabilities.max(axis=1), rtol=1e-5)
    np.testing.assert_allclose(summary.mean_map, stored["maps"].mean(axis=0), atol=1e-6)
    assert summary.count == 10 and summary.outside is None
    assert_model_unchanged(tiny_cnn, before)


def _counting(calls):
    def method(model, images, target):
        calls.append(len(images))
        return gradcam(model, images, target)

    return method


def test_an_interrupted_run_resumes_without_redoing_finished_shards(tiny_cnn, images, tmp_path):
    calls = []
    method = _counting(calls)

    def interrupt_after_shard_1(number, path):
        assert path.exists()
        if number == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        explain_dataset(tiny_cnn, images, method, out_dir=tmp_path, batch_size=4, shard_size=4,
                        progress=False, on_shard=interrupt_after_shard_1)
    index = json.loads((tmp_path / "index.json").read_text())
    assert [s["number"] for s in index["shards"]] == [0, 1] and not index["complete"]
    assert sum(calls) == 8
    calls.clear()
    written = []
    explain_dataset(tiny_cnn, images, method, out_dir=tmp_path, batch_size=4, shard_size=4,
                    progress=False, on_shard=lambda number, path: written.append(number))
    assert calls == [2] and written == [2]  # only the last shard's two images

    (tmp_path / "maps-00001.npz").unlink()  # a lost shard is computed again, alone
    calls.clear()
    explain_dataset(tiny_cnn, images, method, out_dir=tmp_path, batch_size=4, shard_size=4,
                    progress=False)
    assert calls == [4]
    resumed = load_maps(tmp_path)
    fresh = tmp_path / "fresh"
    explain_dataset(tiny_cnn, images, method, out_dir=fresh, batch_size=4, shard_size=4, progress=False)
    for key, value in load_maps(fresh).items():
        np.testing.assert_array_equal(resumed[key], value)


def test_other_settings_or_data_in_out_dir_are_refused_unless_overwrite(tiny_cnn, images, tmp_path):
    explain_dataset(tiny_cnn, images, "gradcam", out_dir=tmp_path, shard_size=4, progress=False)
    with pytest.raises(ValueError, match="method.*'gradcam' before, 'saliency' now.*overwrite=True"):
        explain_dataset(tiny_cnn, images, "saliency", out_dir=tmp_path, shard_size=4, progress=False)
    with pytest.raises(ValueError, match="images 0–3 differ"):
        explain_dataset(tiny_cnn, images[::-1], "gradcam", out_dir=tmp_path, shard_size=4, progress=False)
    explain_dataset(tiny_cnn, images[:5], "saliency", out_dir=tmp_path, shard_size=4, progress=False,
                    overwrite=True)
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["settings"]["method"] == "saliency" and index["count"] == 5
    assert sorted(p.name for p in tmp_path.glob("maps-*")) == ["maps-00000.npz", "maps-00001.npz"]


def test_every_kind_of_dataset_gives_the_same_maps(tiny_cnn, rng, tmp_path):
    pixels = rng.integers(0, 256, (5, 16, 16, 3)).astype("uint8")
    labels = np.array([0, 1, 2, 1, 0])
    masks = np.zeros((5, 16, 16), bool)
    masks[:, 4:12, 4:12] = True
    folder = tmp_path / "images"
    for i, image in enumerate(pixels):
        save_image(folder / ("sub" if i % 2 else ".") / f"{i}.png", image)
    expected = gradcam(tiny_cnn, pixels.astype("float32"), labels)
    sources = {
        "arrays": (pixels, labels, masks),
        "batched": tf.data.Dataset.from_tensor_slices((pixels, labels, masks)).batch(2),
        "one-hot": tf.data.Dataset.from_tensor_slices((pixels, np.eye(3)[labels])),
    }
    for name, source in sources.items():
        explain_dataset(tiny_cnn, source, "gradcam", out_dir=tmp_path / name, target="label",
                        batch_size=2, shard_size=3, dtype="float32", progress=False)
        stored = load_maps(tmp_path / name)
        np.testing.assert_allclose(stored["maps"], expected, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(stored["classes"], labels)
        np.testing.assert_array_equal(stored["labels"], labels)
    assert "outside" in load_maps(tmp_path / "arrays")
    explain_dataset(tiny_cnn, folder, "gradcam", out_dir=tmp_path / "folder", dtype="float32",
                    progress=False)
    stored = load_maps(tmp_path / "folder")
    order = [int(p.split("/")[-1][0]) for p in stored["paths"]]
    assert list(stored["paths"]) == ["0.png", "2.png", "4.png", "sub/1.png", "sub/3.png"]
    np.testing.assert_allclose(stored["maps"], gradcam(tiny_cnn, pixels[order].astype("float32")),
                               atol=1e-6)
    explain_dataset(tiny_cnn, tf.data.Dataset.from_tensor_slices(pixels), "gradcam", target=2,
                    out_dir=tmp_path / "unbatched", dtype="float16", progress=False)
    stored = load_maps(tmp_path / "unbatched")
    assert stored["maps"].dtype == np.float16
    np.testing.assert_allclose(stored["maps"], gradcam(tiny_cnn, pixels.astype("float32"), 2), atol=1e-3)


def test_summary_tells_a_model_looking_at_the_background_from_one_looking_at_the_object(rng, tmp_path):
    data = _object_data(6, rng)
    background = explain_dataset(_region_model(CORNERS), data, "saliency", out_dir=tmp_path / "b",
                                 shard_size=4, progress=False)
    keras.backend.clear_session()
    looking = explain_dataset(_region_model(CENTRE), data, "saliency", out_dir=tmp_path / "o",
                              shard_size=4, progress=False)
    np.testing.assert_allclose(background.outside, 1.0)
    np.testing.assert_allclose(looking.outside, 0.0)
    np.testing.assert_allclose(background.mean_map, CORNERS.astype("float32"))
    assert background.class_counts == {0: 6} and list(background.class_maps) == [0]
    assert background.mean_outside == 1.0 and looking.mean_outside == 0.0
    assert "100.0% on average" in str(background)
    assert dataset_summary(tmp_path / "b").mean_outside == 1.0


def test_dataset_summary_of_arrays_known_means_and_shares():
    maps = np.zeros((3, 2, 2), "float32")
    maps[0, 0, 0] = 1.0
    maps[1] = [[0.5, -0.5], [0.0, 0.0]]  # the mass is the absolute value
    maps[2, 1, 1] = 2.0
    masks = np.zeros((3, 2, 2), bool)
    masks[:, 0, 0] = True
    summary = dataset_summary(maps, classes=[1, 1, 4], masks=masks)
    np.testing.assert_allclose(summary.mean_map, [[0.5, 1 / 6], [0.0, 2 / 3]])
    np.testing.assert_allclose(summary.class_maps[1], [[0.75, 0.25], [0.0, 0.0]])
    np.testing.assert_allclose(summary.class_maps[4], [[0.0, 0.0], [0.0, 2.0]])
    assert summary.class_counts == {1: 2, 4: 1}
    np.testing.assert_allclose(summary.outside, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(summary.most_outside(2), [2, 1])
    with pytest.raises(ValueError, match="one integer class per map"):
        dataset_summary(maps, classes=[1, 2])
    with pytest.raises(ValueError, match="without"):
        dataset_summary(maps).most_outside()


def test_progress_bar_and_silence(tiny_cnn, images, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)  # the bar of a two-second job, at once
    explain_dataset(tiny_cnn, images, "gradcam", out_dir=tmp_path / "a", batch_size=4,
                    progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "10/10" in err and "\x1b" not in err
    explain_dataset(tiny_cnn, images, "gradcam", out_dir=tmp_path / "b", progress=False)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "dataset, kwargs, error, words",
    [
        ("images", {"target": "label"}, ValueError, "without labels"),
        ("images", {"target": "labels"}, TypeError, "'label'"),
        ("images", {"dtype": "int8"}, ValueError, "float16"),
        ("images", {"strategy": "mirrored"}, TypeError, "tf.distribute.Strategy"),
        ("images", {"method": "gradcamm"}, ValueError, "Known names"),
        ("images", {"shard_size": 0}, ValueError, "shard_size"),
        ({"x": 1}, {}, TypeError, "folder of image files"),
        ("missing", {}, ValueError, "existing folder"),
        ("empty", {}, ValueError, "holding image files"),
        (np.zeros((2, 15, 16, 3)), {}, ValueError, "match the model input"),
    ],
)
def test_bad_arguments_fail_before_any_file_is_written(tiny_cnn, images, tmp_path, dataset, kwargs,
                                                       error, words):
    (tmp_path / "empty").mkdir()
    dataset = {"images": images, "missing": tmp_path / "nope", "empty": tmp_path / "empty"}.get(
        dataset, dataset) if isinstance(dataset, str) else dataset
    out_dir = tmp_path / "out"
    with pytest.raises(error, match=words):
        explain_dataset(tiny_cnn, dataset, out_dir=out_dir, progress=False, **kwargs)
    assert not list(out_dir.glob("maps-*"))


def test_out_dir_under_a_file_is_refused_before_any_map_is_computed(tiny_cnn, images, tmp_path,
                                                                   monkeypatch):
    (tmp_path / "taken").write_text("a file")
    monkeypatch.setattr(engine, "run",
                        lambda *a, **k: pytest.fail("computed before the folder was checked"))
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        explain_dataset(tiny_cnn, images, out_dir=tmp_path / "taken" / "maps", progress=False)


_STRATEGY_SCRIPT = textwrap.dedent("""
    import json, os, sys, tempfile
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    from keras_vis.attribution import gradcam
    from keras_vis.dataset import explain_dataset, load_maps

    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        inputs = keras.Input((12, 12, 3))
        x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    images = np.random.default_rng(0).uniform(size=(7, 12, 12, 3)).astype("float32")
    seen = []

    def method(model, images, target):
        seen.append((tf.distribute.get_replica_context().replica_id_in_sync_group, len(images)))
        return gradcam(model, images, target)

    out = tempfile.mkdtemp()
    explain_dataset(model, images, method, out_dir=out + "/plain", batch_size=3, progress=False)
    plain = load_maps(out + "/plain")
    seen.clear()
    explain_dataset(model, images, method, out_dir=out + "/mirrored", batch_size=3, progress=False,
                    strategy=strategy)
    mirrored = load_maps(out + "/mirrored")
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "seen": [[int(r), n] for r, n in seen],
        "differences": {k: float(np.max(np.abs(plain[k].astype(float) - mirrored[k].astype(float))))
                        for k in ("maps", "scores", "predicted", "indices")},
    }))
""")


@pytest.mark.subprocess
def test_mirrored_strategy_over_two_cpus_gives_the_same_maps():
    environment = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    completed = subprocess.run([sys.executable, "-c", _STRATEGY_SCRIPT], capture_output=True,
                               text=True, timeout=300, env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    # Batches of 3, 3 and 1 images split over the two replicas; the lone image goes to replica 1.
    assert report["seen"] == [[0, 2], [1, 1], [0, 2], [1, 1], [1, 1]]
    # A replica runs batches of another size, and oneDNN's kernels may sum in another order for
    # them: a score can move by an ulp, yet the maps (scaled per image) and classes are equal.
    differences = report["differences"]
    assert differences.pop("scores") <= 1e-6
    assert differences == {"maps": 0.0, "predicted": 0.0, "indices": 0.0}
