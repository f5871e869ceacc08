"""`keras-vis evaluate`: the table of the registry's metrics on the maps of the methods asked for,
the same numbers as `keras_vis.metrics.evaluate` on the same inputs, and errors before any work."""

import json
import os

import cv2
import numpy as np
import pytest

from keras_vis import demo, registry
from keras_vis.attribution import gradcam, saliency
from keras_vis.cli import main
from keras_vis.metrics import evaluate


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Three sample shapes and their object masks, as PNG files, with the arrays."""
    folder = tmp_path_factory.mktemp("shapes")
    images, labels, masks = demo.sample_shapes()
    images, labels, masks = images[:3], labels[:3], masks[:3]
    image_paths, mask_paths = [], []
    for index, (image, mask) in enumerate(zip(images, masks)):
        image_paths.append(folder / f"shape{index}.png")
        mask_paths.append(folder / f"shape{index}_mask.png")
        cv2.imwrite(os.fspath(image_paths[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        cv2.imwrite(os.fspath(mask_paths[-1]), mask.astype(np.uint8) * 255)
    return images.astype(np.float32), labels, masks, image_paths, mask_paths


def test_the_table_holds_the_scores_of_the_library(capsys, tmp_path, shapes):
    images, labels, masks, image_paths, mask_paths = shapes
    masks_options = [option for path in mask_paths for option in ("--mask", path)]
    code, out, err = run(capsys, "evaluate", *image_paths, *masks_options, "--method", "gradcam",
                         "--method", "vanilla", "--metric", "deletion", "--metric",
                         "pointing_game", "--metric", "energy_pointing", "--target", "2",
                         "--out", tmp_path, "-q")
    assert code == 0, err
    model = demo.load_model()
    document = json.loads((tmp_path / "evaluate.json").read_text())
    assert document["images"] == ["shape0", "shape1", "shape2"]
    for name, maps in [("gradcam", gradcam(model, images, 2)),
                       ("vanilla", saliency(model, images, 2))]:
        scored = document["methods"][name]
        assert list(scored) == ["deletion", "pointing_game", "energy_pointing"]
        expected = {
            "deletion": evaluate("deletion", model=model, images=images, maps=maps, target=2,
                                 progress=False),
            "pointing_game": evaluate("pointing_game", maps=maps, masks=masks),
            "energy_pointing": evaluate("energy_pointing", maps=maps, masks=masks)}
        for metric, result in expected.items():
            assert scored[metric]["score"] == pytest.approx(result.score, rel=1e-5, abs=1e-6)
            np.testing.assert_allclose(scored[metric]["values"], result.values, rtol=1e-5,
                                       atol=1e-6)
            assert scored[metric]["higher_is_better"] == registry.find_metric(
                metric).higher_is_better
    lines = out.splitlines()
    assert lines[0].split() == ["method", "deletion", "↓", "pointing_game", "↑",
                                "energy_pointing", "↑"]
    assert [line.split()[0] for line in lines[1:]] == ["gradcam", "vanilla"]
    assert f"{document['methods']['vanilla']['deletion']['score']:.4f}" in lines[2]
    assert (tmp_path / "evaluate.txt").read_text() == out


def test_by_default_every_metric_without_masks_scores_gradcam(capsys, tmp_path, shapes):
    code, out, err = run(capsys, "evaluate", *shapes[3][:2], "--out", tmp_path, "-q", "--seed",
                         "1")
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header[0] == "method" and out.splitlines()[1].split()[0] == "gradcam"
    assert header[1::2] == [spec.name for spec in registry.METRICS if "masks" not in spec.needs]


@pytest.mark.parametrize("options, message", [
    (["--metric", "pointing_game"], "pass one --mask FILE per image"),
    (["--mask", "MASK0"], "one mask file per image (3)"),
    (["--metric", "delete"], "invalid choice: 'delete'"),
    (["--method", "cam", "--layer", "block1_conv1"], "CAM weights the layer feeding"),
], ids=["masks missing", "masks count", "unknown metric", "method that cannot run"])
def test_bad_options_stop_before_any_file_is_written(capsys, tmp_path, shapes, options, message):
    options = [shapes[4][0] if option == "MASK0" else option for option in options]
    code, out, err = run(capsys, "evaluate", *shapes[3], *options, "--out", tmp_path / "out")
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()
