// The activity types a marketer can add (spec §4), grouped as the palette shows them,
// each with a readable name and the minimal settings that make a new activity a
// sensible start (required settings are present, empty where only the marketer
// knows the value, so validation points at them). Pure: unit-tested.
import type { Activity, CampaignDocument } from "./convert";

export type PaletteGroup = "Targeting" | "Flow control" | "Channels";

export interface ActivityKind {
  type: string;
  group: PaletteGroup;
  /** what the palette, the nodes and the panels call it */
  name: string;
  /** how many inputs it takes: [min, max], max null when unbounded */
  inputs: [number, number | null];
  /** the settings of a new activity, besides id and type (a fresh copy each call) */
  defaults: () => Record<string, unknown>;
}

const kind = (
  type: string,
  group: PaletteGroup,
  name: string,
  inputs: [number, number | null],
  defaults: () => Record<string, unknown> = () => ({}),
): ActivityKind => ({ type, group, name, inputs, defaults });

export const ACTIVITY_KINDS: readonly ActivityKind[] = [
  // targeting
  kind("build_audience", "Targeting", "Build audience", [0, 0]),
  kind("read_audience", "Targeting", "Read audience", [0, 0], () => ({ audience: "" })),
  kind("load_file", "Targeting", "Load file", [0, 0], () => ({ path: "", format: "csv" })),
  kind("reconcile", "Targeting", "Reconcile", [1, 1], () => ({ match: {} })),
  kind("incremental_query", "Targeting", "Incremental query", [0, 0], () => ({
    mode: "exclude_previous",
    history_days: 30,
  })),
  kind("combine", "Targeting", "Combine", [2, null], () => ({ operation: "union" })),
  kind("deduplicate", "Targeting", "Deduplicate", [1, 1], () => ({ keys: ["email"] })),
  kind("enrich", "Targeting", "Enrich", [1, 1], () => ({ attributes: [] })),
  kind("split", "Targeting", "Split", [1, 1], () => ({ subsets: [{ id: "subset_1" }], complement: true })),
  kind("change_dimension", "Targeting", "Change dimension", [1, 1], () => ({ target: "", link: "" })),
  kind("save_audience", "Targeting", "Save audience", [1, 1], () => ({ audience: "" })),
  // flow control
  kind("fork", "Flow control", "Fork", [1, 1], () => ({ branches: ["branch_1", "branch_2"] })),
  kind("and_join", "Flow control", "AND join", [2, null]),
  kind("wait", "Flow control", "Wait", [1, 1], () => ({ duration: "1 day" })),
  kind("test", "Flow control", "Test", [1, 1], () => ({
    conditions: [{ id: "enough", count: { op: "gte", value: 1 } }],
  })),
  kind("alert", "Flow control", "Alert", [1, 1], () => ({ title: "Alert", message: "" })),
  kind("end", "Flow control", "End", [1, 1]),
  // channels
  kind("email", "Channels", "Email", [1, 1], () => ({ subject: "", html: "" })),
  kind("sms", "Channels", "SMS", [1, 1], () => ({ body: "" })),
  kind("push", "Channels", "Push", [1, 1], () => ({ title: "", body: "" })),
  kind("direct_mail", "Channels", "Direct mail", [1, 1], () => ({ format: "csv", columns: [] })),
];

export const PALETTE_GROUPS: readonly PaletteGroup[] = ["Targeting", "Flow control", "Channels"];

const BY_TYPE = new Map(ACTIVITY_KINDS.map((k) => [k.type, k]));

export function activityKind(type: string): ActivityKind | undefined {
  return BY_TYPE.get(type);
}

/** The readable name of a type; an unknown type reads as itself with spaces. */
export function typeName(type: string): string {
  return BY_TYPE.get(type)?.name ?? type.replace(/_/g, " ");
}

/** Whether an activity of this type takes inputs (unknown types are assumed to). */
export function takesInputs(type: string): boolean {
  const known = BY_TYPE.get(type);
  return known ? known.inputs[1] !== 0 : true;
}

export function kindsOf(group: PaletteGroup): ActivityKind[] {
  return ACTIVITY_KINDS.filter((k) => k.group === group);
}

/** `base_1`, `base_2`… : the first that is not taken. */
export function freshId(base: string, taken: ReadonlySet<string>): string {
  for (let n = 1; ; n++) {
    const id = `${base}_${n}`;
    if (!taken.has(id)) return id;
  }
}

export function takenIds(doc: CampaignDocument): Set<string> {
  return new Set((doc.activities ?? []).map((a) => a.id));
}

/** A new activity of this type, with an id not in `taken` (`email_1`, `email_2`…). */
export function newActivity(type: string, taken: ReadonlySet<string>): Activity {
  const defaults = BY_TYPE.get(type)?.defaults() ?? {};
  return { id: freshId(type, taken), type, ...defaults };
}
