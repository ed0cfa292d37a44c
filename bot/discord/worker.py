"""One daemon worker thread for blocking service calls, as a concurrent.futures Executor."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerExecutor(Executor):
    """One daemon worker thread running the service's blocking calls in order.

    One worker, not a pool: concurrent encodes oversubscribe torch's threads and the index has a
    single writer anyway. A daemon thread, unlike ThreadPoolExecutor's, does not hold the process
    open at exit, so SIGTERM during a long re-index still exits within the stop grace period
    (the index store commits atomically, so an abandoned update is simply redone).
    """

    def __init__(self, name: str = "quotebot-service") -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._idle = threading.Event()
        self._idle.set()
        self._shutdown = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if self._shutdown:
            raise RuntimeError("executor is shut down")
        future: Future[T] = Future()
        self._jobs.put((future, lambda: fn(*args, **kwargs)))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            self._idle.clear()
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)
            finally:
                self._idle.set()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        self._jobs.put(None)
        if wait:
            self._thread.join()

    def wait_idle(self, timeout: float) -> bool:
        """True if no job is running within `timeout` seconds."""
        return self._idle.wait(timeout)
