"""Small asyncio helpers shared by the pool server and the emulator's miners.

* :func:`cancel_and_wait` - cancel tasks and wait until each has finished;
* :class:`ServiceThread` - run an async service (``start()``/``close()`` coroutines) on
  its own event loop in a background thread, for synchronous code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from typing import Any, Protocol, Self


async def cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel every task, wait for each to finish, and empty the list."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    tasks.clear()


class Service(Protocol):
    """What :class:`ServiceThread` runs."""

    @property
    def address(self) -> tuple[str, int]: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class ServiceThread:
    """Run an async service on its own event loop in a background thread.

    :meth:`start` returns once the service's ``start()`` finished (re-raising its error,
    e.g. a port in use); :meth:`close` runs its ``close()`` and joins the thread."""

    def __init__(self, service: Service, *, name: str = "stratum") -> None:
        self.service = service
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = concurrent.futures.Future[None]()
        self._stop: asyncio.Event | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.service.start()
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                await self.service.close()
            self._started.set_exception(exc)
            return
        self._started.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await self.service.close()

    def start(self, timeout_s: float = 10.0) -> Self:
        """Start the thread and wait until the service runs (re-raises its start error)."""
        self._thread.start()
        try:
            self._started.result(timeout_s)
        except BaseException:
            self._thread.join(timeout_s)
            raise
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the service and join the thread (idempotent)."""
        if self._thread.is_alive() and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def address(self) -> tuple[str, int]:
        """Where the service listens (host, port)."""
        return self.service.address

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
