"""`keras-vis serve` over real HTTP: a server in a subprocess, every endpoint, bad requests, and
concurrent requests whose answers equal the library's functions computed here."""

import base64
import concurrent.futures
import json
import shutil
import time
import urllib.parse

import cv2
import numpy as np
import pytest

import keras_vis
from helpers.explorer_client import ExplorerProcess, decode_npy, decode_png, get_json, request
from keras_vis import demo, io, plot, registry
from keras_vis.explorer import drawing
from keras_vis.explorer.panels import PANELS
from keras_vis.explorer.screenshot import chromium, loaded_sources
from keras_vis.inspect import feature_maps, summary
from keras_vis.pixels import scale_each_to_uint8
from keras_vis.report.pictures import enlarge

# Every test reads the explorer of one `keras-vis serve` process.
pytestmark = pytest.mark.subprocess

STEPS = 6  # optimisation steps of a channel image: enough to see it run, quick
RISE_MASKS = 8  # instead of the default 300
UPLOAD_LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def server(atlas_file):
    process = ExplorerProcess("--steps", str(STEPS), "--rise-masks", str(RISE_MASKS),
                              "--max-upload-mb", str(UPLOAD_LIMIT / 2**20),
                              "--atlas", str(atlas_file), "--quiet")
    yield process
    code, errors = process.stop()
    assert code == 0, errors[-2000:]
    assert "Traceback" not in errors, errors[-3000:]


@pytest.fixture(scope="module")
def reference():
    """The demo model and its samples, here in the test's process."""
    pictures, names = demo.sample_images()
    return demo.load_model(), pictures, names


def principal_plane(vectors):
    """A quick layout for an atlas: the vectors' two principal components."""
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:2].T


@pytest.fixture(scope="module")
def atlas_file(reference, tmp_path_factory):
    """A small 4 × 4 atlas of the demo model's last convolution, saved for `--atlas`."""
    model, _, _ = reference
    atlas = keras_vis.activation_atlas(model, demo.shapes(24, seed=3)[0], demo.LAST_CONV_LAYER,
                                       grid=4, size=16, steps=2, min_density=1,
                                       method=principal_plane, class_names=demo.CLASS_NAMES,
                                       seed=0, progress=False)
    return atlas.save(tmp_path_factory.mktemp("atlas") / "atlas.npz")


def png_bytes(picture):
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    assert ok
    return encoded.tobytes()


def test_the_page_and_its_assets_are_served(server):
    status, kind, page = request(server.url)
    assert status == 200 and kind.startswith("text/html")
    assert b'<script src="/app.js"' in page and b'href="/style.css"' in page
    for path, media in (("/app.js", "text/javascript"), ("/panels.js", "text/javascript"),
                        ("/style.css", "text/css")):
        status, kind, body = request(server.api(path))
        assert status == 200 and kind.startswith(media) and len(body) > 1000


def test_the_model_is_described_with_its_layers_classes_and_every_registry_method(server,
                                                                                  reference):
    model, _, _ = reference
    status, info = get_json(server.api("/api/model"))
    assert status == 200
    assert info["name"] == "demo" and info["input_size"] == [64, 64, 3]
    assert info["classes"] == list(demo.CLASS_NAMES) and info["probabilities"] is True
    assert info["default_layer"] == demo.LAST_CONV_LAYER
    assert [row["path"] for row in info["layers"]] == [
        row["path"] for row in summary(model).to_dict()["layers"]]
    rows = {row["path"]: row for row in info["layers"]}
    assert rows["last_conv"]["features"] and rows["last_conv"]["channels"] == 96
    assert rows["block1_conv1"]["filters_count"] == 16
    assert not rows["predictions"]["features"] and rows["predictions"]["filters_count"] is None
    assert [m["name"] for m in info["methods"]] == [spec.name for spec in registry.drawn()]
    assert all(m["unavailable"] is None for m in info["methods"])  # the demo model runs them all
    assert info["atlas"] is True  # started with --atlas


def test_the_panels_are_served_with_the_settings_in_use_and_each_endpoint_draws_its_panel(
        server):
    status, info = get_json(server.api("/api/model"))
    served = {panel["id"]: panel for panel in info["panels"]}
    assert list(served) == [panel.id for panel in PANELS]
    for panel in PANELS:
        assert served[panel.id] == panel.describe(info["settings"])
    assert f"{STEPS} Adam steps at 64 pixels" in served["maximize"]["intro"]
    assert "grey patch of 8×8 pixels slides over the image (stride 4)" in (
        served["occlusion"]["intro"])
    chosen = {"image": "s1", "layer": "last_conv", "class": 1, "page": 1, "channel": 2,
              "method": "gradcam"}
    answers = {"pages": (200, "image/png"), "methods": (200, "image/png"),
               "job": (202, "application/json"), "pictures": (200, "application/json"),
               "atlas": (200, "application/json")}
    for panel in PANELS:
        posted = {"data": b"", "method": "POST"} if panel.control == "job" else {}
        status, kind, body = request(server.api(panel.endpoint.format_map(chosen)), **posted)
        assert (status, kind) == answers[panel.control], (panel.id, body[:300])


def test_images_are_the_samples_and_each_is_served_enlarged(server, reference):
    _, pictures, names = reference
    status, listed = get_json(server.api("/api/images"))
    assert [image["name"] for image in listed] == names
    status, kind, body = request(server.api(listed[0]["url"]))
    assert status == 200 and kind == "image/png"
    np.testing.assert_array_equal(decode_png(body), enlarge(pictures[0], 128))


def test_predictions_are_the_models_outputs(server, reference):
    model, pictures, _ = reference
    outputs = model.predict(pictures, verbose=0)
    for index in (0, 3, 6):
        status, top = get_json(server.api(f"/api/images/s{index}/predictions"))
        order = np.argsort(-outputs[index], kind="stable")[:5]
        assert [p["index"] for p in top] == order.tolist()
        assert [p["name"] for p in top] == [demo.CLASS_NAMES[c] for c in order]
        np.testing.assert_allclose([p["score"] for p in top], outputs[index][order], atol=1e-6)


def test_the_gradcam_map_and_picture_equal_keras_vis_gradcam(server, reference):
    model, pictures, _ = reference
    expected = keras_vis.gradcam(model, pictures[2:3], 1)[0]
    status, _, body = request(server.api("/api/images/s2/map?method=gradcam&class=1"))
    assert status == 200
    np.testing.assert_allclose(decode_npy(body), expected, atol=1e-5)
    status, kind, body = request(server.api("/api/images/s2/explanation?method=gradcam&class=1"))
    assert status == 200 and kind == "image/png"
    drawn = plot.overlay(enlarge(pictures[2], 128), expected, cmap="jet", alpha=0.45)
    assert np.abs(decode_png(body).astype(int) - drawn).max() <= 1


def test_the_method_options_serve_was_given_are_those_the_maps_are_computed_with(server,
                                                                                 reference):
    model, pictures, _ = reference
    status, info = get_json(server.api("/api/model"))
    options = {method["name"]: method["options"] for method in info["methods"]}
    assert options["rise"] == {"masks": RISE_MASKS, "seed": 0}
    assert options["integrated_gradients"] == {"steps": registry.DEFAULTS["ig_steps"]}
    assert options["lrp"] == {"composite": registry.LRP_COMPOSITES[0]}  # no rules given
    used = info["settings"]
    assert (used["rise_masks"], used["maximize_steps"], used["smooth_samples"]) == (
        RISE_MASKS, STEPS, registry.DEFAULTS["smooth_samples"])
    # The sizes left to the explorer, as it chose them for 64-pixel images.
    assert (used["maximize_size"], used["occlusion_patch"], used["occlusion_stride"]) == (64, 8, 4)
    status, _, body = request(server.api("/api/images/s3/map?method=rise&class=2"))
    assert status == 200
    expected = keras_vis.rise(model, pictures[3:4], 2, masks=RISE_MASKS, seed=0)[0]
    np.testing.assert_allclose(decode_npy(body), expected, atol=1e-5)


def test_twenty_concurrent_gradcam_requests_all_equal_keras_vis_gradcam(server, reference):
    model, pictures, _ = reference
    # 16 distinct (image, class) pairs no other test asks for, 4 of them asked twice at once.
    pairs = [(image, klass) for image in range(8) for klass in (3, 4)]
    asked = pairs + pairs[:4]
    expected = {(i, c): keras_vis.gradcam(model, pictures[i:i + 1], c)[0] for i, c in pairs}

    def ask(pair):
        image, klass = pair
        return request(server.api(f"/api/images/s{image}/map?method=gradcam&class={klass}"))

    with concurrent.futures.ThreadPoolExecutor(len(asked)) as pool:
        answers = list(pool.map(ask, asked))
    for pair, (status, _, body) in zip(asked, answers):
        assert status == 200, body[:300]
        np.testing.assert_allclose(decode_npy(body), expected[pair], atol=1e-5, err_msg=str(pair))


def test_every_method_answers_with_its_picture_for_the_class(server):
    status, info = get_json(server.api("/api/model"))
    for method in info["methods"]:
        url = server.api("/api/images/s0/explanation?") + _query(method=method["name"], **{
            "class": 0})
        status, kind, body = request(url)
        assert (status, kind) == (200, "image/png"), (method["name"], body[:300])
        assert decode_png(body).shape == (128, 128, 3)


def _query(**parameters):
    return urllib.parse.urlencode(parameters)


def test_a_feature_map_page_shows_the_layers_channels_as_the_library_computes_them(server,
                                                                                    reference):
    model, pictures, _ = reference
    status, kind, body = request(server.api("/api/images/s4/features?layer=block2_conv1&page=1"))
    assert status == 200 and kind == "image/png"
    values = feature_maps(model, pictures[4:5], ["block2_conv1"])["block2_conv1"][0]
    channels = list(range(16, 32))
    assert body == drawing.feature_page_png(values, channels)
    mosaic = decode_png(body)
    side = enlarge(values[..., 0], drawing.TILE_PIXELS).shape[0]
    assert mosaic.shape == (2 * side + 2, 8 * side + 7 * 2, 3)
    # The first tile is channel 16, scaled to its own range and coloured with viridis.
    scaled = scale_each_to_uint8(values[None, ..., 16])[0].astype(np.float32) / 255
    tile = enlarge(np.round(plot._colormap("viridis")(scaled)[..., :3] * 255).astype(np.uint8),
                   drawing.TILE_PIXELS)
    np.testing.assert_array_equal(mosaic[:side, :side], tile)


def test_filters_are_drawn_page_by_page(server, reference):
    model, _, _ = reference
    status, kind, first = request(server.api("/api/filters?layer=block1_conv1&page=0"))
    assert status == 200 and kind == "image/png"
    tiles, _ = plot.filter_tiles(model, "block1_conv1", max_filters=16)
    assert first == drawing.filter_page_png(tiles)
    status, body = get_json(server.api("/api/filters?layer=block1_conv1&page=1"))
    assert status == 400 and "Expected `page` to be a page number in [0, 0]" in body["error"]


def test_occlusion_and_deconvnet_come_on_demand_as_captioned_pngs(server):
    status, pictures = get_json(server.api("/api/images/s1/occlusion?class=1"))
    assert status == 200 and [p["title"] for p in pictures] == ["Occlusion", "Occlusion mask"]
    status, projections = get_json(server.api("/api/images/s1/deconv?layer=last_conv"))
    assert status == 200 and projections[0]["title"] == "Deconvnet last_conv"
    assert projections[0]["detail"].startswith("ch ")
    for picture in pictures + projections:
        head, _, data = picture["png"].partition(",")
        assert head == "data:image/png;base64"
        assert decode_png(base64.b64decode(data)).shape == (128, 128, 3)


def test_maximizing_a_channel_runs_in_the_background_and_reports_its_steps(server):
    url = server.api("/api/maximize?layer=block3_conv1&channel=5")
    status, job = get_json(url, data=b"", method="POST")
    assert status == 202 and job["state"] in ("queued", "running") and job["steps"] == STEPS
    assert get_json(url, data=b"", method="POST")[1]["id"] == job["id"]  # the same job
    seen = []
    for _ in range(600):
        status, job = get_json(server.api(f"/api/jobs/{job['id']}"))
        seen.append(job["step"])
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert job["state"] == "done", job
    assert job["step"] == STEPS and seen == sorted(seen)
    status, kind, body = request(server.api(job["image"]))
    assert status == 200 and decode_png(body).shape == (128, 128, 3)


def test_an_upload_is_decoded_resized_and_explained_like_a_sample(server, reference):
    model, pictures, _ = reference
    photo = cv2.resize(pictures[6], (96, 80), interpolation=cv2.INTER_LINEAR)
    data = png_bytes(photo)
    status, added = get_json(server.api("/api/images?name=my%20photo.png"), data=data,
                             method="POST")
    assert status == 201 and added["name"] == "my photo.png" and added["id"].startswith("u")
    assert get_json(server.api("/api/images?name=again"), data=data, method="POST")[1]["id"] == (
        added["id"])
    assert added["id"] in [image["id"] for image in get_json(server.api("/api/images"))[1]]
    fitted = io.resize(io.load_image(data), (64, 64))
    outputs = model.predict(fitted[None], verbose=0)[0]
    status, top = get_json(server.api(f"/api/images/{added['id']}/predictions"))
    assert top[0]["index"] == int(outputs.argmax())
    np.testing.assert_allclose(top[0]["score"], outputs.max(), atol=1e-6)
    status, _, body = request(server.api(f"/api/images/{added['id']}/map?method=gradcam"))
    np.testing.assert_allclose(decode_npy(body), keras_vis.gradcam(model, fitted[None])[0],
                               atol=1e-5)


@pytest.mark.parametrize("body, status, words", [
    (b"this is not an image", 400, "Expected the data to be an image file OpenCV can read"),
    (b"", 400, "Received: an empty body"),
    (b"\x89PNG" + b"\0" * UPLOAD_LIMIT, 413, f"at most {UPLOAD_LIMIT} bytes"),
], ids=["not an image", "empty", "too large"])
def test_a_bad_upload_gets_the_librarys_message_and_adds_nothing(server, body, status, words):
    before = get_json(server.api("/api/images"))[1]
    answer, error = get_json(server.api("/api/images"), data=body, method="POST")
    assert answer == status and words in error["error"]
    assert get_json(server.api("/api/images"))[1] == before


@pytest.mark.parametrize("path, status, words", [
    ("/api/images/nope/predictions", 404, "No image with id 'nope'"),
    ("/api/images/s0/features?layer=nope", 400, "Expected `layer` to be a layer with feature maps"),
    ("/api/images/s0/features?layer=predictions", 400, "a Dense without feature maps"),
    ("/api/images/s0/features?layer=last_conv&page=6", 400,
     "Expected `page` to be a page number in [0, 5]"),
    ("/api/images/s0/features?layer=last_conv&page=x", 400, "Received: page='x'"),
    ("/api/filters?layer=block1_pool", 400, "filters (a 2D convolution)"),
    ("/api/images/s0/explanation?method=nope", 400, "Expected `method` to be one of vanilla"),
    ("/api/images/s0/explanation?method=gradcam&class=5", 400, "class index in [0, 4]"),
    ("/api/images/s0/explanation?method=gradcam&class=two", 400, "class index in [0, 4]"),
    ("/api/jobs/999", 404, "No job with id '999'"),
    ("/api/nothing", 404, "Not Found"),
    ("/api/images/..%2F..%2Fpyproject.toml", 404, "Not Found"),
    ("/../../pyproject.toml", 404, "Not Found"),
    ("/static/../setup.cfg", 404, "Not Found"),
], ids=lambda value: value if isinstance(value, str) and value.startswith("/") else None)
def test_a_bad_request_gets_a_json_error_and_never_a_trace(server, path, status, words):
    answer, body = get_json(server.api(path))
    assert answer == status and words in body["error"], body
    assert "Traceback" not in body["error"]


def test_a_bad_channel_or_an_unfinished_job_is_refused(server):
    status, body = get_json(server.api("/api/maximize?layer=last_conv&channel=96"), data=b"",
                            method="POST")
    assert status == 400 and "channel index in [0, 95]" in body["error"]
    status, body = get_json(server.api("/api/maximize?layer=last_conv&channel=0"), method="GET")
    assert status == 405


def test_json_answers_hold_no_numpy_types(server):
    for path in ("/api/model", "/api/images", "/api/images/s0/predictions", "/api/atlas"):
        status, kind, body = request(server.api(path))
        json.loads(body)  # valid JSON, not the repr of numpy scalars
        assert b"np." not in body


# --- the page in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _first(driver, selector, needle):
    """The `src` of the first image `selector` finds, once decoded and holding `needle`."""
    found = loaded_sources(driver, selector)
    return found[0] if found and needle in found[0] else None


def _click_atlas_cell(driver, row, column, *, grid):
    """Clicks the middle of one cell of the atlas picture."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    picture = driver.find_element(By.CSS_SELECTOR, "#panel-atlas img.picture")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", picture)
    width, height = picture.size["width"], picture.size["height"]
    x = round((column + 0.5) / grid * width - width / 2)  # offsets from the picture's centre
    y = round((row + 0.5) / grid * height - height / 2)
    ActionChains(driver).move_to_element_with_offset(picture, x, y).click().perform()


def _atlas_cell_text(driver, place):
    """What the page says under the atlas, once it speaks of the cell at `place`."""
    found = driver.execute_script("""
        const where = document.querySelector("#panel-atlas .atlas-cell");
        return [where.dataset.row, where.dataset.column, where.textContent];""")
    return found[2] if (found[0], found[1]) == tuple(map(str, place)) else None


def _assert_every_panel_is_shown(driver, served):
    """Every panel `/api/model` lists is on the page, in its scope's place, with its title, intro,
    and the labels of its controls and pictures."""
    from selenium.webdriver.common.by import By

    for panel in served:
        box = driver.find_element(By.ID, f"panel-{panel['id']}")
        assert box.is_displayed(), panel["id"]
        assert box.find_element(By.XPATH, "..").get_attribute("id") == f"{panel['scope']}-panels"
        assert box.find_element(By.CSS_SELECTOR, "h2, h3").text.startswith(panel["title"])
        assert box.find_element(By.CSS_SELECTOR, ".intro").text == panel["intro"]
        if panel["alt"]:
            assert box.find_element(By.TAG_NAME, "img").get_attribute("alt") == panel["alt"]
        if panel["action"]:
            assert box.find_element(By.CSS_SELECTOR, "button.start").text == panel["action"]
        if panel["control"] == "pages":
            labels = [button.get_attribute("aria-label")
                      for button in box.find_elements(By.CSS_SELECTOR, ".pager button")]
            assert labels == [f"Previous {panel['items']}", f"Next {panel['items']}"]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                    reason="chromium and chromium-driver are not installed (apt-get install "
                           "chromium chromium-driver)")
def test_the_page_in_chromium_picks_a_layer_uploads_an_image_and_switches_the_class(
        server, reference, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    model, pictures, _ = reference
    driver = chromium()
    wait = WebDriverWait(driver, 90, poll_frequency=0.1)
    try:
        driver.get(server.url)
        wait.until(lambda d: d.find_element(By.ID, "status").text == "Ready")
        # The layer tree lists every layer of the model.
        listed = [item.get_attribute("data-path")
                  for item in driver.find_elements(By.CSS_SELECTOR, "#layer-tree li.layer")]
        assert listed == [row["path"] for row in summary(model).to_dict()["layers"]]
        # The atlas panel shows the atlas; a cell clicked says its class, an empty one says so.
        assert wait.until(lambda d: loaded_sources(d, "#panel-atlas img.picture"))[0].endswith(
            "/api/atlas.png")
        cells = {(c["row"], c["column"]): c for c in get_json(server.api("/api/atlas"))[1]["cells"]}
        for place in ((0, 0), (0, 1)):
            _click_atlas_cell(driver, *place, grid=4)
            told = wait.until(lambda d: _atlas_cell_text(d, place))
            cell = cells.get(place)
            assert (f"{cell['class_name']}, {cell['count']} activation vector" in told if cell
                    else told.endswith("empty cell")), told
        # Every method's picture appears for the first image's predicted class.
        methods = [spec.name for spec in registry.drawn()]
        sources = wait.until(lambda d: loaded_sources(d, "#panel-methods img"))
        assert len(sources) == len(methods)

        # Pick a layer: its feature maps and filters appear.
        driver.find_element(By.CSS_SELECTOR, 'li[data-path="block2_conv1"]').click()
        features = wait.until(lambda d: _first(d, "#panel-features img.picture",
                                               "layer=block2_conv1"))
        assert request(features)[2] == request(server.api(
            "/api/images/s0/features?layer=block2_conv1&page=0"))[2]
        driver.find_element(By.CSS_SELECTOR, "#panel-features button[data-step='1']").click()
        wait.until(lambda d: _first(d, "#panel-features img.picture", "page=1"))
        wait.until(lambda d: _first(d, "#panel-filters img.picture", "layer=block2_conv1"))
        _assert_every_panel_is_shown(driver, get_json(server.api("/api/model"))[1]["panels"])

        # Upload an image: it is chosen, predicted and explained.
        photo = tmp_path / "dropped star.png"
        star = pictures[4]
        photo.write_bytes(png_bytes(star))
        driver.find_element(By.ID, "upload").send_keys(str(photo))
        wait.until(lambda d: d.find_element(By.ID, "current-name").text == "dropped star.png")
        chosen = driver.find_element(By.CSS_SELECTOR, "#images button.selected")
        upload_id = chosen.get_attribute("data-image")
        assert upload_id.startswith("u")
        # The list is replaced once the upload's predictions arrive, after its name shows.
        top = wait.until(lambda d: d.find_elements(
            By.CSS_SELECTOR, f'#predictions[data-image="{upload_id}"] li'))[0]
        assert top.get_attribute("data-class") == str(int(model.predict(star[None], verbose=0)
                                                          .argmax()))

        # Switch the class: every explanation is redrawn for it.
        Select(driver.find_element(By.ID, "class-select")).select_by_value("2")
        def redrawn(d):
            found = loaded_sources(d, "#panel-methods img")
            fresh = found and all("class=2" in s and upload_id in s for s in found)
            return found if fresh else None

        sources = wait.until(redrawn)
        assert len(sources) == len(methods)
        assert driver.find_element(By.ID, "class-name").text == "triangle"
        gradcam_source = next(s for s in sources if "method=gradcam&" in s)
        shown = decode_png(request(gradcam_source)[2])
        expected = plot.overlay(enlarge(star, 128), keras_vis.gradcam(model, star[None], 2)[0],
                                cmap="jet", alpha=0.45)
        assert np.abs(shown.astype(int) - expected).max() <= 1

        # Occlusion and the deconvnet come when their buttons are pressed.
        for panel, count in (("occlusion", 2), ("deconv", 1)):
            driver.find_element(By.CSS_SELECTOR, f"#panel-{panel} button.start").click()
            drawn = wait.until(lambda d, panel=panel: loaded_sources(d, f"#panel-{panel} img"))
            assert len(drawn) == count and drawn[0].startswith("data:image/png;base64,")

        # Render a channel in the background.
        driver.find_element(By.CSS_SELECTOR, "#panel-maximize button.start").click()
        rendered = wait.until(lambda d: loaded_sources(d, "#panel-maximize img.result"))
        assert "/api/jobs/" in rendered[0]
        status = driver.find_element(By.CSS_SELECTOR, "#panel-maximize .status").text
        assert status.startswith("block2_conv1 · channel 0, ") and "Step" not in status

        # A layer without filters hides their panel, and keeps the others.
        driver.find_element(By.CSS_SELECTOR, 'li[data-path="block1_pool"]').click()
        wait.until(lambda d: _first(d, "#panel-features img.picture", "layer=block1_pool"))
        assert not driver.find_element(By.ID, "panel-filters").is_displayed()
        assert driver.find_element(By.ID, "panel-maximize").is_displayed()
    finally:
        driver.quit()
