"""`overture campaign schema`: the JSON Schema editors and the canvas validate with.

`jsonschema` is not a dependency, so a small validator below covers exactly the
keywords the generated schema uses (a test fails if it starts using another one);
with it, the schema accepts the sample documents and rejects malformed ones.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from typer.testing import CliRunner

from overture.cli.main import app
from overture.definition.activities import ACTIVITY_TYPES
from overture.definition.campaign import Campaign, campaign_json_schema, parse_document
from overture.definition.rules import OPERATORS

from .samples import VALID
from .test_properties import valid_campaign

RULE_KINDS = {"All": "all", "AnyOf": "any", "Not": "not", "Condition": "field",
              "Exists": "exists", "Aggregate": "aggregate", "Engagement": "engagement",
              "InAudience": "in_audience", "FilterRef": "filter"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = CliRunner().invoke(app, ["campaign", "schema"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ------------------------------------------------------------------ a small validator

ANNOTATIONS = {"title", "description", "default", "discriminator", "examples", "$defs"}
CHECKED = {"$ref", "type", "const", "enum", "pattern", "minLength", "maxLength", "minimum",
           "maximum", "exclusiveMinimum", "exclusiveMaximum", "items", "minItems", "maxItems",
           "properties", "required", "additionalProperties", "minProperties", "anyOf",
           "oneOf", "allOf"}


def _is(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise AssertionError(f"unknown JSON type {kind}")


def schema_errors(node: dict[str, Any], value: Any, root: dict[str, Any],
                  path: str = "$") -> list[str]:
    """The ways `value` breaks `node` (empty when it conforms)."""
    unknown = set(node) - CHECKED - ANNOTATIONS
    assert not unknown, f"the validator does not check {unknown}"
    errors: list[str] = []
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        errors += schema_errors(root["$defs"][name], value, root, path)
    kinds = node.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is(value, k) for k in kinds):
            return [*errors, f"{path}: {value!r} is not {kinds}"]
    if "const" in node and value != node["const"]:
        errors.append(f"{path}: {value!r} is not {node['const']!r}")
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{path}: {value!r} not in {node['enum']}")
    if isinstance(value, str):
        if "pattern" in node and not re.search(node["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {node['pattern']}")
        if len(value) < node.get("minLength", 0) or len(value) > node.get("maxLength",
                                                                           math.inf):
            errors.append(f"{path}: length of {value!r}")
    if _is(value, "number"):
        if value < node.get("minimum", -math.inf) or value > node.get("maximum", math.inf):
            errors.append(f"{path}: {value} out of range")
        if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
            errors.append(f"{path}: {value} <= {node['exclusiveMinimum']}")
        if "exclusiveMaximum" in node and value >= node["exclusiveMaximum"]:
            errors.append(f"{path}: {value} >= {node['exclusiveMaximum']}")
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0) or len(value) > node.get("maxItems", math.inf):
            errors.append(f"{path}: {len(value)} items")
        if "items" in node:
            for i, item in enumerate(value):
                errors += schema_errors(node["items"], item, root, f"{path}[{i}]")
    if isinstance(value, dict):
        props = node.get("properties", {})
        for key in node.get("required", []):
            if key not in value:
                errors.append(f"{path}: {key} is required")
        if len(value) < node.get("minProperties", 0):
            errors.append(f"{path}: too few properties")
        extra = node.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors += schema_errors(props[key], item, root, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: {key} is not allowed")
            elif isinstance(extra, dict):
                errors += schema_errors(extra, item, root, f"{path}.{key}")
    for sub in node.get("allOf", []):
        errors += schema_errors(sub, value, root, path)
    for keyword in ("anyOf", "oneOf"):
        if keyword not in node:
            continue
        branches = [schema_errors(s, value, root, path) for s in node[keyword]]
        matches = sum(not b for b in branches)
        if matches == 0 or (keyword == "oneOf" and matches > 1):
            errors.append(f"{path}: matches {matches} of {keyword}")
        if matches == 0:  # say why the branch meant for this value failed
            errors += _closest(node, keyword, value, root, branches)
    return errors


def _closest(node: dict[str, Any], keyword: str, value: Any, root: dict[str, Any],
             branches: list[list[str]]) -> list[str]:
    """The errors of the branch the value was meant for: by discriminator, else by shape."""
    subs = node[keyword]
    discriminator = node.get("discriminator")
    if discriminator and isinstance(value, dict):
        ref = discriminator["mapping"].get(value.get(discriminator["propertyName"]))
        for sub, errors in zip(subs, branches, strict=True):
            if sub.get("$ref") == ref:
                return errors

    def fits(sub: dict[str, Any]) -> bool:
        if "$ref" in sub:
            sub = root["$defs"][sub["$ref"].removeprefix("#/$defs/")]
        kind = sub.get("type")
        if kind is not None and not _is(value, kind):
            return False
        return not isinstance(value, dict) or set(sub.get("required", [])) <= set(value)

    shaped = [errors for sub, errors in zip(subs, branches, strict=True) if fits(sub)]
    return min(shaped or branches, key=len)


def as_json(value: Any) -> Any:
    """The document as a YAML 1.2 editor sees it: dates are text."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


# ------------------------------------------------------------------ structure

def test_the_command_prints_the_models_schema(schema: dict[str, Any]) -> None:
    assert schema == json.loads(json.dumps(campaign_json_schema()))
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "activities"}
    assert set(schema["properties"]) == {a or n for n, f in Campaign.model_fields.items()
                                         for a in [f.alias]}


def test_every_activity_type_has_a_definition(schema: dict[str, Any]) -> None:
    items = schema["properties"]["activities"]["items"]
    mapping = items["discriminator"]["mapping"]
    assert items["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(ACTIVITY_TYPES)
    assert len(ACTIVITY_TYPES) == 21
    for kind, ref in mapping.items():
        definition = schema["$defs"][ref.removeprefix("#/$defs/")]
        assert definition["properties"]["type"]["const"] == kind
        assert definition["additionalProperties"] is False
        assert {"id", "type"} <= set(definition["required"])
        assert definition["properties"]["id"]["pattern"] == "^[a-z][a-z0-9_]*$"
    assert sorted(s["$ref"] for s in items["oneOf"]) == sorted(mapping.values())


def test_every_rule_kind_has_a_definition(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    for name, key in RULE_KINDS.items():
        assert key in defs[name]["properties"], name
        assert key in defs[name]["required"], name
        assert defs[name]["additionalProperties"] is False
    rule = defs["BuildAudience"]["properties"]["rule"]["anyOf"][0]["oneOf"]
    assert {r["$ref"].removeprefix("#/$defs/") for r in rule} == set(RULE_KINDS)
    assert defs["Condition"]["properties"]["op"]["enum"] == list(OPERATORS)
    assert defs["AggregateSpec"]["properties"]["fn"]["enum"] == [
        "count", "sum", "avg", "min", "max", "count_distinct"]
    assert "not" in defs["Not"]["properties"]  # the alias, not the Python name `not_`
    assert "from" in defs["Email"]["properties"]


def test_the_schema_holds_the_local_constraints(schema: dict[str, Any]) -> None:
    percent = schema["$defs"]["Limit"]["properties"]["percent"]["anyOf"][0]
    assert (percent["minimum"], percent["maximum"]) == (0, 100)
    assert schema["properties"]["name"]["pattern"] == "^[a-z0-9][a-z0-9_-]*$"


def test_the_validator_covers_every_keyword(schema: dict[str, Any]) -> None:
    seen: set[str] = set()

    def walk(node: Any, parent: str | None) -> None:
        if isinstance(node, dict):
            if parent not in ("properties", "$defs", "mapping"):
                seen.update(node)
            for key, value in node.items():
                walk(value, key)
        elif isinstance(node, list):
            for value in node:
                walk(value, None)

    walk(schema, None)
    assert seen - {"mapping", "propertyName"} <= CHECKED | ANNOTATIONS


# ------------------------------------------------------------------ documents

@pytest.mark.parametrize("name", sorted(VALID))
def test_the_sample_documents_conform(name: str, schema: dict[str, Any]) -> None:
    document = as_json(parse_document(VALID[name]))
    assert schema_errors(schema, document, schema) == []


@pytest.mark.parametrize(("text", "fragment"), [
    ("name: t\nactivities: [{id: a, type: teleport}]\n", "matches 0 of oneOf"),
    ("name: t\nactivities: [{id: a, type: build_audience, colour: red}]\n",
     "colour is not allowed"),
    ("name: t\nactivities: [{id: A, type: build_audience}]\n", "does not match"),
    ("activities: [{id: a, type: build_audience}]\n", "name is required"),
    ("name: t\nactivities: []\n", "0 items"),
    ("name: t\nactivities: [{id: a, type: build_audience}, {id: s, type: split, inputs: [a], "
     "subsets: [{id: x, limit: {percent: 110}}]}]\n", "110 out of range"),
    ("name: t\nactivities: [{id: a, type: build_audience, rule: {field: age, op: gtt}}]\n",
     "'gtt' not in"),
    ("name: t\nactivities: [{id: a, type: build_audience, rule: {feld: age}}]\n",
     "matches 0 of oneOf"),
])
def test_malformed_documents_do_not_conform(text: str, fragment: str,
                                            schema: dict[str, Any]) -> None:
    errors = schema_errors(schema, as_json(parse_document(text)), schema)
    assert any(fragment in e for e in errors), errors


SCHEMA = campaign_json_schema()


@settings(max_examples=100, deadline=None)
@given(raw=valid_campaign())
def test_what_the_model_accepts_the_schema_accepts(raw: dict[str, Any]) -> None:
    """Generated valid campaigns, as written and as `to_dict()` writes them back.

    Every oneOf branch is tried, as an editor without discriminator support does, so
    this also shows that each activity and rule matches exactly one definition.
    """
    assert schema_errors(SCHEMA, raw, SCHEMA) == []
    assert schema_errors(SCHEMA, Campaign.model_validate(raw).to_dict(), SCHEMA) == []
