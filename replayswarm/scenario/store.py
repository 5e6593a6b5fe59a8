"""Scenario sets in the database: save a conversion, load a set back, list, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import selectinload

from ..db import reading, writing
from ..db.models import Recording, ScenarioRow, ScenarioSetRow, StepRow
from ..errors import UserError
from .model import Extract, Request, Resource, Scenario, ScenarioSet, Step, Substitution, Variable


def save_set(
    engine: Engine,
    scenario_set: ScenarioSet,
    secrets: dict[str, dict[str, str]] | None = None,
    summary: dict[str, Any] | None = None,
    replace: bool = False,
) -> None:
    secrets = secrets or {}
    with writing(engine) as session:
        existing = session.scalar(select(ScenarioSetRow.id).where(ScenarioSetRow.name == scenario_set.name))
        if existing is not None:
            if not replace:
                raise UserError(f"a scenario set named {scenario_set.name!r} already exists (use --replace or another --name)")
            session.execute(delete(ScenarioSetRow).where(ScenarioSetRow.id == existing))
        recording_id = None
        if scenario_set.recording:
            recording_id = session.scalar(select(Recording.id).where(Recording.name == scenario_set.recording))
        session.add(
            ScenarioSetRow(
                name=scenario_set.name,
                recording_id=recording_id,
                origins=list(scenario_set.origins),
                variables=[asdict(v) for v in scenario_set.variables],
                summary=summary or {},
                scenarios=[
                    ScenarioRow(
                        position=i,
                        name=s.name,
                        weight=s.weight,
                        sessions=s.sessions,
                        secrets=secrets.get(s.name, {}),
                        steps=[_step_row(j, step) for j, step in enumerate(s.steps)],
                    )
                    for i, s in enumerate(scenario_set.scenarios)
                ],
            )
        )


def _step_row(position: int, step: Step) -> StepRow:
    return StepRow(
        position=position,
        name=step.name,
        method=step.request.method,
        url=step.request.url,
        headers=[list(h) for h in step.request.headers],
        body=step.request.body,
        body_raw=step.request.body_raw,
        body_charset=step.request.charset,
        body_coding=step.request.coding,
        body_unrecorded=step.request.unrecorded,
        think_time=step.think_time,
        think_times=list(step.think_times),
        expect_status=step.expect_status,
        expect_type=step.expect_type,
        expect_size=step.expect_size,
        expect_location=step.expect_location,
        extract=[asdict(e) for e in step.extract],
        substitute=[asdict(s) for s in step.substitute],
        resources=[{**asdict(r), "headers": [list(h) for h in r.headers]} for r in step.resources],
    )


def load_set(engine: Engine, name: str) -> tuple[ScenarioSet, dict[str, dict[str, str]], dict[str, Any]]:
    """The set, the recorded secret values per scenario, and the convert summary."""
    with reading(engine) as session:
        row = session.scalar(
            select(ScenarioSetRow)
            .where(ScenarioSetRow.name == name)
            .options(selectinload(ScenarioSetRow.scenarios).selectinload(ScenarioRow.steps), selectinload(ScenarioSetRow.recording))
        )
        if row is None:
            raise UserError(f"no scenario set named {name!r} (see `replayswarm scenarios`)")
        scenario_set = ScenarioSet(
            name=row.name,
            recording=row.recording.name if row.recording else None,
            origins=list(row.origins),
            variables=[Variable(**v) for v in row.variables],
            scenarios=[
                Scenario(name=s.name, weight=s.weight, sessions=s.sessions, steps=[_step(st) for st in s.steps])
                for s in row.scenarios
            ],
        )
        return scenario_set, {s.name: dict(s.secrets) for s in row.scenarios if s.secrets}, dict(row.summary)


def _step(row: StepRow) -> Step:
    return Step(
        name=row.name,
        request=Request(method=row.method, url=row.url, headers=[(k, v) for k, v in row.headers], body=row.body,
                        body_raw=row.body_raw, charset=row.body_charset, coding=row.body_coding, unrecorded=row.body_unrecorded),
        think_time=row.think_time,
        think_times=list(row.think_times),
        expect_status=row.expect_status,
        expect_type=row.expect_type,
        expect_size=row.expect_size,
        expect_location=row.expect_location,
        extract=[Extract(**e) for e in row.extract],
        substitute=[Substitution(**s) for s in row.substitute],
        resources=[Resource(**{**r, "headers": [(k, v) for k, v in r["headers"]]}) for r in row.resources],
    )


def list_sets(engine: Engine) -> list[dict[str, Any]]:
    with reading(engine) as session:
        rows = session.scalars(
            select(ScenarioSetRow).order_by(ScenarioSetRow.created, ScenarioSetRow.id)
            .options(selectinload(ScenarioSetRow.scenarios), selectinload(ScenarioSetRow.recording))
        ).all()
        steps = dict(
            session.execute(
                select(ScenarioRow.set_id, func.count(StepRow.id)).join(StepRow).group_by(ScenarioRow.set_id)
            ).all()
        )
        return [
            {
                "name": r.name,
                "recording": r.recording.name if r.recording else None,
                "created": r.created.isoformat(timespec="seconds"),
                "scenarios": [{"name": s.name, "weight": s.weight} for s in r.scenarios],
                "steps": steps.get(r.id, 0),
            }
            for r in rows
        ]


def delete_set(engine: Engine, name: str) -> None:
    with writing(engine) as session:
        if session.execute(delete(ScenarioSetRow).where(ScenarioSetRow.name == name)).rowcount == 0:
            raise UserError(f"no scenario set named {name!r} (see `replayswarm scenarios`)")
