"""The I/O around convert: read a recording from the database, store the scenario set, write YAML."""

from __future__ import annotations

import os
import tempfile
import dataclasses
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import Engine, select

from ..db import reading
from ..db.models import Recording
from ..errors import UserError
from ..record.store import iter_flows
from ..scenario.store import save_set
from ..scenario.yamlfile import dump
from . import Conversion, NothingToConvert, Options, convert
from .recorded import Recorded


def read_recording(engine: Engine, recording: str, options: Options) -> tuple[list[Recorded], Options]:
    """A recording's flows, and the options with the hosts it was restricted to."""
    flows = [Recorded.of(row) for row in iter_flows(engine, recording)]
    if not flows:
        raise UserError(f"recording {recording!r} is empty: nothing to convert")
    with reading(engine) as session:
        allowed = session.scalar(select(Recording.allowed_hosts).where(Recording.name == recording)) or []
    return flows, dataclasses.replace(options, allowed_hosts=tuple(allowed))


def converted(flows: list[Recorded], recording: str, name: str | None, options: Options) -> Conversion:
    try:
        return convert(flows, name or recording, options, recording=recording)
    except NothingToConvert as exc:
        raise UserError(f"recording {recording!r} has nothing to convert: {exc}") from None


def store(engine: Engine, conversion: Conversion, output: Path | None = None, replace: bool = False) -> None:
    """Save the set (and write its YAML): both or neither."""
    temporary = _write_beside(output, dump(conversion.scenario_set)) if output else None
    try:
        save_set(engine, conversion.scenario_set, conversion.secrets, asdict(conversion.summary), replace=replace)
    except BaseException:
        if temporary:
            os.unlink(temporary)
        raise
    if temporary and output:
        os.replace(temporary, output)


def convert_recording(
    engine: Engine,
    recording: str,
    name: str | None,
    options: Options,
    output: Path | None = None,
    replace: bool = False,
) -> Conversion:
    flows, options = read_recording(engine, recording, options)
    conversion = converted(flows, recording, name, options)
    store(engine, conversion, output, replace)
    return conversion


def _write_beside(output: Path, text: str) -> str:
    """Write to a temporary file next to `output`, so the final rename cannot fail half-way."""
    directory = output.parent if str(output.parent) else Path(".")
    if not directory.is_dir():
        raise UserError(f"cannot write {output}: directory {directory} does not exist")
    fd, path = tempfile.mkstemp(prefix=f".{output.name}.", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path
