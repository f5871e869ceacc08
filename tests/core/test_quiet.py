"""A quiet terminal: TensorFlow's C++ log lines never reach stderr (from `import keras_vis` nor from
any `keras-vis` command), everything else does, in order, and `--verbose` brings them back."""

import os
import pathlib
import pty
import re
import subprocess
import sys

import cv2
import pytest

from keras_vis import _quiet, demo
from keras_vis.cli import main
from keras_vis.report import STEPS

SCRIPT = pathlib.Path(sys.executable).with_name("keras-vis")

# Lines TensorFlow's native libraries print: TensorFlow 2.21 on this CPU, a CUDA build on GPU and
# CPU machines, and the dated format of TensorFlow 2.15 and older.
LOG_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796390706.918505    7777 port.cc:153] oneDNN custom operations are on. You may "
    "see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796390702.342465    7772 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 AVX512_FP16 "
    "AVX_VNNI AMX_TILE AMX_INT8 AMX_BF16 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
    "E0000 00:00:1731234567.123456   12345 cuda_dnn.cc:8310] Unable to register cuDNN factory: "
    "Attempting to register factory for plugin cuDNN when one has already been registered",
    "E0000 00:00:1731234567.123456   12345 cuda_blas.cc:1418] Unable to register cuBLAS factory: "
    "Attempting to register factory for plugin cuBLAS when one has already been registered",
    "W0000 00:00:1731234567.123456   12345 computation_placer.cc:177] computation placer already "
    "registered. Please check linkage and avoid linking the same target more than once.",
    "E0000 00:00:1731234567.123456   12345 cuda_driver.cc:266] failed call to cuInit: "
    "CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected",
    "E0000 00:00:1731234567.123456   12345 cuda_executor.cc:1228] INTERNAL: CUDA Runtime error: "
    "Failed call to cudaGetRuntimeVersion: Error loading CUDA libraries. GPU will not be used.",
    "I0000 00:00:1731234568.000000   12345 gpu_device.cc:2022] Created device "
    "/job:localhost/replica:0/task:0/device:GPU:0 with 139000 MB memory:  -> device: 0, name: "
    "NVIDIA H200, pci bus id: 0000:00:05.0, compute capability: 9.0",
    "I0000 00:00:1731234568.000000   12345 service.cc:146] XLA service 0x5581 initialized for "
    "platform CUDA (this does not guarantee that XLA will be used). Devices:",
    "I0000 00:00:1731234568.000000   12345 device_compiler.h:188] Compiled cluster using XLA!  "
    "This line is logged at most once for the lifetime of the process.",
    "2023-11-06 10:14:19.146340: I tensorflow/core/util/port.cc:111] oneDNN custom operations "
    "are on.",
    "2023-11-06 10:14:19.188000: I tensorflow/tsl/cuda/cudart_stub.cc:28] Could not find cuda "
    "drivers on your machine, GPU will not be used.",
    "2023-11-06 10:14:19.500000: E tensorflow/compiler/xla/stream_executor/cuda/cuda_fft.cc:9342] "
    "Unable to register cuFFT factory: Attempting to register factory for plugin cuFFT when one "
    "has already been registered",
    "2023-11-06 10:14:20.001000: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT "
    "Warning: Could not find TensorRT",
    "2021-03-01 12:00:00.000000: W tensorflow/stream_executor/platform/default/dso_loader.cc:60] "
    "Could not load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open "
    "shared object file: No such file or directory",
]
# Lines a user needs: Python's, the command's, and the errors of the native code that matter.
KEPT_LINES = [
    "Traceback (most recent call last):",
    '  File "explain.py", line 3, in <module>',
    "ValueError: oneDNN custom operations are on",
    "keras-vis: error: Expected `--layer` to name a layer of model 'shapes_cnn'.",
    "[####----------------] 3/9 feature maps",
    "RISE [####################] 8000/8000 copies in 0:03",
    "E0000 00:00:1731234567.123456   12345 bfc_allocator.cc:485] Allocator (GPU_0_bfc) ran out of "
    "memory trying to allocate 1.00GiB",
    "F0000 00:00:1731234567.123456   12345 check.cc:10] Check failed: size > 0",
    "2023-11-06 10:14:19.500000: E tensorflow/core/framework/op_kernel.cc:1830] OP_REQUIRES "
    "failed at conv_ops.cc:1000 : RESOURCE_EXHAUSTED: OOM when allocating tensor",
    "",
]
# What no quiet stderr may hold.
NOISE = ("oneDNN", "absl::InitializeLog", "cudart", "cuda drivers", "retracing")
GLOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]", re.MULTILINE)
INFO = "I0000 00:00:1796390706.918505    7777 port.cc:153] oneDNN custom operations are on."
FATAL = "F0000 00:00:1796390706.918505    7777 check.cc:10] Check failed: size > 0"
FAST_REPORT = ["--filters", "2", "--steps", "2", "--class-steps", "2", "--smooth-samples", "2",
               "--ig-steps", "2", "--shap-samples", "2", "--score-cam-maps", "4"]


@pytest.mark.parametrize("line", LOG_LINES)
def test_tensorflow_log_lines_are_recognised(line):
    assert _quiet.is_log_line(line) and _quiet.is_log_line(line + "\r\n")


@pytest.mark.parametrize("line", KEPT_LINES)
def test_other_lines_are_kept(line):
    assert not _quiet.is_log_line(line)


def test_the_filter_drops_log_lines_from_pieces_cut_anywhere():
    data = "\n".join(LOG_LINES[:3] + KEPT_LINES[:2] + LOG_LINES[3:] + ["last"]).encode()
    data += b" \xff no newline"  # not UTF-8, and unfinished
    lines = _quiet.LineFilter()
    kept = b"".join(lines.feed(data[i:i + 7]) for i in range(0, len(data), 7)) + lines.close()
    assert kept == "\n".join(KEPT_LINES[:2] + ["last"]).encode() + b" \xff no newline"
    assert _quiet.drop_log_lines(data) == kept


def quiet_env(**more):
    """The environment of a user who set neither TensorFlow's log level nor `KERAS_VIS_VERBOSE`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", _quiet.VERBOSE_ENV)}
    return {**env, **more}


def python(code, *, env=None, cwd=None, stderr=subprocess.PIPE):
    return subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=stderr,
                          text=True, env=env or quiet_env(), cwd=cwd, timeout=120)


@pytest.fixture
def fake_tensorflow(tmp_path):
    """A folder holding a `tensorflow` package that prints as TensorFlow does when imported, and
    that raises if `RAISE` is set; put it on PYTHONPATH."""
    package = tmp_path / "fake" / "tensorflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os, sys\n"
        f"os.write(2, {(INFO + chr(10) + 'native warning kept' + chr(10)).encode()!r})\n"
        "print('python warning kept', file=sys.stderr)\n"
        "if os.environ.get('RAISE'):\n"
        "    raise ImportError('broken build')\n")
    return package.parent


# NAME: what the process reads of the package after importing it.
PROCESS_STATE = ("import os, sys\n"
                 "def state():\n"
                 "    stat = os.fstat(2)\n"
                 "    return (stat.st_dev, stat.st_ino), sys.stderr\n"
                 "before, finders = state(), list(sys.meta_path)\n"
                 "import keras_vis\n"
                 "assert sys.meta_path == finders, sys.meta_path\n"
                 "import tensorflow\n"
                 "NAME\n"
                 "assert state() == before, (before, state())\n"
                 # TensorFlow adds finders of its own (absl's, six's); the package none.
                 "added = [f for f in sys.meta_path if not any(f is g for g in finders)]\n"
                 "assert not [f for f in added if type(f).__module__.startswith('keras_vis')]\n"
                 "assert type(tensorflow.__spec__.loader).__name__ == 'SourceFileLoader'\n")


@pytest.mark.subprocess
def test_import_keras_vis_leaves_descriptor_2_and_the_import_machinery_alone(fake_tensorflow):
    done = python(PROCESS_STATE.replace("NAME", "keras_vis.__version__")
                  + "print('after', file=sys.stderr)",
                  env=quiet_env(PYTHONPATH=str(fake_tensorflow)))
    assert done.returncode == 0, done.stderr
    # What TensorFlow prints on import reaches stderr as it does without the package.
    assert done.stderr == f"{INFO}\nnative warning kept\npython warning kept\nafter\n"


@pytest.mark.subprocess
def test_import_keras_vis_and_the_real_tensorflow_leave_descriptor_2_alone():
    done = python(PROCESS_STATE.replace("NAME", "keras_vis.gradcam"))
    assert done.returncode == 0, done.stderr


FILTERED = """\
import os, sys
from keras_vis import _quiet
with _quiet.filtered_stderr():
    os.write(2, b"{info}\\nnative kept\\n")
    print("python kept", sys.stderr is sys.__stderr__, sys.stderr.isatty(), file=sys.stderr)
    os.write(2, b"unfinished")
    {inside}
print(" after", sys.stderr is sys.__stderr__, file=sys.stderr)
"""


@pytest.mark.subprocess
def test_filtered_stderr_keeps_every_other_line_and_finishes_before_the_block_ends():
    done = python(FILTERED.format(info=INFO, inside="pass"))
    assert done.returncode == 0, done.stderr
    # Python writes straight to stderr, so its line may come before the relayed one.
    assert sorted(done.stderr.splitlines()[:2]) == ["native kept", "python kept False False"]
    assert done.stderr.splitlines()[2:] == ["unfinished after True"]


@pytest.mark.subprocess
def test_filtered_stderr_keeps_the_terminal_a_terminal():
    leader, follower = pty.openpty()
    try:
        done = python(FILTERED.format(info=INFO, inside="pass"), stderr=follower)
    finally:
        os.close(follower)
    written = b""
    try:
        while chunk := os.read(leader, 4096):
            written += chunk
    except OSError:  # the terminal's other end is closed: all is read
        pass
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert "python kept False True" in written.decode() and INFO not in written.decode()


@pytest.mark.subprocess
def test_a_fatal_line_survives_an_abort_inside_filtered_stderr():
    done = python(FILTERED.format(info=FATAL, inside="os.abort()"))
    assert done.returncode < 0
    assert {FATAL, "native kept", "unfinished"} <= set(done.stderr.splitlines())


def test_filtered_stderr_leaves_a_captured_stderr_alone(capsys):
    before = sys.stderr
    with _quiet.filtered_stderr():
        assert sys.stderr is before
    assert capsys.readouterr() == ("", "")


def test_quiet_and_verbose_together_are_a_usage_error(capsys):
    assert main(["summary", "--quiet", "--verbose"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("keras-vis: error: argument --verbose: not allowed with argument --quiet/-q "
                   "(see `keras-vis summary --help`)\n")


def keras_vis(*argv, cwd):
    return subprocess.run([SCRIPT, *map(str, argv)], capture_output=True, text=True,
                          env=quiet_env(), cwd=cwd, timeout=300)


def assert_quiet(stderr):
    assert not [word for word in NOISE if word in stderr], stderr
    assert not GLOG.search(stderr), stderr


@pytest.mark.subprocess
def test_summary_stderr_holds_its_own_line_only(tmp_path):
    done = keras_vis("summary", "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"keras-vis: wrote 2 files to {tmp_path / 'out'}\n"


@pytest.mark.subprocess
def test_verbose_brings_tensorflow_lines_back(tmp_path):
    done = keras_vis("summary", "--verbose", "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if _quiet.is_log_line(line)]
    assert done.stderr.endswith(f"keras-vis: wrote 2 files to {tmp_path / 'out'}\n")


@pytest.mark.subprocess
def test_a_bad_option_is_still_one_line_and_exit_2(tmp_path):
    done = keras_vis("filters", "--layer", "no_such_layer", "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("keras-vis: error: ") and done.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.subprocess
def test_the_report_shows_one_progress_display_and_no_tensorflow_line(tmp_path):
    pictures, names = demo.sample_images()
    image = tmp_path / f"{names[0]}.png"
    cv2.imwrite(os.fspath(image), cv2.cvtColor(pictures[0], cv2.COLOR_RGB2BGR))
    # That a technique's own bar stays quiet inside a report is test_progress's job, in-process.
    done = keras_vis("report", image, "--out", tmp_path / "out", *FAST_REPORT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tmp_path / 'out' / 'report.html'}\n"
    assert_quiet(done.stderr)
    lines = done.stderr.splitlines()
    step = re.compile(r"\[[#-]{20}\] \d+/%d .+" % len(STEPS))
    assert all(step.fullmatch(line) for line in lines[:-1]) and len(lines) == len(STEPS) + 1
    assert re.fullmatch(r"\[#{20}\] done in [\d.]+ s", lines[-1])
