// Pure conversion between a campaign document (spec §2) and canvas nodes/edges.
//
// The document is the source of truth: the canvas edits exactly this document.
// Edges are written on the receiving side in the document (`inputs` lists refs
// `ACTIVITY` or `ACTIVITY.PORT`); on the canvas they become edges from the source
// node's port handle to the target node. Positions live in `canvas.positions`,
// which the engine ignores.
//
// No React here: these functions only build plain objects shaped like
// @xyflow/react's Node and Edge, so they run in unit tests under Node.

export interface Position {
  x: number;
  y: number;
}

export interface Activity {
  id: string;
  type: string;
  inputs?: string[];
  [setting: string]: unknown;
}

export interface CanvasSection {
  positions?: Record<string, Position>;
  [key: string]: unknown;
}

export interface CampaignDocument {
  activities?: Activity[];
  canvas?: CanvasSection;
  [key: string]: unknown;
}

export interface ActivityNodeData {
  [key: string]: unknown;
  /** what the default node renders */
  label: string;
  /** the activity type (`email`, `split`…) */
  activityType: string;
  /** every setting of the activity except `id`, `type` and `inputs` */
  settings: Record<string, unknown>;
  /** the activity's keys in document order, so the rebuilt activity reads the same */
  keyOrder: string[];
  /** output ports the activity has (for source handles) */
  ports: string[];
}

export interface CanvasNode {
  id: string;
  type: "activity";
  position: Position;
  data: ActivityNodeData;
}

export interface EdgeData {
  [key: string]: unknown;
  /** the ref as written in the document (`tiers.vip`, `buyers`, `buyers.out`) */
  ref: string;
}

export interface CanvasEdge {
  id: string;
  source: string;
  sourceHandle: string;
  target: string;
  label?: string;
  data: EdgeData;
}

export interface Canvas {
  nodes: CanvasNode[];
  edges: CanvasEdge[];
}

export const DEFAULT_PORT = "out";
export const LAYER_WIDTH = 260;
export const ROW_HEIGHT = 110;

/** `tiers.vip` → {source: tiers, port: vip}; `buyers` → {source: buyers, port: out}. */
export function parseRef(ref: string): { source: string; port: string } {
  const dot = ref.indexOf(".");
  if (dot < 0) return { source: ref, port: DEFAULT_PORT };
  return { source: ref.slice(0, dot), port: ref.slice(dot + 1) };
}

/** The ref for a port, in its short form (`buyers` for the `out` port). */
export function formatRef(source: string, port: string | null | undefined): string {
  return !port || port === DEFAULT_PORT ? source : `${source}.${port}`;
}

function ids(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list
    .map((item) => (typeof item === "string" ? item : (item as { id?: unknown })?.id))
    .filter((id): id is string => typeof id === "string");
}

/** The output ports an activity has (spec §4); unknown types get `out`. */
export function outputPorts(activity: Activity): string[] {
  const complement = activity.complement === true ? ["complement"] : [];
  switch (activity.type) {
    case "end":
      return [];
    case "load_file":
      return ["out", "rejects"];
    case "reconcile":
      return activity.keep_unmatched === true ? ["out", "unmatched"] : ["out"];
    case "combine":
    case "deduplicate":
      return ["out", ...complement];
    case "split":
      return [...ids(activity.subsets), ...complement];
    case "fork":
      return ids(activity.branches);
    case "test":
      return [...ids(activity.conditions), "default"];
    default:
      return ["out"];
  }
}

/**
 * Depth of each activity: 0 for entry points, else 1 + the deepest input.
 * Dangling refs are ignored and cycles are cut, so any document gets a layout.
 */
function depths(activities: Activity[]): Map<string, number> {
  const byId = new Map(activities.map((a) => [a.id, a]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // cycle: cut here
    visiting.add(id);
    let d = 0;
    for (const ref of byId.get(id)?.inputs ?? []) {
      const { source } = parseRef(ref);
      if (byId.has(source)) d = Math.max(d, visit(source) + 1);
    }
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  for (const a of activities) visit(a.id);
  return depth;
}

/** A simple layered layout: one column per topological depth, rows in document order. */
export function autoLayout(activities: Activity[]): Map<string, Position> {
  const depth = depths(activities);
  const rows = new Map<number, number>();
  const positions = new Map<string, Position>();
  for (const a of activities) {
    const d = depth.get(a.id) ?? 0;
    const row = rows.get(d) ?? 0;
    rows.set(d, row + 1);
    positions.set(a.id, { x: d * LAYER_WIDTH, y: row * ROW_HEIGHT });
  }
  return positions;
}

function isPosition(value: unknown): value is Position {
  const p = value as Position | null | undefined;
  return !!p && typeof p.x === "number" && typeof p.y === "number";
}

export function documentToCanvas(doc: CampaignDocument): Canvas {
  const activities = doc.activities ?? [];
  const saved = doc.canvas?.positions ?? {};
  const layout = autoLayout(activities);

  // Ports used by some input, so every edge has a handle to attach to even when
  // the document names a port that the activity's settings do not declare.
  const used = new Map<string, string[]>();
  for (const a of activities) {
    for (const ref of a.inputs ?? []) {
      const { source, port } = parseRef(ref);
      const list = used.get(source) ?? [];
      if (!list.includes(port)) list.push(port);
      used.set(source, list);
    }
  }

  const nodes: CanvasNode[] = activities.map((activity) => {
    const { id, type, inputs: _inputs, ...settings } = activity;
    const ports = outputPorts(activity);
    for (const port of used.get(id) ?? []) if (!ports.includes(port)) ports.push(port);
    const label = typeof settings.label === "string" ? settings.label : id;
    const position = isPosition(saved[id]) ? saved[id] : layout.get(id)!;
    return {
      id,
      type: "activity",
      position: { x: position.x, y: position.y },
      data: { label, activityType: type, settings, keyOrder: Object.keys(activity), ports },
    };
  });

  const edges: CanvasEdge[] = [];
  const seen = new Set<string>();
  for (const a of activities) {
    for (const ref of a.inputs ?? []) {
      const { source, port } = parseRef(ref);
      let id = `${source}.${port}->${a.id}`;
      for (let n = 2; seen.has(id); n++) id = `${source}.${port}->${a.id}#${n}`;
      seen.add(id);
      edges.push({
        id,
        source,
        sourceHandle: port,
        target: a.id,
        ...(port === DEFAULT_PORT ? {} : { label: port }),
        data: { ref },
      });
    }
  }
  return { nodes, edges };
}

/** Where to put `inputs` in an activity that did not have them: after id, type, label. */
function withInputsKey(keyOrder: string[]): string[] {
  if (keyOrder.includes("inputs")) return keyOrder;
  let at = 0;
  keyOrder.forEach((key, i) => {
    if (key === "id" || key === "type" || key === "label") at = i + 1;
  });
  return [...keyOrder.slice(0, at), "inputs", ...keyOrder.slice(at)];
}

/**
 * Rebuild the document from the canvas. `base` is the document the canvas was made
 * from: every top-level field other than `activities` and `canvas.positions` is kept
 * as it is (and in its order), activities keep their original order (new ones go at
 * the end, removed ones are dropped), and each activity's inputs keep their original
 * order, edges added on the canvas coming after. `base` is not modified.
 */
export function canvasToDocument(
  nodes: CanvasNode[],
  edges: CanvasEdge[],
  base: CampaignDocument,
): CampaignDocument {
  const baseActivities = base.activities ?? [];
  const baseById = new Map(baseActivities.map((a) => [a.id, a]));
  const nodeById = new Map(nodes.map((n) => [n.id, n]));

  // Activity order: the base's order for the ones still there, then new nodes.
  const order = [
    ...baseActivities.map((a) => a.id).filter((id) => nodeById.has(id)),
    ...nodes.map((n) => n.id).filter((id) => !baseById.has(id)),
  ];

  // Inputs per target, in edge order first.
  const incoming = new Map<string, string[]>();
  for (const edge of edges) {
    if (!nodeById.has(edge.target)) continue;
    const port = edge.sourceHandle ?? DEFAULT_PORT;
    const original = edge.data?.ref;
    const ref =
      original !== undefined &&
      parseRef(original).source === edge.source &&
      parseRef(original).port === port
        ? original
        : formatRef(edge.source, port);
    const list = incoming.get(edge.target) ?? [];
    list.push(ref);
    incoming.set(edge.target, list);
  }

  const activities: Activity[] = order.map((id) => {
    const node = nodeById.get(id)!;
    const original = baseById.get(id);
    let inputs = incoming.get(id) ?? [];
    if (original?.inputs) {
      const rank = (ref: string) => {
        const i = original.inputs!.indexOf(ref);
        return i < 0 ? Number.MAX_SAFE_INTEGER : i;
      };
      // stable sort: refs new on the canvas keep their edge order, after the others
      inputs = [...inputs].sort((a, b) => rank(a) - rank(b));
    }
    const hadInputsKey = original !== undefined && "inputs" in original;
    const writeInputs = inputs.length > 0 || hadInputsKey;

    const { settings, activityType, keyOrder } = node.data;
    const values: Record<string, unknown> = { ...settings, id, type: activityType };
    if (writeInputs) values.inputs = inputs;
    const keys = writeInputs ? withInputsKey(keyOrder ?? []) : (keyOrder ?? []);
    const activity: Record<string, unknown> = {};
    for (const key of ["id", "type"]) if (!keys.includes(key)) activity[key] = values[key];
    for (const key of keys) if (key in values) activity[key] = values[key];
    for (const key of Object.keys(values)) if (!(key in activity)) activity[key] = values[key];
    return activity as Activity;
  });

  const positions: Record<string, Position> = {};
  for (const id of order) {
    const { x, y } = nodeById.get(id)!.position;
    positions[id] = { x, y };
  }

  // Keep every top-level field and its order; `canvas` goes at the end if new.
  const doc: CampaignDocument = {};
  for (const [key, value] of Object.entries(base)) {
    if (key === "activities") doc.activities = activities;
    else if (key === "canvas") doc.canvas = { ...(value as CanvasSection), positions };
    else doc[key] = value;
  }
  if (!("activities" in doc)) doc.activities = activities;
  if (!("canvas" in doc)) doc.canvas = { positions };
  return doc;
}
