"""Long jobs show one progress bar on stderr; short jobs, silenced ones and `progress=False`
none."""

import io
import sys

import keras
import numpy as np
import pytest

from keras_vis import progress, report
from keras_vis.attribution import cam, integrated_gradients, occlusion, saliency
from keras_vis.attribution.cam import scorecam
from keras_vis.maximization import maximize, objectives
from keras_vis.metrics import deletion, randomization_check
from keras_vis.report.panels import Panel
from keras_vis.report.progress import Progress


class FakeClock:
    """A clock that moves on by `step` seconds at every reading: each piece of work looks slow."""

    def __init__(self, step):
        self.step = step
        self.now = 0.0

    def __call__(self):
        self.now += self.step
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def images(rng):
    return rng.random((2, 16, 16, 3), dtype=np.float32)


@pytest.fixture
def long_jobs(monkeypatch):
    """Every job counts as long: its bar appears at the first piece of work."""
    monkeypatch.setattr(progress, "DELAY", 0.0)


def run_occlusion(model, images, **options):
    # 16 patch positions × 2 images = 32 copies, in 4 chunks of 8.
    return occlusion(model, images, patch=4, stride=4, batch_size=8, **options)


def test_long_jobs_are_silent_no_more(tiny_cnn, images, capsys, monkeypatch):
    monkeypatch.setattr(progress, "_clock", FakeClock(1.5))  # every chunk takes 1.5 s
    run_occlusion(tiny_cnn, images)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("occlusion [") and err.rstrip().endswith("32/32 copies in 0:08")


def test_a_long_job_writes_one_line_bar_without_escape_codes_off_a_terminal(
        tiny_cnn, images, capsys, long_jobs):
    run_occlusion(tiny_cnn, images)
    out, err = capsys.readouterr()
    assert out == ""
    assert "\x1b" not in err and "\r" not in err and "\b" not in err
    lines = err.splitlines()
    # One line when the bar appears, one when the job ends: no line per chunk.
    assert len(lines) == 2 and all(line.startswith("occlusion [") for line in lines)
    assert "8/32 copies" in lines[0] and "left" in lines[0]
    assert lines[1].startswith("occlusion [####################] 32/32 copies in ")


def test_on_a_terminal_the_bar_is_redrawn_in_place(tiny_cnn, images, monkeypatch, long_jobs):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "REDRAW_INTERVAL", 0.0)
    run_occlusion(tiny_cnn, images)
    written = terminal.getvalue()
    assert "\x1b" not in written
    assert written.count("\n") == 1 and written.endswith("\n")
    assert written.count("\r") == 4  # 8, 16, 24 copies, then the last line
    assert written.split("\r")[-1].startswith("occlusion [####################] 32/32 copies")


def test_a_short_job_prints_nothing(tiny_cnn, images, capsys):
    run_occlusion(tiny_cnn, images)  # compiles
    capsys.readouterr()
    run_occlusion(tiny_cnn, images)
    assert capsys.readouterr() == ("", "")


def test_progress_false_and_silenced_print_nothing(tiny_cnn, images, capsys, long_jobs):
    run_occlusion(tiny_cnn, images, progress=False)
    with progress.silenced():
        run_occlusion(tiny_cnn, images)
        saliency(tiny_cnn, images, smooth_samples=8, batch_size=4, seed=0)
    assert capsys.readouterr() == ("", "")
    with progress.silenced(False):
        run_occlusion(tiny_cnn, images)
    assert capsys.readouterr().err.count("occlusion [") == 2


@pytest.mark.parametrize("call, label, copies", [
    (lambda m, x, **o: saliency(m, x, smooth_samples=8, batch_size=4, seed=0, **o), "SmoothGrad",
     16),
    (lambda m, x, **o: integrated_gradients(m, x, steps=8, batch_size=4, **o),
     "integrated gradients", 16),
    (lambda m, x, **o: cam(m, x, method="scorecam", batch_size=4, **o), "Score-CAM", 12),
    (lambda m, x, **o: deletion(m, x, np.ones((2, 16, 16)), steps=7, batch_size=4, **o),
     "deletion", 16),
], ids=["smoothgrad", "integrated_gradients", "scorecam", "deletion"])
def test_each_long_technique_shows_its_bar_unless_asked_not_to(tiny_cnn, images, capsys,
                                                               long_jobs, call, label, copies):
    call(tiny_cnn, images)
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(label + " [")
    assert f"{copies}/{copies} copies in" in err.splitlines()[-1]
    call(tiny_cnn, images, progress=False)
    assert capsys.readouterr() == ("", "")


def test_a_job_made_of_jobs_shows_only_its_own_bar(tiny_cnn, images, capsys, long_jobs):
    randomization_check(tiny_cnn, "smoothgrad", images, layers=2, smooth_samples=4)
    out, err = capsys.readouterr()
    assert out == ""
    assert {line.split(" [")[0] for line in err.splitlines()} == {"randomization check"}
    assert err.splitlines()[-1].startswith("randomization check [####################] 4/4 steps")


def test_maximize_and_report_steps_are_silenced_too(tiny_cnn, capsys):
    with progress.silenced():
        maximize(tiny_cnn, objectives.channel("conv1", 0), size=8, steps=3, progress=True)
        steps = Progress(2)
        steps.step("first")
        steps.finish()
    assert capsys.readouterr() == ("", "")


def test_a_report_shows_its_step_lines_only(tiny_cnn, images, capsys, long_jobs, monkeypatch):
    def body_with_a_long_job(context):
        context.progress.step("occlusion")
        run_occlusion(tiny_cnn, images)  # would show its own bar outside the report
        return ""

    monkeypatch.setattr(report, "PANELS", (Panel("long", "Long", ("occlusion",),
                                                 body_with_a_long_job),))
    report.build_report(report.make_subject(tiny_cnn, images))
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == f"[{'-' * 20}] 1/1 occlusion"
    assert [line.split("] ")[1].split(" in ")[0] for line in err.splitlines()[1:]] == ["done"]
    run_occlusion(tiny_cnn, images)  # the report is over: bars are back
    assert capsys.readouterr().err.startswith("occlusion [")


def test_report_steps_made_inside_silenced_stay_quiet_after_it(capsys):
    with progress.silenced():
        steps = Progress(1)
    steps.step("first")
    steps.finish()
    assert capsys.readouterr() == ("", "")


def test_progress_must_be_a_bool(tiny_cnn, images):
    for call in (lambda: occlusion(tiny_cnn, images, progress="yes"),
                 lambda: cam(tiny_cnn, images, method="scorecam", progress=1),
                 lambda: saliency(tiny_cnn, images, progress=None)):
        with pytest.raises(TypeError, match=r"Expected `progress` to be True or False"):
            call()


def test_a_long_log_gets_a_line_every_interval_not_every_update(monkeypatch):
    monkeypatch.setattr(progress, "_clock", FakeClock(1.0))
    stream = io.StringIO()
    with progress.Bar(100, "job", unit="images", stream=stream) as bar:
        for _ in range(100):
            bar.advance()
    lines = stream.getvalue().splitlines()
    # Shown at 2 s, then at 32, 62 and 92 s, and once at the end.
    assert [line.split("] ")[1].split(" images")[0] for line in lines] == [
        "2/100", "32/100", "62/100", "92/100", "100/100"]
    assert lines[1].endswith("0:32, ~1:08 left") and lines[-1].endswith("in 1:41")


def test_bar_of_unknown_length_counts_units():
    bar = progress.Bar(None, "top activations", unit="images", stream=io.StringIO())
    with bar:
        bar.advance(5)
    assert bar.text(bar._start + 75.0) == "top activations 5 images 1:15"


def test_an_error_ends_the_line_and_a_broken_stream_stops_nothing(monkeypatch, long_jobs):
    terminal = Terminal()
    with pytest.raises(KeyError):
        with progress.Bar(10, "job", stream=terminal) as bar:
            bar.advance()
            raise KeyError("stop")
    assert terminal.getvalue().startswith("\rjob [##") and terminal.getvalue().endswith("\n")

    class Closed(io.StringIO):
        def write(self, text):
            raise ValueError("I/O operation on closed file.")

    with progress.Bar(10, "job", stream=Closed()) as bar:
        for _ in range(10):
            bar.advance()
    assert bar.done == 10


def channels_model(channels):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


@pytest.fixture
def scored(monkeypatch):
    """The number of masked copies per image each Score-CAM call scores."""
    counts = []
    real = scorecam.copy_scores

    def counting(model, target, classes, count, copies, make_batch, **options):
        counts.append(copies)
        return real(model, target, classes, count, copies, make_batch, **options)

    monkeypatch.setattr(scorecam, "copy_scores", counting)
    return counts


def test_long_jobs_are_silent_default_scorecam_scores_at_most_64_channels(rng, scored):
    model = channels_model(200)
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    default = cam(model, images, method="scorecam")
    assert scored == [64]
    assert scorecam.DEFAULT_MAX_MAPS == 64
    every = cam(model, images, method="scorecam", max_maps="all")
    few = cam(model, images, method="scorecam", max_maps=10)
    assert scored == [64, 200, 10]
    assert default.shape == every.shape == few.shape == (2, 8, 8)
    cam(channels_model(30), images, method="scorecam")
    assert scored[-1] == 30  # fewer channels than the cap: all of them


@pytest.mark.parametrize("value, error", [
    (0, ValueError), (-3, ValueError), ("every", ValueError), (2.5, TypeError), (True, TypeError),
])
def test_max_maps_takes_none_a_count_or_all(tiny_cnn, images, value, error):
    with pytest.raises(error, match=r"Expected `max_maps` to be None \(at most 64 channels\), an "
                                    r"integer >= 1 or 'all'"):
        cam(tiny_cnn, images, method="scorecam", max_maps=value)
    with pytest.raises(ValueError, match="None unless method='scorecam'"):
        cam(tiny_cnn, images, method="gradcam", max_maps="all")
