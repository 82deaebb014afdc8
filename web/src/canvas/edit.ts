// Edits of a campaign document, as the canvas makes them. Pure: each function
// takes a document and returns a new one (or the same one when nothing changes);
// the parts that did not change are shared, so unchanged activities keep their
// identity (the canvas only redraws what changed). Key order is kept everywhere,
// so that a saved or exported document reads like the one that was opened.
import {
  DEFAULT_PORT,
  LAYER_WIDTH,
  ROW_HEIGHT,
  documentToCanvas,
  formatRef,
  outputPorts,
  parseRef,
  type Activity,
  type CampaignDocument,
  type CanvasSection,
  type Position,
} from "./convert";
import { NODE_WIDTH, nodeHeight, overlaps, type Box } from "./geometry";

// ---- small helpers ----

const activitiesOf = (doc: CampaignDocument): Activity[] => doc.activities ?? [];

/** `doc` with another activity list, the `activities` key staying where it was. */
export function withActivities(doc: CampaignDocument, activities: Activity[]): CampaignDocument {
  if (!("activities" in doc)) {
    const { canvas, ...rest } = doc;
    return canvas === undefined ? { ...rest, activities } : { ...rest, activities, canvas };
  }
  const out: CampaignDocument = {};
  for (const [key, value] of Object.entries(doc)) out[key] = key === "activities" ? activities : value;
  return out;
}

export function positionsOf(doc: CampaignDocument): Record<string, Position> {
  return doc.canvas?.positions ?? {};
}

/** `doc` with other canvas positions; other canvas fields, and key order, are kept. */
export function withPositions(doc: CampaignDocument, positions: Record<string, Position>): CampaignDocument {
  const canvas: CanvasSection = { ...(doc.canvas ?? {}), positions };
  if (!("canvas" in doc)) return { ...doc, canvas };
  const out: CampaignDocument = {};
  for (const [key, value] of Object.entries(doc)) out[key] = key === "canvas" ? canvas : value;
  return out;
}

/** Every activity's position: saved ones, and the fallback layout for the others. */
export function currentPositions(doc: CampaignDocument): Map<string, Position> {
  return new Map(documentToCanvas(doc).nodes.map((n) => [n.id, n.position]));
}

/** Whether two refs name the same port (`a` and `a.out` do). */
export function sameRef(a: string, b: string): boolean {
  const x = parseRef(a);
  const y = parseRef(b);
  return x.source === y.source && x.port === y.port;
}

/** The activity with `inputs` set, the key where it was (or after id, type and label). */
export function withInputs(activity: Activity, inputs: string[]): Activity {
  if ("inputs" in activity) return { ...activity, inputs };
  const keys = Object.keys(activity);
  let at = 0;
  keys.forEach((key, i) => {
    if (key === "id" || key === "type" || key === "label") at = i + 1;
  });
  const out: Record<string, unknown> = {};
  keys.slice(0, at).forEach((k) => (out[k] = activity[k]));
  out.inputs = inputs;
  keys.slice(at).forEach((k) => (out[k] = activity[k]));
  return out as Activity;
}

function withoutKey<T extends Record<string, unknown>>(value: T, key: string): T {
  const { [key]: _dropped, ...rest } = value;
  return rest as T;
}

function mapActivities(doc: CampaignDocument, fn: (a: Activity) => Activity): CampaignDocument {
  const before = activitiesOf(doc);
  let changed = false;
  const after = before.map((a) => {
    const next = fn(a);
    if (next !== a) changed = true;
    return next;
  });
  return changed ? withActivities(doc, after) : doc;
}

// ---- positions ----

export function setPositions(doc: CampaignDocument, updates: Record<string, Position>): CampaignDocument {
  const positions = positionsOf(doc);
  let changed = false;
  const next = { ...positions };
  for (const [id, p] of Object.entries(updates)) {
    const old = positions[id];
    if (!old || old.x !== p.x || old.y !== p.y) {
      next[id] = { x: p.x, y: p.y };
      changed = true;
    }
  }
  return changed ? withPositions(doc, next) : doc;
}

/** A spot where a new node overlaps no other: right of `near` if given, else in the
 * first free cell of the grid over the drawing, else below it. */
export function freeSpot(doc: CampaignDocument, near?: Position): Position {
  const canvas = documentToCanvas(doc);
  const boxes: Box[] = canvas.nodes.map((n) => ({
    ...n.position,
    width: NODE_WIDTH,
    height: nodeHeight(n.data.ports.length),
  }));
  const fits = (p: Position) => !boxes.some((b) => overlaps(b, { ...p, width: NODE_WIDTH, height: nodeHeight(1) }, 12));
  if (boxes.length === 0) return { x: 0, y: 0 };
  if (near) {
    for (let k = 0; k < 12; k++) {
      const step = k % 2 === 0 ? k / 2 : -(k + 1) / 2; // 0, -1, 1, -2, 2…
      const p = { x: near.x + LAYER_WIDTH, y: near.y + step * ROW_HEIGHT };
      if (fits(p)) return p;
    }
  }
  const minX = Math.min(...boxes.map((b) => b.x));
  const minY = Math.min(...boxes.map((b) => b.y));
  const maxX = Math.max(...boxes.map((b) => b.x + b.width));
  const maxY = Math.max(...boxes.map((b) => b.y + b.height));
  const cols = Math.ceil((maxX - minX) / LAYER_WIDTH) + 1;
  const rows = Math.ceil((maxY - minY) / ROW_HEIGHT);
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const p = { x: minX + col * LAYER_WIDTH, y: minY + row * ROW_HEIGHT };
      if (fits(p)) return p;
    }
  }
  return { x: minX, y: maxY + 40 };
}

// ---- activities ----

export function addActivity(doc: CampaignDocument, activity: Activity, position: Position): CampaignDocument {
  const added = withActivities(doc, [...activitiesOf(doc), activity]);
  return withPositions(added, { ...positionsOf(doc), [activity.id]: { x: position.x, y: position.y } });
}

/** Drop activities, their positions and every input that refers to them. */
export function removeActivities(doc: CampaignDocument, ids: Iterable<string>): CampaignDocument {
  const gone = new Set(ids);
  if (gone.size === 0) return doc;
  const kept = activitiesOf(doc).filter((a) => !gone.has(a.id));
  if (kept.length === activitiesOf(doc).length) return doc;
  const activities = kept.map((a) => {
    const inputs = a.inputs?.filter((ref) => !gone.has(parseRef(ref).source));
    return inputs && inputs.length !== a.inputs!.length ? { ...a, inputs } : a;
  });
  let out = withActivities(doc, activities);
  const positions = positionsOf(doc);
  if ([...gone].some((id) => id in positions)) {
    out = withPositions(
      out,
      Object.fromEntries(Object.entries(positions).filter(([id]) => !gone.has(id))),
    );
  }
  return out;
}

// ---- inputs (edges) ----

export function setInputs(doc: CampaignDocument, id: string, inputs: string[]): CampaignDocument {
  return mapActivities(doc, (a) => (a.id === id ? withInputs(a, inputs) : a));
}

/** Add an input to `target` unless it has it already (in any form). */
export function addInput(doc: CampaignDocument, target: string, ref: string): CampaignDocument {
  const activity = activitiesOf(doc).find((a) => a.id === target);
  if (!activity || parseRef(ref).source === target) return doc;
  if ((activity.inputs ?? []).some((r) => sameRef(r, ref))) return doc;
  return setInputs(doc, target, [...(activity.inputs ?? []), ref]);
}

/** Connect a port to an activity: the input is written in its short form. */
export function connect(doc: CampaignDocument, source: string, port: string | null, target: string): CampaignDocument {
  return addInput(doc, target, formatRef(source, port ?? DEFAULT_PORT));
}

/** Remove one input of `target`: the exact ref if it has it, else one naming the same port. */
export function removeInput(doc: CampaignDocument, target: string, ref: string): CampaignDocument {
  const activity = activitiesOf(doc).find((a) => a.id === target);
  const inputs = activity?.inputs ?? [];
  let at = inputs.indexOf(ref);
  if (at < 0) at = inputs.findIndex((r) => sameRef(r, ref));
  if (at < 0) return doc;
  return setInputs(doc, target, [...inputs.slice(0, at), ...inputs.slice(at + 1)]);
}

/** Every output port of every activity but `except`, as `ID.PORT`, in document order. */
export function outputRefs(doc: CampaignDocument, except?: string): { ref: string; source: string; port: string }[] {
  return activitiesOf(doc)
    .filter((a) => a.id !== except)
    .flatMap((a) => outputPorts(a).map((port) => ({ ref: `${a.id}.${port}`, source: a.id, port })));
}

/** The activities downstream of `id` (not `id` itself, unless in a cycle). */
export function descendants(doc: CampaignDocument, id: string): Set<string> {
  const children = new Map<string, string[]>();
  for (const a of activitiesOf(doc)) {
    for (const ref of a.inputs ?? []) {
      const { source } = parseRef(ref);
      children.set(source, [...(children.get(source) ?? []), a.id]);
    }
  }
  const seen = new Set<string>();
  const stack = [...(children.get(id) ?? [])];
  while (stack.length) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(children.get(next) ?? []));
  }
  return seen;
}

/**
 * Put `activity` on the transition `ref` → `target`: it takes `ref` as its input and
 * the target's input is re-pointed to its first output port (`out` mostly). An
 * activity without outputs (`end`) is only attached to `ref`. The target and what
 * follows it move right when there is no room.
 */
export function insertBetween(doc: CampaignDocument, ref: string, target: string, activity: Activity): CampaignDocument {
  const positions = currentPositions(doc);
  const source = positions.get(parseRef(ref).source);
  const after = positions.get(target);
  const ports = outputPorts(activity);
  const inserted = withInputs(activity, [ref]);

  let out = withActivities(doc, [...activitiesOf(doc), inserted]);
  if (ports.length > 0) {
    out = mapActivities(out, (a) => {
      if (a.id !== target) return a;
      const inputs = a.inputs ?? [];
      let at = inputs.indexOf(ref);
      if (at < 0) at = inputs.findIndex((r) => sameRef(r, ref));
      if (at < 0) return a;
      const replacement = formatRef(activity.id, ports[0]);
      const next = withInputs(a, inputs.map((r, i) => (i === at ? replacement : r)));
      // an and_join or combine names its primary by ref: follow it
      return next.primary === inputs[at] ? { ...next, primary: replacement } : next;
    });
  }

  const updates: Record<string, Position> = {};
  for (const [id, p] of positions) updates[id] = p; // every node gets a saved position
  if (source && after && ports.length > 0) {
    const spot = { x: source.x + LAYER_WIDTH, y: after.y };
    const shift = spot.x + LAYER_WIDTH - after.x;
    if (shift > 0) {
      for (const id of [target, ...descendants(doc, target)]) {
        const p = positions.get(id);
        if (p && id !== activity.id) updates[id] = { x: p.x + shift, y: p.y };
      }
    }
    updates[activity.id] = spot;
  } else {
    updates[activity.id] = freeSpot(doc, source);
  }
  return withPositions(out, { ...positionsOf(out), ...updates });
}

// ---- renaming ----

const renameRef = (ref: string, from: string, to: string): string =>
  ref === from ? to : ref.startsWith(`${from}.`) ? to + ref.slice(from.length) : ref;

/** Rename an activity and every reference to it: inputs, `primary`, its position key. */
export function renameActivity(doc: CampaignDocument, from: string, to: string): CampaignDocument {
  if (from === to) return doc;
  let out = mapActivities(doc, (a) => {
    let next = a;
    if (a.id === from) next = { ...next, id: to };
    if (a.inputs?.some((r) => parseRef(r).source === from)) {
      next = { ...next, inputs: a.inputs.map((r) => renameRef(r, from, to)) };
    }
    if (typeof a.primary === "string" && parseRef(a.primary).source === from) {
      next = { ...next, primary: renameRef(a.primary, from, to) };
    }
    return next;
  });
  const positions = positionsOf(doc);
  if (from in positions) {
    out = withPositions(
      out,
      Object.fromEntries(Object.entries(positions).map(([id, p]) => [id === from ? to : id, p])),
    );
  }
  return out;
}

/** Re-point refs to ports of `source` that were renamed (`tiers.vip` → `tiers.gold`). */
export function renamePorts(doc: CampaignDocument, source: string, renames: Map<string, string>): CampaignDocument {
  if (renames.size === 0) return doc;
  const fix = (ref: string) => {
    const { source: s, port } = parseRef(ref);
    return s === source && renames.has(port) ? formatRef(source, renames.get(port)!) : ref;
  };
  return mapActivities(doc, (a) => {
    let next = a;
    if (a.inputs?.some((r) => fix(r) !== r)) next = { ...next, inputs: a.inputs.map(fix) };
    if (typeof a.primary === "string" && fix(a.primary) !== a.primary) next = { ...next, primary: fix(a.primary) };
    return next;
  });
}

/** Why `id` cannot be the new id of an activity, or null when it can. */
export function idProblem(doc: CampaignDocument, id: string, current?: string): string | null {
  if (!id.trim()) return "an activity needs an id";
  if (/[.\s]/.test(id)) return "an id has no dots or spaces";
  if (id !== current && activitiesOf(doc).some((a) => a.id === id)) return `another activity is called ${id}`;
  return null;
}

/**
 * Replace the activity `id` by `next` as a settings form gives it: its inputs stay
 * as they were; a new id renames every reference to it; output ports renamed in
 * place (a split subset, a fork branch) carry their transitions along.
 */
export function updateActivity(
  doc: CampaignDocument,
  id: string,
  next: Activity,
): { doc: CampaignDocument; error?: string } {
  const old = activitiesOf(doc).find((a) => a.id === id);
  if (!old) return { doc, error: `no activity ${id}` };
  if (next.id !== id) {
    const error = idProblem(doc, next.id, id);
    if (error) return { doc, error };
  }
  let replacement: Activity = next;
  if ("inputs" in old) replacement = withInputs(next, old.inputs ?? []);
  else if ("inputs" in next) replacement = withoutKey(next, "inputs");

  let out = mapActivities(doc, (a) => (a.id === id ? replacement : a));
  if (next.id !== id) out = renameActivity(out, id, next.id);

  const before = outputPorts(old);
  const after = outputPorts(replacement);
  const renames = new Map<string, string>();
  if (before.length === after.length) {
    before.forEach((port, i) => {
      if (port !== after[i] && !before.includes(after[i])) renames.set(port, after[i]);
    });
  }
  return { doc: renamePorts(out, next.id, renames) };
}

// ---- copy and paste ----

export interface Fragment {
  activities: Activity[];
  positions: Record<string, Position>;
}

export function copyActivities(doc: CampaignDocument, ids: Iterable<string>): Fragment {
  const wanted = new Set(ids);
  const positions = currentPositions(doc);
  const activities = activitiesOf(doc).filter((a) => wanted.has(a.id));
  return {
    activities: structuredClone(activities),
    positions: Object.fromEntries(activities.map((a) => [a.id, { ...positions.get(a.id)! }])),
  };
}

/** `buyers` → `buyers_1`; `email_1` → `email_2`: the first free id after this one. */
export function copyId(id: string, taken: ReadonlySet<string>): string {
  const match = /^(.*)_(\d+)$/.exec(id);
  const base = match ? match[1] : id;
  for (let n = match ? Number(match[2]) + 1 : 1; ; n++) {
    const candidate = `${base}_${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/**
 * Paste copied activities with fresh ids, moved by `offset`. Inputs between pasted
 * activities follow the new ids; inputs from activities that were not copied are
 * dropped (and a `primary` naming one of them).
 */
export function pasteFragment(
  doc: CampaignDocument,
  fragment: Fragment,
  offset: Position,
): { doc: CampaignDocument; ids: string[] } {
  const taken = new Set(activitiesOf(doc).map((a) => a.id));
  const renamed = new Map<string, string>();
  for (const a of fragment.activities) {
    const id = copyId(a.id, taken);
    taken.add(id);
    renamed.set(a.id, id);
  }
  const rename = (ref: string) => {
    const { source, port } = parseRef(ref);
    const to = renamed.get(source)!;
    return ref === source ? to : `${to}.${port}`;
  };
  const internal = (ref: string) => renamed.has(parseRef(ref).source);

  const pasted = fragment.activities.map((original) => {
    let a: Activity = { ...structuredClone(original), id: renamed.get(original.id)! };
    if (original.inputs) {
      const inputs = original.inputs.filter(internal).map(rename);
      a = inputs.length ? { ...a, inputs } : withoutKey(a, "inputs");
    }
    if (typeof original.primary === "string") {
      a = internal(original.primary) ? { ...a, primary: rename(original.primary) } : withoutKey(a, "primary");
    }
    return a;
  });

  let out = withActivities(doc, [...activitiesOf(doc), ...pasted]);
  const positions = { ...positionsOf(doc) };
  for (const original of fragment.activities) {
    const p = fragment.positions[original.id] ?? { x: 0, y: 0 };
    positions[renamed.get(original.id)!] = { x: p.x + offset.x, y: p.y + offset.y };
  }
  out = withPositions(out, positions);
  return { doc: out, ids: pasted.map((a) => a.id) };
}
