"""The campaign graph: ports, edges written on the receiving side, order, cycles.

Pure functions over a parsed Campaign; every problem is returned, none raised.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from overture.definition.activities import INPUT_RE, Activity
from overture.definition.campaign import Campaign
from overture.definition.errors import Problem


@dataclass(frozen=True)
class PortRef:
    activity: str
    port: str

    def __str__(self) -> str:
        return f"{self.activity}.{self.port}"


def parse_input(text: str) -> tuple[str, str | None]:
    match = INPUT_RE.match(text)
    if not match:
        raise ValueError(text)
    return match.group(1), match.group(2)


def resolve_inputs(campaign: Campaign, missing: Set[str] = frozenset()
                   ) -> tuple[dict[str, list[PortRef]], list[Problem]]:
    """Each activity's inputs as PortRefs, and the problems with them.

    `missing` names activities left out because they are broken: an input naming one
    is skipped without a problem of its own (the broken activity has one).
    """
    by_id: dict[str, Activity] = {}
    problems: list[Problem] = []
    for activity in campaign.activities:
        if activity.id in by_id:
            problems.append(Problem(activity.id, "activity id is used twice", activity.id))
        by_id.setdefault(activity.id, activity)
    edges: dict[str, list[PortRef]] = {}
    for activity in campaign.activities:
        refs: list[PortRef] = []
        low, high = activity.input_arity
        n = len(activity.inputs)
        path = f"{activity.id}.inputs"
        if high == 0 and n:
            problems.append(Problem(path, f"{activity.type} takes no inputs: it is a source",
                                    activity.id))
        elif low == high == 1 and n != 1:
            problems.append(Problem(path, f"{activity.type} takes exactly 1 input, got {n}",
                                    activity.id))
        elif high is None and n < low:
            problems.append(Problem(path, f"{activity.type} takes at least {low} inputs, got {n}",
                                    activity.id))
        seen: set[str] = set()
        for index, text in enumerate(activity.inputs):
            where = f"{path}[{index}]"
            source_id, port = parse_input(text)
            source = by_id.get(source_id)
            if source is None and source_id in missing:
                continue
            if source is None:
                problems.append(Problem(where, f"unknown activity {source_id!r}", activity.id))
                continue
            ports = source.output_ports()
            if port is None:
                if "out" not in ports:
                    listed = ", ".join(f"{source_id}.{p}" for p in ports) or "none"
                    problems.append(Problem(
                        where, f"{source_id!r} has no port 'out': name one of {listed}",
                        activity.id))
                    continue
                port = "out"
            elif port not in ports:
                listed = ", ".join(ports) or "none"
                problems.append(Problem(
                    where, f"unknown port {port!r} of {source_id!r} (ports: {listed})",
                    activity.id))
                continue
            ref = PortRef(source_id, port)
            if str(ref) in seen:
                problems.append(Problem(where, f"input {ref} is listed twice", activity.id))
                continue
            seen.add(str(ref))
            refs.append(ref)
        edges[activity.id] = refs
    problems.extend(_cycles(edges))
    return edges, problems


def _cycles(edges: dict[str, list[PortRef]]) -> list[Problem]:
    """One problem per cycle found, naming the activities around it."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(edges, white)
    problems: list[Problem] = []
    stack: list[str] = []

    def visit(node: str) -> None:
        color[node] = grey
        stack.append(node)
        for ref in edges.get(node, []):
            nxt = ref.activity
            if nxt not in color:
                continue
            if color[nxt] == grey:
                cycle = [*stack[stack.index(nxt):], nxt]
                problems.append(Problem(f"{node}.inputs",
                                        "the graph has a cycle: " + " <- ".join(cycle), node))
            elif color[nxt] == white:
                visit(nxt)
        stack.pop()
        color[node] = black

    for node in edges:
        if color[node] == white:
            visit(node)
    return problems


def topological_order(campaign: Campaign, edges: dict[str, list[PortRef]]) -> list[str]:
    """Activities in document order, each after all of its inputs (graph must be acyclic)."""
    order: list[str] = []
    done: set[str] = set()
    ids = [a.id for a in campaign.activities]

    def place(node: str, trail: frozenset[str]) -> None:
        if node in done or node in trail:
            return
        for ref in edges.get(node, []):
            place(ref.activity, trail | {node})
        done.add(node)
        order.append(node)

    for node in ids:
        place(node, frozenset())
    return order
