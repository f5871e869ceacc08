"""Callbacks see every step: the progress bar, the objective's history and the GIF frames."""

import numpy as np
import pytest
from helpers.maximize_models import pooled_cnn

from keras_vis import progress
from keras_vis.maximization import callbacks, maximize, objectives
from keras_vis.maximization.params import Pixel


@pytest.fixture
def model():
    return pooled_cnn(pools=2)


def test_progress_bar_prints_only_when_asked(model, capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)  # the bar of a two-second job, at once
    maximize(model, objectives.channel("conv1", 0), size=8, steps=3, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "3/3" in err and "objective" in err and "\x1b" not in err
    maximize(model, objectives.channel("conv1", 0), size=8, steps=3, progress=False)
    assert capsys.readouterr() == ("", "")


def test_history_covers_every_step_of_every_scale_and_batch(model):
    history = callbacks.History()
    maximize(model, objectives.channel("conv2", range(4)), size=8, steps=3, upscaling_steps=2,
             batch_size=3, seed=0, callbacks=[history], progress=False)
    assert history.values.shape == (9, 4)
    assert np.all(np.isfinite(history.values))
    alone = callbacks.History()
    maximize(model, objectives.channel("conv2", 3), size=8, steps=3, upscaling_steps=2,
             seed=3, callbacks=[alone], progress=False)
    np.testing.assert_allclose(history.values[:, 3], alone.values[:, 0], rtol=1e-6)


def test_frames_start_at_the_starting_image_and_end_at_the_result(model):
    recorder = callbacks.FrameRecorder(every=2)
    images = maximize(model, objectives.channel("conv1", [0, 1]), size=8, steps=5, seed=3,
                      transforms=(), callbacks=[recorder], progress=False)
    assert recorder.steps == [0, 2, 4, 5]
    assert len(recorder.frames) == 4
    start = np.stack([Pixel().init(np.random.default_rng(3 + k), 8, 8, 3) + 0.5 for k in (0, 1)])
    np.testing.assert_array_equal(recorder.frames[0], np.round(np.clip(start, 0, 1) * 255))
    np.testing.assert_array_equal(recorder.frames[-1], images)


def test_gif_of_a_multiscale_run(model, tmp_path):
    from PIL import Image

    path = tmp_path / "run.gif"
    recorder = callbacks.FrameRecorder(path=path, cols=2)
    images = maximize(model, objectives.channel("conv1", [0, 1, 2]), size=8, steps=2,
                      upscaling_steps=1, upscaling_factor=1.5, seed=0, callbacks=[recorder],
                      progress=False)
    assert images.shape == (3, 12, 12, 3)
    with Image.open(path) as gif:
        assert gif.n_frames == 5  # the start, then 2 steps at 8 px and 2 at 12 px
        assert gif.size == (2 * 12 + 2, 2 * 12 + 2)  # 2×2 grid with a 2 px margin
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("RGB"))
    # GIF palettes are lossy; the last frame still shows the first image in the top-left tile
    assert np.abs(last[:12, :12].astype(int) - images[0]).mean() < 12


def test_imageio_writes_the_same_frames(tmp_path, rng):
    from PIL import Image

    pictures = [rng.integers(0, 256, (6, 7, 3), dtype=np.uint8) for _ in range(3)]
    for writer in ("pillow", "imageio"):
        path = callbacks.write_gif(tmp_path / f"{writer}.gif", pictures, 50, writer=writer)
        with Image.open(path) as gif:
            assert (gif.n_frames, gif.size) == (3, (7, 6))


def test_bad_gif_paths_fail_before_rendering(tmp_path):
    with pytest.raises(ValueError, match=r"ending in \.gif"):
        callbacks.FrameRecorder(path=tmp_path / "run.png")
    (tmp_path / "folder.gif").mkdir()
    with pytest.raises(ValueError, match="not a folder"):
        callbacks.FrameRecorder(path=tmp_path / "folder.gif")
    with pytest.raises(ValueError, match="recorded frames"):
        callbacks.FrameRecorder().save(tmp_path / "empty.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.gif"]
    with pytest.raises(ValueError, match="`every`"):
        callbacks.FrameRecorder(every=0)
