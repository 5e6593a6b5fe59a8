"""What `play SOURCE` names: a scenario YAML file, a scenario set in the DB, or a recording
(converted on the fly)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from ..db import reading
from ..db.models import Recording, ScenarioSetRow
from ..errors import UserError
from ..scenario.model import ScenarioSet


@dataclass(frozen=True)
class Source:
    scenario_set: ScenarioSet
    recorded: dict[str, dict[str, str]]  # recorded secret values per scenario (DB only)
    set_id: int | None
    kind: str  # file | set | recording


def resolve(engine: Engine, source: str) -> Source:
    path = Path(source)
    if source.endswith((".yaml", ".yml")) or path.is_file():
        from ..scenario.yamlfile import load

        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{source}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        return Source(load(text, source), {}, None, "file")
    with reading(engine) as session:
        set_id = session.scalar(select(ScenarioSetRow.id).where(ScenarioSetRow.name == source))
        is_recording = session.scalar(select(Recording.id).where(Recording.name == source)) is not None
    if set_id is not None:
        from ..scenario.store import load_set

        scenario_set, secrets, _ = load_set(engine, source)
        return Source(scenario_set, secrets, set_id, "set")
    if is_recording:
        from ..convert import NothingToConvert, Options, convert
        from ..convert.recorded import Recorded
        from ..record.store import get_recording

        _, flows = get_recording(engine, source)
        with reading(engine) as session:
            allowed = session.scalar(select(Recording.allowed_hosts).where(Recording.name == source)) or []
        try:
            conversion = convert([Recorded.of(f) for f in flows], source, Options(allowed_hosts=tuple(allowed)), recording=source)
        except NothingToConvert as exc:
            raise UserError(f"recording {source!r} has nothing to play: {exc}") from None
        return Source(conversion.scenario_set, conversion.secrets, None, "recording")
    raise UserError(f"unknown SOURCE {source!r}: not a scenario file, a scenario set or a recording")
