// The schedule mapping of spec §7, as src/overture/schedules/parse.py reads it:
// exactly one kind (once, daily, hourly, weekly, monthly, cron, signal) plus the
// optional validity window `start` and `end` (local dates).

import { parseNumberish, renameKey } from "./paths";

export const KINDS = ["once", "daily", "hourly", "weekly", "monthly", "cron", "signal"] as const;
export type ScheduleKind = (typeof KINDS)[number];
export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export const KIND_LABELS: Record<ScheduleKind, string> = {
  once: "Once",
  daily: "Daily",
  hourly: "Hourly",
  weekly: "Weekly",
  monthly: "Monthly",
  cron: "Cron expression",
  signal: "On a signal (through the API)",
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The kind a schedule holds (the first one, as the server lists them), or null. */
export function scheduleKind(schedule: unknown): ScheduleKind | null {
  if (!isObj(schedule)) return null;
  return (KINDS as readonly string[]).find((k) => k in schedule) as ScheduleKind | undefined ?? null;
}

/** What a kind starts with when chosen: the smallest valid setting. */
export function initialKindValue(kind: ScheduleKind): unknown {
  switch (kind) {
    case "once":
      return "";
    case "daily":
      return { at: "09:00" };
    case "hourly":
      return { every: "1h" };
    case "weekly":
      return { days: ["mon"], at: "09:00" };
    case "monthly":
      return { day: 1, at: "09:00" };
    case "cron":
      return "0 9 * * *";
    case "signal":
      return {};
  }
}

/**
 * The schedule with another kind: the new kind takes the old one's place; `start`,
 * `end` and unknown keys stay. `null` (started by hand) removes the schedule.
 */
export function switchKind(schedule: unknown, kind: ScheduleKind | null): Obj | undefined {
  if (kind === null) return undefined;
  const current = isObj(schedule) ? schedule : {};
  const old = scheduleKind(current);
  if (old === kind) return current;
  if (old) {
    const out = renameKey(current, old, kind, initialKindValue(kind));
    // a second kind (an invalid document) goes too: one kind per schedule
    return Object.fromEntries(Object.entries(out).filter(([k]) => k === kind || !(KINDS as readonly string[]).includes(k)));
  }
  return { [kind]: initialKindValue(kind), ...current };
}

/** `9, 13, 17` → [9, 13, 17]; what is not a whole number stays as typed (the server says why). */
export function parseIntegers(text: string): unknown[] {
  return text
    .split(/[\s,;]+/)
    .filter((t) => t !== "")
    .map((t) => parseNumberish(t, true));
}

export function formatList(value: unknown): string {
  return Array.isArray(value) ? value.join(", ") : value === undefined || value === null ? "" : String(value);
}

/** Days in the week's order (mon … sun), whatever order they were clicked in. */
export function toggleDay(days: unknown, day: string, on: boolean): string[] {
  const list = Array.isArray(days) ? days.map(String) : [];
  const set = new Set(on ? [...list, day] : list.filter((d) => d !== day));
  const known = DAYS.filter((d) => set.has(d));
  const others = [...set].filter((d) => !(DAYS as readonly string[]).includes(d));
  return [...known, ...others];
}

/** Month numbers, sorted. */
export function toggleMonth(months: unknown, month: number, on: boolean): unknown[] {
  const list = Array.isArray(months) ? months : [];
  const set = new Set(on ? [...list, month] : list.filter((m) => m !== month));
  return [...set].sort((a, b) => Number(a) - Number(b));
}

/** A datetime-local input's value for a `once:` text (`2027-03-01 09:00` → `2027-03-01T09:00`). */
export function toLocalInput(value: unknown): string {
  if (typeof value !== "string") return "";
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)$/.exec(value.trim());
  return m ? `${m[1]}T${m[2]}` : "";
}

/** Whether an hourly schedule is written with `hours` (else with `every`/`between`). */
export function hourlyByHours(value: unknown): boolean {
  return isObj(value) && ("hours" in value || "minute" in value);
}
