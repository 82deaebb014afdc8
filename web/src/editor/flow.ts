// The document as @xyflow/react nodes and edges. Pure, and careful about identity:
// a node or edge whose inputs did not change is the very object of the previous
// derivation, so xyflow and the memoized node components skip it (a 100-activity
// campaign redraws only what an edit touched). Unit-tested.
import type { Edge, Node } from "@xyflow/react";
import { type Activity, type Canvas, type CampaignDocument } from "../canvas/convert";
import { NODE_WIDTH, nodeHeight } from "../canvas/geometry";
import { activityKind, takesInputs, typeName } from "../canvas/palette";

export interface ActivityNodeData extends Record<string, unknown> {
  activity: Activity;
  /** output ports, in order: a source handle each */
  ports: string[];
  typeName: string;
  /** the palette group (`Targeting`…), for the node's colour */
  group: string;
  /** whether it has an input handle: its type takes inputs, or it has some anyway */
  takesInputs: boolean;
  /** the number of problems the last save reported for it */
  problems: number;
}
export type ActivityFlowNode = Node<ActivityNodeData, "activity">;

export interface PortEdgeData extends Record<string, unknown> {
  /** the ref as the target's inputs write it */
  ref: string;
  port: string;
}
export type PortFlowEdge = Edge<PortEdgeData, "port">;

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function nodeAriaLabel(data: ActivityNodeData): string {
  const { activity, problems } = data;
  const label = typeof activity.label === "string" && activity.label ? `: ${activity.label}` : "";
  const issues = problems ? `, ${problems} problem${problems > 1 ? "s" : ""}` : "";
  return `${data.typeName} ${activity.id}${label}${issues}`;
}

export function deriveNodes(
  doc: CampaignDocument,
  canvas: Canvas,
  selected: ReadonlySet<string>,
  problemCounts: ReadonlyMap<string, number>,
  previous: readonly ActivityFlowNode[],
  readOnly: boolean,
): ActivityFlowNode[] {
  const activities = new Map((doc.activities ?? []).map((a) => [a.id, a]));
  const before = new Map(previous.map((n) => [n.id, n]));
  return canvas.nodes.map((cn) => {
    const activity = activities.get(cn.id)!;
    const prev = before.get(cn.id);
    const problems = problemCounts.get(cn.id) ?? 0;
    const ports = cn.data.ports;
    const data: ActivityNodeData =
      prev && prev.data.activity === activity && prev.data.problems === problems && sameList(prev.data.ports, ports)
        ? prev.data
        : {
            activity,
            ports,
            typeName: typeName(activity.type),
            group: activityKind(activity.type)?.group ?? "Other",
            takesInputs: takesInputs(activity.type) || (activity.inputs?.length ?? 0) > 0,
            problems,
          };
    // while xyflow drags a node, its position is xyflow's until the drag ends
    const position = prev?.dragging ? prev.position : cn.position;
    const isSelected = selected.has(cn.id);
    if (
      prev &&
      prev.data === data &&
      prev.position.x === position.x &&
      prev.position.y === position.y &&
      !!prev.selected === isSelected &&
      prev.draggable === !readOnly
    ) {
      return prev;
    }
    return {
      id: cn.id,
      type: "activity",
      position,
      data,
      selected: isSelected,
      draggable: !readOnly,
      connectable: !readOnly,
      deletable: false,
      // xyflow's measure of the node, or, for a new node, the size it is drawn at
      // (geometry.ts): with a size, xyflow shows the node and fits the view at once,
      // and its measure, when equal, changes nothing (no second drawing of every node)
      measured: prev?.measured ?? { width: NODE_WIDTH, height: nodeHeight(ports.length) },
      ariaLabel: nodeAriaLabel(data),
      domAttributes: { "data-testid": `node-${cn.id}` } as ActivityFlowNode["domAttributes"],
    };
  });
}

export function deriveEdges(
  canvas: Canvas,
  selected: ReadonlySet<string>,
  previous: readonly PortFlowEdge[],
): PortFlowEdge[] {
  const ids = new Set(canvas.nodes.map((n) => n.id));
  const before = new Map(previous.map((e) => [e.id, e]));
  const out: PortFlowEdge[] = [];
  for (const ce of canvas.edges) {
    if (!ids.has(ce.source) || !ids.has(ce.target)) continue; // a dangling ref: a problem, not a line
    const prev = before.get(ce.id);
    const isSelected = selected.has(ce.id);
    if (prev && prev.data?.ref === ce.data.ref && !!prev.selected === isSelected) {
      out.push(prev);
      continue;
    }
    out.push({
      id: ce.id,
      type: "port",
      source: ce.source,
      sourceHandle: ce.sourceHandle,
      target: ce.target,
      data: { ref: ce.data.ref, port: ce.sourceHandle },
      selected: isSelected,
      deletable: false,
      ariaLabel: `Transition from ${ce.source}.${ce.sourceHandle} to ${ce.target}`,
    });
  }
  return out;
}
