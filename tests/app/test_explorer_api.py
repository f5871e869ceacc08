"""`keras_vis.serve` from Python: a server on a background thread over a user's nested model, its
checks of the arguments, the result cache, the activation atlas panel's endpoints, and
`keras-vis serve`'s one-line errors."""

import argparse
import concurrent.futures
import dataclasses
import socket
import threading
import time

import cv2
import keras
import numpy as np
import pytest

import keras_vis
from helpers.state import assert_model_unchanged, model_state
from helpers.explorer_client import decode_npy, decode_png, get_json, request
import keras_vis.explorer
from keras_vis.cli import main
from keras_vis.cli.options import METHOD_OPTIONS
from keras_vis.cli.parser import command_flags
from keras_vis.explorer.cache import ResultCache
from keras_vis.explorer.panels import PANELS, Panel
from keras_vis.explorer.session import MAX_UPLOADS, Explorer, NotFound
from keras_vis.pixels import to_uint8
from keras_vis.report.settings import Settings
from helpers.models import images, nested_cnn

QUICK = Settings(maximize_steps=2, smooth_samples=2, ig_steps=2, shap_samples=2, rise_masks=8,
                 score_cam_maps=2, progress=False)


@pytest.fixture
def nested():
    return nested_cnn()


def test_serve_runs_on_a_background_thread_over_a_nested_model(nested):
    x = images(3)
    before = model_state(nested)
    with keras_vis.serve(nested, x, names=["a", "b", "c"], class_names=["x", "y", "z"], port=0,
                         block=False, settings=QUICK) as server:
        assert server.running and server.url.startswith("http://127.0.0.1:")
        assert "explorer" in server._repr_html_() and server.url in server._repr_html_()
        status, info = get_json(server.url + "api/model")
        paths = [row["path"] for row in info["layers"]]
        assert "base/inner/deep_conv1" in paths and info["default_layer"] == "base/inner/deep_conv2"
        assert info["classes"] == ["x", "y", "z"] and info["input_size"] == [16, 16, 3]
        status, listed = get_json(server.url + "api/images")
        assert [image["name"] for image in listed] == ["a", "b", "c"]
        status, kind, body = request(server.url + "api/images/s1/features?layer=base/inner/"
                                                  "deep_conv1")
        assert status == 200 and decode_png(body).shape[1] == 4 * 64 + 3 * 2  # 4 channels
        # A nested layer's own name works as everywhere in the library.
        assert request(server.url + "api/images/s1/features?layer=deep_conv1")[2] == body
        status, kind, body = request(server.url + "api/images/s2/map?method=gradcam&class=2")
        expected = keras_vis.gradcam(nested, to_uint8(x)[2:3].astype(np.float32), 2)[0]
        np.testing.assert_allclose(decode_npy(body), expected, atol=1e-5)
    assert not server.running and "stopped" in repr(server)
    assert_model_unchanged(nested, before)
    with pytest.raises(OSError):
        request(server.url + "api/model", timeout=5)


def test_a_folder_or_a_list_of_files_gives_the_images_named_after_the_files(nested, tmp_path):
    pictures = to_uint8(images(2, size=20))
    for name, picture in zip(("one", "two"), pictures):
        keras_vis.save_image(tmp_path / f"{name}.png", picture)
    for given in (tmp_path, [tmp_path / "one.png", str(tmp_path / "two.png")]):
        with keras_vis.serve(nested, given, port=0, block=False, warm_up=False) as server:
            listed = get_json(server.url + "api/images")[1]
            assert [image["name"] for image in listed] == ["one", "two"]
            shown = decode_png(request(server.url + "api/images/s0")[2])
            assert shown.shape == (128, 128, 3)  # resized to 16², enlarged by 8


def test_a_grey_model_gets_grey_samples_and_uploads(tmp_path):
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    explorer = Explorer(model, to_uint8(images(1, size=30)), ["rgb"], settings=QUICK)
    assert explorer.image("s0").subject.images.shape == (1, 12, 12, 1)
    keras_vis.save_image(tmp_path / "u.png", to_uint8(images(1, size=9))[0])
    added = explorer.add_upload((tmp_path / "u.png").read_bytes(), "u.png")
    assert added.subject.images.shape == (1, 12, 12, 1)  # decoded as RGB, then made grey
    assert explorer.explanation_map(added, "gradcam").shape == (12, 12)


def test_uploads_beyond_the_limit_forget_the_oldest(nested):
    explorer = Explorer(nested, to_uint8(images(1)), ["s"], settings=QUICK)
    pictures = to_uint8(images(MAX_UPLOADS + 1, seed=3))
    ids = []
    for index, picture in enumerate(pictures):
        data = cv2.imencode(".png", picture)[1].tobytes()
        ids.append(explorer.add_upload(data, f"n{index}").id)
    listed = [image["id"] for image in explorer.images()]
    assert listed == ["s0"] + ids[1:]
    with pytest.raises(NotFound, match="No image with id"):
        explorer.image(ids[0])


def test_a_host_beyond_this_machine_is_announced_with_a_warning(nested, capfd):
    with keras_vis.serve(nested, images(1), host="0.0.0.0", port=0, block=False,
                         warm_up=False) as server:
        assert server.url.startswith("http://0.0.0.0:")
        assert get_json(f"http://127.0.0.1:{server.port}/api/images")[0] == 200
    warning = capfd.readouterr().err
    assert "warning: the explorer listens on 0.0.0.0" in warning and "127.0.0.1" in warning


def test_a_port_in_use_is_a_clear_error(nested):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ValueError, match=f"Port {port} is in use; pass another, or 0"):
            keras_vis.serve(nested, images(1), port=port, block=False)
    finally:
        taken.close()


@pytest.mark.parametrize("options, error, words", [
    ({"port": 70000}, ValueError, r"Expected `port` to be a port number in \[0, 65535\]"),
    ({"port": "80"}, ValueError, "Expected `port` to be a port number"),
    ({"host": ""}, TypeError, "Expected `host` to be an address"),
    ({"host": "no-such-host.invalid"}, ValueError,
     "Expected `host` to be an address this machine can listen"),
    ({"max_upload_mb": 0}, ValueError, r"Expected `max_upload_mb` to be a number of MiB"),
    ({"block": "yes"}, TypeError, "Expected `block` to be None, True or False"),
    ({"settings": {"seed": 1}}, TypeError, "Expected `settings` to be None or a"),
    ({"images": np.zeros((2, 16, 16))}, ValueError, "Expected `images` to be a non-empty batch"),
    ({"names": ["only one"]}, ValueError, "Expected `names` to be 2 names, one per image"),
    ({"class_names": ["a"]}, ValueError, "Expected `class_names` to hold 3 names"),
    ({"images": "/no/such/folder"}, ValueError, "Expected `images` to be an existing folder"),
], ids=lambda value: None)
def test_bad_arguments_are_clear_errors_before_anything_listens(nested, options, error, words):
    arguments = {"images": images(2), "port": 0, "block": False, **options}
    with pytest.raises(error, match=words):
        keras_vis.serve(nested, arguments.pop("images"), **arguments)


def test_a_failing_job_reports_its_message(nested):
    explorer = Explorer(nested, to_uint8(images(1)), ["s"], settings=QUICK)
    job = explorer.jobs.start("key", "a failing render", 3, lambda progress: 1 / 0)
    for _ in range(200):
        if job.state == "failed":
            break
        time.sleep(0.01)
    assert job.describe()["state"] == "failed" and job.error == "division by zero"
    assert explorer.jobs.start("key", "again", 3, lambda progress: b"png").id != job.id


# --- the activation atlas


def first_two(vectors):
    """A layout without UMAP's slow first compile: the vectors' first two components."""
    return vectors[:, :2]


@pytest.fixture(scope="module")
def atlas():
    """A 4 × 4 atlas of the nested model's last convolution, named by its own name."""
    keras.backend.clear_session()
    return keras_vis.activation_atlas(nested_cnn(), images(12, seed=5), "deep_conv2", grid=4,
                                      size=16, steps=2, min_density=1, method=first_two,
                                      class_names=["x", "y", "z"], seed=0, progress=False)


def expected_cells(atlas, names):
    return [{"row": int(row), "column": int(column), "count": int(count), "class": int(klass),
             "class_name": names[klass], "share": pytest.approx(float(share))}
            for (row, column), count, klass, share in zip(
                atlas.cells, atlas.counts, atlas.classes, atlas.class_shares)]


def test_an_atlas_file_is_served_as_json_and_as_its_picture(nested, atlas, tmp_path):
    path = atlas.save(tmp_path / "atlas.npz")
    with keras_vis.serve(nested, images(2), port=0, block=False, warm_up=False,
                         atlas=str(path)) as server:
        assert get_json(server.url + "api/model")[1]["atlas"] is True
        status, described = get_json(server.url + "api/atlas")
        assert status == 200
        assert {key: described[key] for key in ("layer", "grid", "size", "method", "samples")} == {
            "layer": "deep_conv2", "grid": 4, "size": 16, "method": "first_two",
            "samples": len(atlas.layout)}
        assert described["cells"] == expected_cells(atlas, ["x", "y", "z"])
        status, kind, body = request(server.url + "api/atlas.png")
        assert (status, kind) == (200, "image/png")
        np.testing.assert_array_equal(decode_png(body), atlas.image)
        assert request(server.url + "api/atlas.png")[2] == body
        assert server.explorer.cache.hits >= 1


def test_an_atlas_without_class_names_takes_the_models(nested, atlas):
    unnamed = dataclasses.replace(atlas, class_names=None)
    explorer = Explorer(nested, to_uint8(images(1)), ["s"], class_names=["cat", "dog", "owl"],
                        atlas=unnamed, settings=QUICK)
    cells = explorer.describe_atlas()["cells"]
    assert cells == expected_cells(atlas, ["cat", "dog", "owl"])


def test_without_an_atlas_its_endpoints_answer_404(nested):
    with keras_vis.serve(nested, images(1), port=0, block=False, warm_up=False) as server:
        assert get_json(server.url + "api/model")[1]["atlas"] is False
        for path in ("api/atlas", "api/atlas.png"):
            status, body = get_json(server.url + path)
            assert status == 404 and "no activation atlas" in body["error"]
            assert "--atlas" in body["error"]


def test_an_atlas_that_cannot_be_shown_is_refused_at_start(nested, atlas, tmp_path):
    np.savez(tmp_path / "other.npz", values=np.zeros(3))
    refused = [
        ("/no/such/atlas.npz", FileNotFoundError, "Expected an atlas file at '/no/such/atlas.npz'"),
        (tmp_path / "other.npz", ValueError, "Expected an atlas written by `Atlas.save`"),
        (3, TypeError, "Expected `atlas` to be None, a keras_vis.Atlas or the path"),
        ("atlas.png", ValueError, "Expected `atlas` to be the path of an atlas .npz file"),
        (dataclasses.replace(atlas, layer="nope"), ValueError,
         "Received: an atlas of layer 'nope', which the model does not have"),
    ]
    for given, error, words in refused:
        with pytest.raises(error, match=words):
            keras_vis.serve(nested, images(1), port=0, block=False, atlas=given)


# --- the panels


def test_a_panel_takes_only_a_place_a_control_and_a_condition_the_page_knows():
    with pytest.raises(ValueError, match="Expected `control` to be one of pages, job, pictures"):
        Panel("x", "X", "layer", "slider", "/api/x")
    with pytest.raises(ValueError, match="Expected `scope` to be one of layer, model, class"):
        Panel("x", "X", "sidebar", "pictures", "/api/x")
    with pytest.raises(ValueError, match="Expected `needs` to be '', 'layer.<field>'"):
        Panel("x", "X", "layer", "pictures", "/api/x", needs="filters_count")
    with pytest.raises(ValueError, match="Expected a `count` for a 'pages' panel"):
        Panel("x", "X", "layer", "pages", "/api/x?page={page}")
    features = next(panel for panel in PANELS if panel.id == "features")
    assert features.names() == ("image", "layer", "page")


# --- the result cache


def test_the_cache_computes_a_result_once_for_many_threads_at_once():
    cache = ResultCache()
    calls = []
    started = threading.Event()

    def compute():
        calls.append(1)
        started.wait(5)
        return b"picture"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(cache.get, "key", compute) for _ in range(8)]
        time.sleep(0.2)
        started.set()
        assert [a.result() for a in answers] == [b"picture"] * 8
    assert len(calls) == 1 and cache.misses == 1 and cache.hits == 0
    assert cache.get("key", compute) == b"picture" and cache.hits == 1


def test_a_failure_reaches_every_waiter_and_is_not_kept():
    cache = ResultCache()
    gate = threading.Event()

    def fail():
        gate.wait(5)
        raise ValueError("bad layer")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = [pool.submit(cache.get, "key", fail) for _ in range(4)]
        time.sleep(0.1)
        gate.set()
        for answer in answers:
            with pytest.raises(ValueError, match="bad layer"):
                answer.result()
    assert cache.get("key", lambda: b"ok") == b"ok"
    assert cache.wait_idle(1)


def test_the_cache_drops_the_least_recently_used_beyond_its_bytes():
    cache = ResultCache(max_bytes=300)
    for key in "abc":
        cache.get(key, lambda: b"x" * 100)
    cache.get("a", lambda: b"never")  # a used again: b is now the oldest
    cache.get("d", lambda: np.zeros(25, np.float32))  # 100 bytes
    assert len(cache) == 3 and cache.bytes == 300
    assert cache.get("b", lambda: b"recomputed") == b"recomputed"
    assert cache.get("huge", lambda: b"y" * 301) == b"y" * 301 and "huge" not in cache._entries


# --- the command line


@pytest.mark.parametrize("arguments, words", [
    (["--port", "70000"], "Expected `--port` to be a port number in [0, 65535]"),
    (["--port", "-1"], "argument --port: expected an integer >= 0"),
    (["--images", "/no/such/folder"], "Expected `--images` to be an existing folder"),
    (["--max-upload-mb", "0"], "Expected `--max-upload-mb` to be a number of MiB"),
    (["--model", "nosuchnet"], "--model"),
    (["--atlas", "/no/such/atlas.npz"], "Expected an atlas file at '/no/such/atlas.npz'"),
    (["--rise-masks", "0"], "argument --rise-masks: expected an integer >= 1, got '0'"),
    (["--composite", "nope"], "argument --composite: invalid choice: 'nope'"),
    (["--rule", "conv"], "argument --rule: expected LAYER=ROLE"),
    (["--patch", "100"], "Expected `--patch` to be at most 64, the images' shorter side"),
], ids=lambda value: None)
def test_serve_options_fail_in_one_line_before_listening(arguments, words, capsys):
    assert main(["serve", *arguments]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("keras-vis: error: ") and words in error[0]


def test_the_method_options_of_the_report_reach_the_explorers_settings(monkeypatch):
    given = {}
    monkeypatch.setattr(keras_vis.explorer, "serve", lambda *args, **options: given.update(options))
    assert {option.flag for option in METHOD_OPTIONS} <= command_flags("serve")
    assert main(["serve", "--rise-masks", "8", "--ig-steps", "3", "--composite", "epsilon",
                 "--rule", "flatten=routing", "--patch", "16", "--approximate", "0.5",
                 "--steps", "5", "--size", "32", "--quiet"]) == 0
    settings = given["settings"]
    assert (settings.rise_masks, settings.ig_steps, settings.lrp_composite,
            settings.relevance_rules, settings.occlusion_patch, settings.occlusion_approximate,
            settings.maximize_steps, settings.maximize_size) == (
        8, 3, "epsilon", (("flatten", "routing"),), 16, 0.5, 5, 32)
    assert main(["serve", "--quiet"]) == 0
    assert given["settings"] == Settings(progress=False)  # every default the library's own


def test_the_atlas_option_reaches_serve(monkeypatch):
    from keras_vis.cli import inputs as cli_inputs
    from keras_vis.demo.atlas import ATLAS_PATH

    given = {}
    monkeypatch.setattr(keras_vis.explorer, "serve", lambda *args, **options: given.update(options))
    assert main(["serve", "--atlas", "atlas.npz", "--quiet"]) == 0
    assert given["atlas"] == "atlas.npz"
    assert main(["serve", "--quiet"]) == 0 and given["atlas"] == ATLAS_PATH  # the demo's own
    other_model = argparse.Namespace(atlas=None, model="model.keras")
    assert cli_inputs.atlas_file(other_model) is None
