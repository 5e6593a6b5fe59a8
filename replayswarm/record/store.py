"""Recordings in the database: create, import whole, list, show, delete."""

from __future__ import annotations

from collections.abc import Iterator

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from ..db import reading, writing
from ..db.models import Flow, Recording, utcnow
from ..errors import UserError
from .capture import Exchange


def create_recording(engine: Engine, name: str, source: str, allowed_hosts: list[str] | None = None) -> int:
    _check_name(name)
    try:
        with writing(engine) as session:
            if session.scalar(select(Recording.id).where(Recording.name == name)) is not None:
                raise UserError(f"a recording named {name!r} already exists")
            recording = Recording(name=name, source=source, allowed_hosts=list(allowed_hosts or []))
            session.add(recording)
            session.flush()
            return recording.id
    except IntegrityError:
        raise UserError(f"a recording named {name!r} already exists") from None


def finish_recording(engine: Engine, recording_id: int) -> None:
    with writing(engine) as session:
        recording = session.get_one(Recording, recording_id)
        recording.ended = utcnow()


def import_recording(engine: Engine, name: str, source: str, exchanges: Iterable[Exchange]) -> int:
    """Store a whole recording in one transaction: all its flows or nothing. Returns the flow count."""
    _check_name(name)
    ordered = sorted(exchanges, key=lambda e: e.started)
    with writing(engine) as session:
        if session.scalar(select(Recording.id).where(Recording.name == name)) is not None:
            raise UserError(f"a recording named {name!r} already exists")
        recording = Recording(name=name, source=source, allowed_hosts=[], ended=utcnow())
        session.add(recording)
        session.flush()
        rows = [{**e.row(seq), "recording_id": recording.id} for seq, e in enumerate(ordered, 1)]
        if rows:
            session.execute(insert(Flow), rows)
    return len(rows)


@dataclass(frozen=True)
class Summary:
    name: str
    source: str
    created: str
    ended: str | None
    flows: int
    hosts: list[str]
    duration: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summaries(engine: Engine, name: str | None = None) -> list[Summary]:
    with reading(engine) as session:
        query = select(Recording).order_by(Recording.created, Recording.id)
        if name is not None:
            query = query.where(Recording.name == name)
        result = []
        for recording in session.scalars(query):
            count, first, last = session.execute(
                select(func.count(Flow.id), func.min(Flow.started), func.max(func.coalesce(Flow.ended, Flow.started)))
                .where(Flow.recording_id == recording.id)
            ).one()
            hosts = session.scalars(
                select(Flow.host).distinct().where(Flow.recording_id == recording.id).order_by(Flow.host)
            ).all()
            result.append(
                Summary(
                    name=recording.name,
                    source=recording.source,
                    created=recording.created.isoformat(timespec="seconds"),
                    ended=recording.ended.isoformat(timespec="seconds") if recording.ended else None,
                    flows=count,
                    hosts=list(hosts),
                    duration=round((last - first), 3) if count else 0.0,
                )
            )
        return result


def get_recording(engine: Engine, name: str) -> tuple[Summary, list[Flow]]:
    found = summaries(engine, name)
    if not found:
        raise UserError(f"no recording named {name!r} (see `replayswarm recordings`)")
    with reading(engine) as session:
        flows = session.scalars(
            select(Flow).join(Recording).where(Recording.name == name).order_by(Flow.seq)
        ).all()
        session.expunge_all()
    return found[0], list(flows)


def iter_flows(engine: Engine, name: str) -> Iterator[Any]:
    """A recording's flows in order, as rows with the columns of `flows`, streamed: a long
    recording is never held twice (as ORM objects and as what the caller makes of them)."""
    if not summaries(engine, name):
        raise UserError(f"no recording named {name!r} (see `replayswarm recordings`)")
    query = select(*Flow.__table__.columns).join(Recording).where(Recording.name == name).order_by(Flow.seq)
    with engine.connect() as connection:
        yield from connection.execution_options(yield_per=1000).execute(query)


def delete_recording(engine: Engine, name: str) -> int:
    with writing(engine) as session:
        recording_id = session.scalar(select(Recording.id).where(Recording.name == name))
        if recording_id is None:
            raise UserError(f"no recording named {name!r} (see `replayswarm recordings`)")
        count = session.scalar(select(func.count(Flow.id)).where(Flow.recording_id == recording_id))
        session.execute(delete(Flow).where(Flow.recording_id == recording_id))
        session.execute(delete(Recording).where(Recording.id == recording_id))
    return count or 0


def _check_name(name: str) -> None:
    if not name.strip():
        raise UserError("a recording needs a non-empty --name")
    if len(name) > 200:
        raise UserError("a recording name is at most 200 characters")
