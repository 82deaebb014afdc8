"""A rule of a campaign's activity as an expression: what "calculate" counts and the
code view shows, for the CLI (`overture rule`) and the API alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from overture.data.workspace import Workspace
from overture.definition.errors import InvalidDocument
from overture.definition.validation import test_variables, validate
from overture.errors import OvertureError


class RuleTargetError(OvertureError):
    """The named activity or subset does not exist or has no rule."""


@dataclass(frozen=True)
class RuleExpression:
    expr: Any
    #: a split subset's rule counted over the whole dimension (its input is known only
    #: when the campaign runs)
    over_whole_dimension: bool


def rule_expression(ws: Workspace, raw: dict[str, Any], target: str, *,
                    base_dir: Path | None, clock: datetime | None = None) -> RuleExpression:
    from overture.data import audiences
    from overture.engine.environment import environment_for
    from overture.rules.compiler import Compiler, RuleContext
    from overture.rules.resolve import Resolver

    result = validate(raw, environment_for(ws, base_dir))
    if result.problems:
        raise InvalidDocument(result.problems)
    campaign = result.raise_for_problems()
    activity_id, _, subset_id = target.partition(".")
    try:
        activity = campaign.activity(activity_id)
    except KeyError:
        raise RuleTargetError(f"no activity {activity_id!r} in campaign "
                              f"{campaign.name!r}") from None
    rule = getattr(activity, "rule", None)
    dimension = getattr(activity, "target", None) or campaign.target or ws.catalog.target
    if subset_id:
        subsets = {s.id: s for s in getattr(activity, "subsets", [])}
        if subset_id not in subsets:
            raise RuleTargetError(f"{activity_id!r} has no subset {subset_id!r}")
        rule = subsets[subset_id].rule
        schema = result.ports.get(f"{activity_id}.{subset_id}")
        dimension = schema.dimension if schema else dimension
    elif not hasattr(activity, "rule"):
        raise RuleTargetError(f"{activity_id!r} is a {activity.type}: it has no rule of its "
                              "own (name a split subset as ACTIVITY.SUBSET)")
    plane = ws.data

    def audience_table(name: str) -> tuple[str, str] | None:
        info = audiences.lookup(plane, name)
        return (info.table_name, info.dimension) if info else None

    compiler = Compiler(RuleContext(
        plane=plane, resolver=Resolver(ws.catalog, plane.columns_of()),
        clock=clock or datetime.now(UTC), timezone=ZoneInfo(campaign.timezone),
        variables=test_variables(campaign), filters_dir=ws.filters_dir,
        audience_table=audience_table))
    return RuleExpression(compiler.filter(str(dimension), rule), bool(subset_id))
