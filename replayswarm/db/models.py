"""Tables of the record stage. The database is the contract between stages (DESIGN.md)."""

from __future__ import annotations

from datetime import datetime, timezone

import base64
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints keep Alembic's batch mode on SQLite able to find and alter them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SOURCES = ("proxy", "har", "mitmproxy")


class Body(TypeDecorator[str]):
    """Text as recorded, NUL characters included (a binary upload read as Latin-1, a text body that
    holds one). PostgreSQL's text cannot hold NUL: there such a value is stored as base64 behind
    a mark no recorded text starts with. The column stays TEXT: no migration, SQLite unchanged."""

    impl = Text
    cache_ok = True
    MARK = "\ufdd0base64:"  # a Unicode noncharacter: never the start of real text

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql" or ("\x00" not in value and not value.startswith(self.MARK)):
            return value
        return self.MARK + base64.b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if isinstance(value, str) and value.startswith(self.MARK):
            return base64.b64decode(value[len(self.MARK):]).decode("utf-8", "surrogatepass")
        return value  # type: ignore[no-any-return]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES}", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # None while a proxy recording is still running.
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str | None] = mapped_column(Text)
    # The hosts the recording was restricted to (`--allow`); empty means every host.
    allowed_hosts: Mapped[list[str]] = mapped_column(JSON, default=list)

    flows: Mapped[list[Flow]] = relationship(
        back_populates="recording",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Flow.seq",
    )


class Flow(Base):
    """One recorded request and its response, stored whole or not at all."""

    __tablename__ = "flows"
    __table_args__ = (
        UniqueConstraint("recording_id", "seq", name="uq_flows_recording_seq"),
        Index("ix_flows_recording_started", "recording_id", "started"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    # Which client connection carried the flow, and from where: a signal for session splitting.
    client: Mapped[str] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    started: Mapped[float]
    ended: Mapped[float | None]

    method: Mapped[str] = mapped_column(String(16))
    scheme: Mapped[str] = mapped_column(String(8))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    path: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text, default="")
    http_version: Mapped[str] = mapped_column(String(16))
    request_headers: Mapped[list[list[str]]] = mapped_column(JSON)
    request_body: Mapped[str | None] = mapped_column(Body)
    request_size: Mapped[int] = mapped_column(default=0)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # The request body's exact bytes when its text cannot give them back (binary, a charset
    # other than UTF-8, a content coding on the wire); None when the text is exact.
    request_raw: Mapped[bytes | None] = mapped_column(LargeBinary)

    status: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(255))
    response_headers: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # Text bodies up to the cap; for the rest only size and sha256 are kept.
    response_body: Mapped[str | None] = mapped_column(Body)
    response_size: Mapped[int] = mapped_column(default=0)
    response_hash: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(255))

    # http | websocket | sse; the last two are kept for the record but cannot be replayed.
    kind: Mapped[str] = mapped_column(String(16), default="http")
    replayable: Mapped[bool] = mapped_column(default=True)
    error: Mapped[str | None] = mapped_column(Body)

    recording: Mapped[Recording] = relationship(back_populates="flows")

    @property
    def url(self) -> str:
        default = {"http": 80, "https": 443}.get(self.scheme)
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if self.port == default else f"{host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}" + (f"?{self.query}" if self.query else "")


# -- convert: scenario sets -----------------------------------------------------------------------


class ScenarioSetRow(Base):
    """A conversion of a recording (or an imported scenario file)."""

    __tablename__ = "scenario_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    variables: Mapped[list[dict]] = mapped_column(JSON, default=list)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)

    scenarios: Mapped[list[ScenarioRow]] = relationship(
        back_populates="scenario_set", cascade="all, delete-orphan", passive_deletes=True, order_by="ScenarioRow.position"
    )
    recording: Mapped[Recording | None] = relationship()


class ScenarioRow(Base):
    __tablename__ = "scenarios"
    __table_args__ = (UniqueConstraint("set_id", "name", name="uq_scenarios_set_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("scenario_sets.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    weight: Mapped[int]
    sessions: Mapped[int] = mapped_column(default=1)
    # Recorded values of the scenario's secret variables: play's fallback when no --data/--var
    # gives them. Never written to a scenario file.
    secrets: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    scenario_set: Mapped[ScenarioSetRow] = relationship(back_populates="scenarios")
    steps: Mapped[list[StepRow]] = relationship(
        back_populates="scenario", cascade="all, delete-orphan", passive_deletes=True, order_by="StepRow.position"
    )


class StepRow(Base):
    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("scenario_id", "position", name="uq_steps_scenario_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    headers: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    body: Mapped[str | None] = mapped_column(Body)
    think_time: Mapped[float] = mapped_column(default=0.0)
    think_times: Mapped[list[float]] = mapped_column(JSON, default=list)
    expect_status: Mapped[int | None]
    expect_type: Mapped[str | None] = mapped_column(String(255))
    expect_size: Mapped[int | None]
    # A recorded redirect's target as a path shape (`/notes/{id}/`): validation compares it.
    expect_location: Mapped[str | None] = mapped_column(Text)
    # A body sent exactly as recorded (binary), the charset and content coding of a templated
    # one, or the size of one the recorder did not keep (play refuses to send another).
    body_raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_charset: Mapped[str | None] = mapped_column(String(40))
    body_coding: Mapped[str | None] = mapped_column(String(40))
    body_unrecorded: Mapped[int | None]
    extract: Mapped[list[dict]] = mapped_column(JSON, default=list)
    substitute: Mapped[list[dict]] = mapped_column(JSON, default=list)
    resources: Mapped[list[dict]] = mapped_column(JSON, default=list)

    scenario: Mapped[ScenarioRow] = relationship(back_populates="steps")


# -- play: runs ----------------------------------------------------------------------------------

# crashed: the process running it died (no heartbeat, or its pid is gone); what it flushed is kept.
RUN_STATUSES = ("running", "completed", "stopped", "failed", "crashed")


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="play", server_default="play")  # play | capacity
    set_id: Mapped[int | None] = mapped_column(ForeignKey("scenario_sets.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(Text)  # what was played: a set's name, a file, a recording
    host: Mapped[str] = mapped_column(Text)
    users: Mapped[int]
    spawn_rate: Mapped[float]
    duration: Mapped[float | None]  # planned seconds; None when bounded by --iterations
    processes: Mapped[int] = mapped_column(default=1)
    label: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Totals, rewritten at every flush so a crash loses at most a few seconds.
    requests: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    rps: Mapped[float] = mapped_column(default=0.0)
    p50_ms: Mapped[float] = mapped_column(default=0.0)
    p95_ms: Mapped[float] = mapped_column(default=0.0)
    p99_ms: Mapped[float] = mapped_column(default=0.0)
    saturated: Mapped[bool] = mapped_column(default=False)  # the generator's CPU ran above 90 %
    thresholds: Mapped[list[dict]] = mapped_column(JSON, default=list)
    iterations: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Who runs it and when it last wrote: a running run whose process is gone is crashed.
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pid: Mapped[int | None]
    hostname: Mapped[str | None] = mapped_column(String(255))
    # Live control, read by the running run every second: a new target user count, a stop.
    control_users: Mapped[int | None]
    control_stop: Mapped[bool] = mapped_column(default=False, server_default=false())
    answer: Mapped[dict | None] = mapped_column(JSON)  # a capacity search's answer


class RunEndpointRow(Base):
    __tablename__ = "run_endpoints"
    __table_args__ = (UniqueConstraint("run_id", "name", name="uq_run_endpoints_run_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)  # method + templated path
    count: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(default=0)
    deviations: Mapped[int] = mapped_column(default=0)  # answers far from the recording
    histogram: Mapped[dict] = mapped_column(JSON, default=dict)
    due_histogram: Mapped[dict | None] = mapped_column(JSON)  # open model: latency from when each request was due


class RunBucketRow(Base):
    """Per second for the whole run (endpoint ''), per 10 s for each endpoint."""

    __tablename__ = "run_buckets"
    __table_args__ = (UniqueConstraint("run_id", "endpoint", "t", name="uq_run_buckets_run_endpoint_t"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(Text, default="")
    t: Mapped[int]  # seconds since the run started
    requests: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    users: Mapped[int] = mapped_column(default=0)
    target_users: Mapped[int] = mapped_column(default=0, server_default="0")  # what the load shape asked for
    p50_ms: Mapped[float] = mapped_column(default=0.0)
    p95_ms: Mapped[float] = mapped_column(default=0.0)
    p99_ms: Mapped[float] = mapped_column(default=0.0)


class RunErrorRow(Base):
    __tablename__ = "run_errors"
    __table_args__ = (UniqueConstraint("run_id", "endpoint", "kind", name="uq_run_errors_run_endpoint_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(100))
    count: Mapped[int] = mapped_column(default=0)
    sample: Mapped[str] = mapped_column(Body, default="")


class RunStepRow(Base):
    """One load step of a capacity search: its steady numbers and what breached there."""

    __tablename__ = "run_steps"
    __table_args__ = (UniqueConstraint("run_id", "k", name="uq_run_steps_run_k"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    k: Mapped[int]  # the step's order in the search
    users: Mapped[int]  # closed model: users; open model: arrivals a second
    start_t: Mapped[float]  # seconds since the run started, steady part only
    end_t: Mapped[float]
    requests: Mapped[int]
    failures: Mapped[int]
    rps: Mapped[float]
    p50_ms: Mapped[float]
    p95_ms: Mapped[float]
    p99_ms: Mapped[float]
    spread: Mapped[float]  # coefficient of variation of the steady seconds' req/s
    saturated: Mapped[bool]
    breaches: Mapped[list[str]] = mapped_column(JSON)  # the SLOs (as written) this step broke
    endpoints: Mapped[list[dict]] = mapped_column(JSON)  # per endpoint: requests, failures, p95, errors by kind
