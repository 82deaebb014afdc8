"""Rule values: variable substitution, durations and typing against a column's type.

Both validation (to report a mismatch) and the compiler (to build typed literals)
use these, so a value accepted by one is never refused by the other.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from overture.definition.activities import DURATION_RE
from overture.rules.resolve import type_family

VAR_RE = re.compile(r"\$\{vars\.([A-Za-z_][A-Za-z0-9_]*)\}")

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ValueProblem(Exception):
    """A value that does not fit its field; the message is for the user."""


def parse_duration(text: str) -> timedelta:
    match = DURATION_RE.match(str(text))
    if not match:
        raise ValueProblem(f"{text!r} is not a duration such as '30 days' or '12 hours'")
    amount = float(match.group(1))
    unit = match.group(2)
    unit_key = "m" if unit.startswith("min") or unit == "m" else unit[0]
    try:
        return timedelta(seconds=amount * _UNIT_SECONDS[unit_key])
    except OverflowError:
        raise ValueProblem(f"{text!r} is too long a duration") from None


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Replace `${vars.NAME}`: a whole-string reference keeps the variable's type."""
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = VAR_RE.fullmatch(value)
    if whole:
        name = whole.group(1)
        if name not in variables:
            raise ValueProblem(f"unknown variable {name!r}")
        return variables[name]

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise ValueProblem(f"unknown variable {name!r}")
        return str(variables[name])

    return VAR_RE.sub(one, value)


def variable_names(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(variable_names(v) for v in value)) if value else set()
    if isinstance(value, str):
        return set(VAR_RE.findall(value))
    return set()


def _parse_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueProblem(f"{value!r} is not a date-time such as 2027-03-01T09:00") from None


def coerce(value: Any, dtype: str) -> Any:
    """A Python value of the column's family, or ValueProblem naming the mismatch."""
    family = type_family(dtype)
    if value is None:
        raise ValueProblem("a value is required")
    if family == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise ValueProblem(f"{value!r} is not a number, but the field is {dtype}")
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise ValueProblem(f"{value} is out of range for a number in a rule")
        return value
    if family == "string":
        if not isinstance(value, str):
            raise ValueProblem(f"{value!r} is not text, but the field is {dtype}")
        if "\x00" in value:
            raise ValueProblem("text cannot contain the NUL character (\\x00)")
        return value
    if family == "boolean":
        if not isinstance(value, bool):
            raise ValueProblem(f"{value!r} is not true or false, but the field is {dtype}")
        return value
    if family == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                return _parse_datetime(value).date()
        raise ValueProblem(f"{value!r} is not a date, but the field is {dtype}")
    if family == "timestamp":
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            moment = _parse_datetime(value)
        else:
            raise ValueProblem(f"{value!r} is not a date-time, but the field is {dtype}")
        return to_column_time(moment, dtype)
    return value


def to_column_time(moment: datetime, dtype: str) -> datetime:
    """Naive timestamps are UTC (spec §3): aware values become naive UTC for them."""
    aware_column = "utc" in dtype.lower() or "+" in dtype
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment if aware_column else moment.replace(tzinfo=None)
