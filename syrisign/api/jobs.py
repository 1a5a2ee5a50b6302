"""The bounded thread pool translations and extractions run in."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor


class Busy(Exception):
    pass


class JobRunner:
    """A fixed pool of worker threads with a bounded number of jobs admitted (running or waiting).

    A job that outlives its request's timeout keeps its slot until it really ends (threads cannot be
    killed), so a slow backlog turns into 429s instead of unbounded work."""

    def __init__(self, workers: int, max_waiting: int) -> None:
        self.workers = max(1, int(workers))
        self.capacity = self.workers + max(0, int(max_waiting))
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="syrisign-job")
        self.pending = 0
        self._lock = threading.Lock()

    def submit(self, fn, *args):
        with self._lock:
            if self.pending >= self.capacity:
                raise Busy()
            self.pending += 1
        try:
            cf = self.executor.submit(fn, *args)
        except BaseException:
            self._done(None)
            raise
        cf.add_done_callback(self._done)
        return asyncio.wrap_future(cf)

    def _done(self, _cf) -> None:
        with self._lock:
            self.pending -= 1

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


