// Automatic layout with dagre: left to right, one rank per step of the flow, nodes
// sized as the canvas draws them (so none overlap), and the targets of one
// activity's ports stacked in port order (`vip` above `sample` above `complement`)
// as far as dagre's ordering constraints allow. Pure: unit-tested. Run on demand
// ("Tidy up", or once for a document without positions), never on each render.
import dagre from "@dagrejs/dagre";
import { documentToCanvas, outputPorts, parseRef, type CampaignDocument, type Position } from "./convert";
import { addActivity, freeSpot, positionsOf, setPositions, withActivities } from "./edit";
import { NODE_WIDTH, nodeHeight } from "./geometry";

export const RANK_SEP = 70;
export const NODE_SEP = 30;

/** Whether `to` can be reached from `from` in the "left of" relation. */
function reaches(graph: Map<string, Set<string>>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const node = stack.pop()!;
    if (node === to) return true;
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push(...(graph.get(node) ?? []));
  }
  return false;
}

/**
 * Ordering constraints (left = above in a left-to-right layout): for each activity,
 * the activities its ports feed, in port order. A constraint that contradicts one
 * already taken is skipped, so the set is always consistent.
 */
export function portOrderConstraints(doc: CampaignDocument): { left: string; right: string }[] {
  const activities = doc.activities ?? [];
  const ids = new Set(activities.map((a) => a.id));
  const feeds = new Map<string, { port: string; target: string; index: number }[]>();
  activities.forEach((a) => {
    for (const ref of a.inputs ?? []) {
      const { source, port } = parseRef(ref);
      if (!ids.has(source) || source === a.id) continue;
      const list = feeds.get(source) ?? [];
      list.push({ port, target: a.id, index: list.length });
      feeds.set(source, list);
    }
  });
  const byId = new Map(activities.map((a) => [a.id, a]));
  const graph = new Map<string, Set<string>>();
  const constraints: { left: string; right: string }[] = [];
  for (const [source, list] of feeds) {
    const ports = outputPorts(byId.get(source)!);
    const rank = (port: string) => {
      const i = ports.indexOf(port);
      return i < 0 ? ports.length : i;
    };
    const targets: string[] = [];
    for (const item of [...list].sort((a, b) => rank(a.port) - rank(b.port) || a.index - b.index)) {
      if (!targets.includes(item.target)) targets.push(item.target);
    }
    for (let i = 1; i < targets.length; i++) {
      const [left, right] = [targets[i - 1], targets[i]];
      if (reaches(graph, right, left)) continue; // would contradict: skip
      if (!graph.has(left)) graph.set(left, new Set());
      if (graph.get(left)!.has(right)) continue;
      graph.get(left)!.add(right);
      constraints.push({ left, right });
    }
  }
  return constraints;
}

/** The top-left position of every activity, laid out by dagre. */
export function dagreLayout(doc: CampaignDocument): Record<string, Position> {
  const { nodes, edges } = documentToCanvas(doc);
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", ranksep: RANK_SEP, nodesep: NODE_SEP, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  const sizes = new Map<string, { width: number; height: number }>();
  for (const node of nodes) {
    const size = { width: NODE_WIDTH, height: nodeHeight(node.data.ports.length) };
    sizes.set(node.id, size);
    g.setNode(node.id, { ...size });
  }
  for (const edge of edges) {
    if (!sizes.has(edge.source) || !sizes.has(edge.target) || edge.source === edge.target) continue;
    g.setEdge(edge.source, edge.target, {}, edge.id);
  }
  const constraints = portOrderConstraints(doc);
  try {
    dagre.layout(g, constraints.length ? { constraints } : undefined);
  } catch {
    dagre.layout(g); // constraints dagre cannot honour: lay out without them
  }
  const out: Record<string, Position> = {};
  for (const node of nodes) {
    const { x, y } = g.node(node.id) as { x: number; y: number };
    const { width, height } = sizes.get(node.id)!;
    out[node.id] = { x: Math.round(x - width / 2), y: Math.round(y - height / 2) };
  }
  return out;
}

/** "Tidy up": every activity at its dagre position. */
export function tidyUp(doc: CampaignDocument): CampaignDocument {
  return setPositions(doc, dagreLayout(doc));
}

/**
 * A document whose every activity has a saved position. Without any, the whole
 * drawing is laid out by dagre; the few that lack one go to a free spot right of
 * their first input (or anywhere free).
 */
export function ensurePositions(doc: CampaignDocument): CampaignDocument {
  const activities = doc.activities ?? [];
  const saved = positionsOf(doc);
  const missing = activities.filter((a) => !saved[a.id]);
  if (missing.length === 0) return doc;
  if (missing.length === activities.length) return setPositions(doc, dagreLayout(doc));
  // the others first, so that each free spot is looked for among placed nodes only
  const ids = new Set(missing.map((a) => a.id));
  let out = doc;
  let placed = withActivities(out, activities.filter((a) => !ids.has(a.id)));
  for (const a of missing) {
    const source = a.inputs?.length ? positionsOf(out)[parseRef(a.inputs[0]).source] : undefined;
    const spot = freeSpot(placed, source);
    out = setPositions(out, { [a.id]: spot });
    placed = addActivity(placed, a, spot);
  }
  return out;
}
