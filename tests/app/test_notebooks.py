"""The tutorial notebooks run from top to bottom, offline, with tiny step counts; they are committed
without outputs and exactly as `notebooks/generate.py` writes them."""

import concurrent.futures
import importlib.util
import os
import pathlib
import sys

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebook

FOLDER = pathlib.Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
CELL_TIMEOUT = 180


def _generator():
    spec = importlib.util.spec_from_file_location("generate_notebooks", FOLDER / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_seven_tutorials_exist_and_match_their_generator(tmp_path):
    generator = _generator()
    assert [p.name for p in NOTEBOOKS] == sorted(generator.NOTEBOOKS)
    assert len(NOTEBOOKS) == 7
    generator.main(tmp_path)
    for path in NOTEBOOKS:
        assert (tmp_path / path.name).read_text() == path.read_text(), (
            f"{path.name} differs from what notebooks/generate.py writes; run it again")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def _execute(path, folder):
    """Runs one notebook in a kernel of its own, in `folder`; returns it with its outputs, or the
    exception that stopped it."""
    book = nbformat.read(path, as_version=4)
    # `python3` is started with this interpreter (jupyter_client maps "python" to sys.executable).
    client = NotebookClient(book, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except Exception as error:  # reported by the notebook's own test
        return error
    return book


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every notebook, run two at a time: each kernel spends much of its time starting and
    importing on one core, so two kernels keep both cores busy."""
    folders = {path: tmp_path_factory.mktemp(path.stem) for path in NOTEBOOKS}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_VIS_FAST", "1")
        patch.setenv("MPLBACKEND", "Agg")
        patch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            runs = {path: pool.submit(_execute, path, folders[path]) for path in NOTEBOOKS}
            return {path: (run.result(), folders[path]) for path, run in runs.items()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, executed):
    book, folder = executed[path]
    if isinstance(book, Exception):
        raise book
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors
    # Every figure the notebook draws comes out as a picture.
    assert any("image/png" in o.get("data", {}) for cell in code for o in cell.outputs)
    assert sorted(p.name for p in folder.iterdir()) == [], "a notebook wrote files"


def test_kernel_is_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", "python3", sys.executable) or os.path.samefile(
        spec.argv[0], sys.executable)
