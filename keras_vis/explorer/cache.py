"""A bounded, thread-safe store of computed results, computing each one once.

Requests run on many threads at once. When several ask for the same picture before it exists, one
computes it and the others wait for that result instead of computing it again; once stored, it is
answered from memory until the least recently used results make room for newer ones.
"""

import collections
import concurrent.futures
import threading

import numpy as np


def size_of(value):
    """Bytes a result holds: PNG bytes, numpy arrays and tuples of them; 1 KiB for anything else."""
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(size_of(item) for item in value)
    if isinstance(value, dict):
        return sum(size_of(item) for item in value.values())
    return 1024


class ResultCache:
    """Results by key, least recently used dropped first beyond `max_bytes`.

    Args:
        max_bytes: the most bytes kept (a result larger than this is returned but not kept).
    """

    def __init__(self, max_bytes=256 * 2**20):
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._computing = 0
        self._entries = collections.OrderedDict()  # key -> (value, bytes)
        self._pending = {}  # key -> Future of a result being computed
        self._bytes = 0

    def get(self, key, compute):
        """The result stored under `key`, made by `compute()` if there is none.

        A thread asking for a key another thread is computing waits for that computation and gets
        its result, or its exception. Failures are not stored: the next request tries again.
        """
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key][0]
            future = self._pending.get(key)
            computing_here = future is None
            if computing_here:
                future = self._pending[key] = concurrent.futures.Future()
                self.misses += 1
                self._computing += 1
        if not computing_here:
            return future.result()
        try:
            value = compute()
        except BaseException as error:
            self._done(key)
            future.set_exception(error)
            raise
        self._done(key, value)
        future.set_result(value)
        return value

    def _done(self, key, *value):
        with self._lock:
            del self._pending[key]
            if value:
                self._keep(key, value[0])
            self._computing -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout=None):
        """Waits until no result is being computed (at most `timeout` seconds); returns whether
        none is."""
        with self._lock:
            return self._idle.wait_for(lambda: self._computing == 0, timeout)

    def _keep(self, key, value):
        size = size_of(value)
        if size > self.max_bytes:
            return
        self._entries[key] = (value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped

    def __len__(self):
        with self._lock:
            return len(self._entries)

    @property
    def bytes(self):
        """Bytes held now."""
        with self._lock:
            return self._bytes
