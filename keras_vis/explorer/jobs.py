"""Work that takes seconds, run in the background with its progress: "maximize this channel".

Jobs run one at a time on a worker thread of their own, so they never hold up the requests that
answer in a fraction of a second; the page polls a job's progress and shows its picture once done.
"""

import concurrent.futures
import itertools
import sys
import threading
import time
import traceback

from keras_vis.maximization.callbacks import Callback

# The most jobs remembered; the oldest finished ones are forgotten first.
MAX_JOBS = 64


class Cancelled(Exception):
    """Raised inside a job whose explorer is shutting down."""


class Job:
    """One background render and what the page can know of it.

    Attributes:
        id: the job's number, as text.
        title: what it renders (`"block3_conv1 · channel 5"`).
        state: `"queued"`, `"running"`, `"done"` or `"failed"`.
        step, steps: optimisation steps done and to do.
        error: the message of a failed job.
        png: the picture of a done job.
    """

    def __init__(self, job_id, title, steps):
        self.id = job_id
        self.title = title
        self.state = "queued"
        self.step = 0
        self.steps = steps
        self.error = None
        self.png = None
        self.seconds = None

    def describe(self):
        """The job as the page reads it (JSON-ready)."""
        return {"id": self.id, "title": self.title, "state": self.state, "step": self.step,
                "steps": self.steps, "error": self.error, "seconds": self.seconds,
                "image": f"/api/jobs/{self.id}/image" if self.state == "done" else None}


class StepProgress(Callback):
    """A render callback that reports each step on its job, and stops it when asked to."""

    def __init__(self, job, closing):
        self.job = job
        self.closing = closing

    def on_step_end(self, state):
        if self.closing.is_set():
            raise Cancelled()
        self.job.step = state.step
        self.job.steps = state.steps


class Jobs:
    """The background jobs of one explorer: one worker thread, jobs found by key or id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_id = {}
        self._by_key = {}
        self._numbers = itertools.count(1)
        self._closing = threading.Event()
        self._worker = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="keras-vis-explorer-job")

    def start(self, key, title, steps, render):
        """The job of `key`, started if there is none yet (or the last one failed).

        Args:
            key: what the job computes; asking again for the same key gives the same job.
            title: see `Job.title`.
            steps: the steps it will take, shown before it starts.
            render: `render(progress) -> PNG bytes`, given a `StepProgress` callback.
        """
        with self._lock:
            job = self._by_key.get(key)
            if job is not None and job.state != "failed":
                return job
            job = Job(str(next(self._numbers)), title, steps)
            self._by_key[key] = job
            self._by_id[job.id] = job
            self._forget_old()
        self._worker.submit(self._run, job, render)
        return job

    def find(self, job_id):
        """The job with this id, or `None`."""
        with self._lock:
            return self._by_id.get(job_id)

    def _run(self, job, render):
        job.state = "running"
        started = time.perf_counter()
        try:
            job.png = render(StepProgress(job, self._closing))
        except Cancelled:
            job.state, job.error = "failed", "The explorer was stopped."
            return
        except Exception as error:  # the page shows the message; the log gets the trace
            job.state, job.error = "failed", " ".join(str(error).split()) or type(error).__name__
            traceback.print_exc(file=sys.stderr)
            return
        job.seconds = round(time.perf_counter() - started, 2)
        job.step = job.steps
        job.state = "done"

    def _forget_old(self):
        finished = [j for j in self._by_id.values() if j.state in ("done", "failed")]
        for job in finished[:max(0, len(self._by_id) - MAX_JOBS)]:
            del self._by_id[job.id]
            self._by_key = {k: v for k, v in self._by_key.items() if v is not job}

    def close(self):
        """Stops the running job at its next step and drops the queued ones."""
        self._closing.set()
        self._worker.shutdown(wait=False, cancel_futures=True)
