"""Every example in the package's docstrings (`>>>` lines) runs as written, on the bundled demo
model and its sample images; where an example shows its output, the output is checked."""

import doctest
import importlib
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vis
from keras_vis import demo

pytestmark = pytest.mark.notebook

PACKAGE = pathlib.Path(keras_vis.__file__).parent
# Examples that need more than the demo model.
MARKS = {"keras_vis.maximization.render": pytest.mark.applications}  # a VGG16


def modules_with_examples():
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


class ShownOutputChecker(doctest.OutputChecker):
    """Checks the output an example shows; an example that shows none only has to run."""

    def check_output(self, want, got, optionflags):
        return not want.strip() or super().check_output(want, got, optionflags)


def namespace(module):
    """The names the examples read: a model, images, maps, labels, a file's contents."""
    model = demo.load_model()
    images = demo.sample_batch()
    shapes, labels, _ = demo.sample_shapes()
    if module == "keras_vis.callbacks":  # its examples train the model
        model.compile("adam", "sparse_categorical_crossentropy")
    names = {"keras_vis": keras_vis, "keras": keras, "np": np, "tf": tf, "model": model,
             "images": images, "pictures": demo.sample_images()[0], "names": demo.CLASS_NAMES,
             "maps": keras_vis.gradcam(model, images), "x": shapes.astype(np.float32),
             "y": labels, "x_val": shapes.astype(np.float32), "y_val": labels,
             "html": "<p>keras-vis</p>", "chunks": [np.zeros(4)] * 3, "size": 4,
             "run": lambda chunk: None}
    if module in MARKS:
        names["vgg16"] = keras.applications.VGG16(weights=None, include_top=False,
                                                  input_shape=(None, None, 3))
    return names


MODULES = modules_with_examples()


def test_the_package_has_examples_to_run():
    examples = sum(len(test.examples) for name in MODULES
                   for test in doctest.DocTestFinder().find(importlib.import_module(name)))
    assert len(MODULES) >= 15 and examples >= 40


@pytest.mark.parametrize("module", [pytest.param(name, marks=MARKS.get(name, ()))
                                    for name in MODULES])
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples write their files (report/index.html, atlas.npz)
    runner = doctest.DocTestRunner(checker=ShownOutputChecker(),
                                   optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    imported = importlib.import_module(module)
    tests = doctest.DocTestFinder().find(imported, module,
                                         globs={**vars(imported), **namespace(module)})
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert sum(len(test.examples) for test in tests) > 0
