"""Talking to a running explorer over real HTTP: requests, decoded answers, a server process."""

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import cv2
import numpy as np


def request(url, data=None, method=None, timeout=120):
    """`(status, content type, body bytes)` of one HTTP request; error statuses included."""
    sent = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as answer:
            return answer.status, answer.headers.get("content-type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


def get_json(url, **options):
    status, kind, body = request(url, **options)
    assert kind.startswith("application/json"), (status, kind, body[:200])
    return status, json.loads(body)


def decode_png(data):
    """PNG bytes as uint8 RGB."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None, "not a PNG"
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def decode_npy(data):
    return np.load(io.BytesIO(data))


class ExplorerProcess:
    """`keras-vis serve --port 0 ...` in a subprocess: `url` once it listens, `stop()` by Ctrl-C."""

    def __init__(self, *arguments, start_timeout=180):
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "keras_vis", "serve", "--port", "0", *arguments],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        self.url = self._read_url(start_timeout)

    def _read_url(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 1.0)
            if ready:
                line = self.process.stdout.readline()
                if "http://" in line:
                    return "http://" + line.split("http://", 1)[1].split()[0]
                if not line and self.process.poll() is not None:
                    break
        self.process.kill()
        raise RuntimeError(f"the explorer did not start: {self.process.stderr.read()[-3000:]}")

    def api(self, path):
        return self.url.rstrip("/") + path

    def stop(self, timeout=30):
        """Ctrl-C, as a user stops it; returns `(exit code, stderr)`."""
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return code, self.process.stderr.read()
