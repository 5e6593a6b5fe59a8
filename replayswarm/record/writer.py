"""The recorder's single database writer: a queue and one thread committing in batches, so the
proxy's event loop never waits on the database.

A transaction costs far more than a row (about 0.4 ms of CPU for BEGIN, the session and COMMIT,
against some 0.04 ms a row), and the proxy hands over one flow at a time: written as they come,
nearly every flow would pay a whole transaction, on the core the proxy needs. So once a flow
arrives the writer waits a moment (`linger`) for more to pile up, then stores them all at once.
While it waits, queuing a flow does not wake it either.

A database that is busy (another process holding SQLite's write lock past the busy timeout)
is waited out: the batch is tried again every second while new flows queue behind it, so every
flow the browser got is stored once the lock is gone. Once the recording is stopped the writer
waits `give_up_after` seconds at most, then says exactly how many flows it could not store."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.exc import OperationalError

from ..db import busy, writing
from ..db.models import Flow

log = logging.getLogger(__name__)

_STOP = object()
RETRY_EVERY = 1.0  # seconds between attempts while the database is busy


class FlowWriter:
    def __init__(
        self,
        engine: Engine,
        recording_id: int,
        on_failure: Callable[[Exception], None],
        batch_size: int = 500,
        linger: float = 0.05,
        on_stall: Callable[[], None] = lambda: None,
        give_up_after: float = 120.0,
    ) -> None:
        self._engine = engine
        self._recording_id = recording_id
        self._on_failure = on_failure
        self._batch_size = batch_size
        self._linger = linger
        self._on_stall = on_stall
        self._give_up_after = give_up_after
        self._stopping_at: float | None = None  # when close() was called
        # Core insert of plain rows: the ORM's bulk path adds per-batch work and nothing here.
        self._insert = insert(Flow.__table__)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.stored = 0
        self.lost = 0  # flows that could not be stored (the database stayed busy, or broke)
        self.failure: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="replayswarm-writer", daemon=True)
        self._thread.start()

    def put(self, row: dict[str, Any]) -> None:
        """Queue one finished flow's row; never blocks."""
        self._queue.put(row)

    def close(self) -> None:
        """Store everything queued so far, then stop."""
        self._stopping_at = time.monotonic()
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            rows: list[dict[str, Any]] = []
            item = self._queue.get()
            if item is not _STOP and self._linger > 0 and self._queue.qsize() < self._batch_size:
                # Let a batch gather: flows that arrive meanwhile share this one's transaction.
                time.sleep(self._linger)
            # Whatever piled up meanwhile (or while the last batch was committing) goes in.
            while True:
                if item is _STOP:
                    stopping = True
                    break
                rows.append(item)
                if len(rows) >= self._batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if rows and self.failure is None:
                self._write(rows)
            elif rows:
                self.lost += len(rows)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row["recording_id"] = self._recording_id
        told = False
        while True:
            try:
                with writing(self._engine) as session:
                    session.execute(self._insert, rows)
            except OperationalError as exc:
                stopping_at = self._stopping_at
                if busy(exc) and (stopping_at is None or time.monotonic() - stopping_at < self._give_up_after):
                    if not told:
                        told = True
                        self._on_stall()
                    time.sleep(RETRY_EVERY)
                    continue
                self._fail(exc, len(rows))
            except Exception as exc:  # a broken database or schema stops the recorder, loudly
                self._fail(exc, len(rows))
            else:
                self.stored += len(rows)
            return

    def _fail(self, exc: Exception, rows: int) -> None:
        self.failure = exc
        self.lost += rows
        self._on_failure(exc)
