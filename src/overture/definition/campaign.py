"""The campaign document of spec §2 and its YAML/JSON input and output."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from overture.definition import yamlio
from overture.definition.activities import AnyActivity

SLUG = r"^[a-z0-9][a-z0-9_-]*$"


class VariableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["string", "integer", "number", "boolean", "date", "datetime"] = "string"
    default: Any = None
    test_value: Any = None
    description: str | None = None


class ErrorPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_error: Literal["suspend", "ignore", "abort"] = "suspend"
    max_consecutive: int | None = Field(default=None, ge=1)


class Campaign(BaseModel):
    """A whole campaign document. `canvas` is kept as is and never read by the engine."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SLUG, max_length=100)
    label: str | None = None
    description: str | None = None
    target: str | None = None
    timezone: str = "UTC"
    schedule: dict[str, Any] | None = None
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    error_policy: ErrorPolicy = Field(default_factory=ErrorPolicy)
    activities: list[AnyActivity] = Field(min_length=1)
    canvas: dict[str, Any] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: `Europe` is a folder
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1,
                                              cutoff=0.8)
            hint = f"; did you mean {close[0]!r}?" if close else " such as Europe/Paris"
            raise ValueError(f"{value!r} is not an IANA time zone{hint}") from None
        return value

    def activity(self, activity_id: str) -> Any:
        for activity in self.activities:
            if activity.id == activity_id:
                return activity
        raise KeyError(activity_id)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class DocumentError(Exception):
    """A document that cannot even be read as YAML or JSON."""


def read_document(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON file as a mapping, with a readable error when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DocumentError(f"{path}: is a directory, not a campaign document") from None
    except UnicodeDecodeError:
        raise DocumentError(f"{path}: not a text file (YAML or JSON in UTF-8)") from None
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_document(text, str(path))


class _UniqueKeyLoader(yamlio.Loader):
    """YAML 1.2 as yamlio reads it, refusing a key written twice in one mapping.

    PyYAML keeps the last of two `rule:` keys silently; YAML says keys are unique.
    """

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges; its keys may be overridden
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the constructor reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice in one mapping",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_document(text: str, origin: str = "document") -> dict[str, Any]:
    try:
        if origin.endswith(".json"):
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{origin}: not valid JSON (line {exc.lineno}, column "
                            f"{exc.colno}): {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DocumentError(f"{origin}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise DocumentError(f"{origin}: nested too deeply to be a campaign document") from None
    if data is None:
        raise DocumentError(f"{origin}: the document is empty")
    if not isinstance(data, dict):
        raise DocumentError(f"{origin}: a campaign document must be a mapping at the top level")
    return data


def campaign_json_schema() -> dict[str, Any]:
    return Campaign.model_json_schema(by_alias=True)
