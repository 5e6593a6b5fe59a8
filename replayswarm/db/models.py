"""Tables of the record stage. The database is the contract between stages (DESIGN.md)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
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
    request_body: Mapped[str | None] = mapped_column(Text)
    request_size: Mapped[int] = mapped_column(default=0)
    request_hash: Mapped[str | None] = mapped_column(String(64))

    status: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(255))
    response_headers: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # Text bodies up to the cap; for the rest only size and sha256 are kept.
    response_body: Mapped[str | None] = mapped_column(Text)
    response_size: Mapped[int] = mapped_column(default=0)
    response_hash: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(255))

    # http | websocket | sse; the last two are kept for the record but cannot be replayed.
    kind: Mapped[str] = mapped_column(String(16), default="http")
    replayable: Mapped[bool] = mapped_column(default=True)
    error: Mapped[str | None] = mapped_column(Text)

    recording: Mapped[Recording] = relationship(back_populates="flows")

    @property
    def url(self) -> str:
        default = {"http": 80, "https": 443}.get(self.scheme)
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if self.port == default else f"{host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}" + (f"?{self.query}" if self.query else "")
