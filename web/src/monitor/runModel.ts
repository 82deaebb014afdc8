// Pure logic of the run monitor: counts on transitions, status labels and classes,
// what a waiting activity waits for, which run actions apply, the log and the tasks.
// No React here, so it is tested under Node.

import type { ActivityState, RunResource } from "../api";
import { formatCount, formatDateTime } from "../format";

/** The statuses of an activity run (spec §5), in the legend's order. */
export const ACTIVITY_STATUSES = ["running", "waiting", "failed", "done", "skipped", "pending"] as const;
export type ActivityStatus = (typeof ACTIVITY_STATUSES)[number];

/** Statuses after which a run never changes again. */
export const FINISHED_RUN_STATUSES = ["done", "failed", "stopped"] as const;

export function isFinished(status: string | null | undefined): boolean {
  return !!status && (FINISHED_RUN_STATUSES as readonly string[]).includes(status);
}

const LABELS: Record<string, string> = {
  pending: "Pending",
  running: "Running",
  waiting: "Waiting",
  paused: "Paused",
  done: "Done",
  failed: "Failed",
  skipped: "Skipped",
  stopped: "Stopped",
};

/** The words shown for a status (never colour alone). */
export function statusLabel(status: string | null | undefined): string {
  if (!status) return "Unknown";
  return LABELS[status] ?? status.charAt(0).toUpperCase() + status.slice(1);
}

/** The CSS class that colours a status: `status-done`…, `status-other` for unknown ones. */
export function statusClass(status: string | null | undefined): string {
  return status && status in LABELS ? `status-${status}` : "status-other";
}

/** The number of rows on `source.port`, or undefined while it is not known. */
export function portCount(
  run: Pick<RunResource, "activities"> | null | undefined,
  source: string,
  port: string,
): number | undefined {
  const ports = run?.activities?.[source]?.ports;
  if (!ports) return undefined;
  const value = ports[port];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export interface EdgeLike {
  id: string;
  source: string;
  sourceHandle?: string | null;
  target: string;
}

/** Per edge id, its count (undefined while unknown). */
export function edgeCounts(
  run: Pick<RunResource, "activities"> | null | undefined,
  edges: EdgeLike[],
): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  for (const edge of edges) out.set(edge.id, portCount(run, edge.source, edge.sourceHandle || "out"));
  return out;
}

/** What a count label shows: `1,234`, or `—` while unknown. */
export const countText = (count: number | undefined): string => formatCount(count);

/** The test hook of an edge's count label: `count-SOURCE.PORT->TARGET`. */
export function countTestId(edge: EdgeLike): string {
  return `count-${edge.source}.${edge.sourceHandle || "out"}->${edge.target}`;
}

/** The ref of a transition's source as the monitor names it: `SOURCE.PORT`. */
export const transitionName = (source: string, port: string) => `${source}.${port}`;

/** What a waiting activity waits for, in words (null when it does not wait). */
export function waitingText(state: ActivityState | null | undefined): string | null {
  if (!state || state.status !== "waiting") return null;
  const until = state.wake_at ? formatDateTime(state.wake_at) : null;
  switch (state.waiting_for) {
    case "confirmation":
      return "Waiting for an approver to confirm sending";
    case "breakpoint":
      return "Stopped at a breakpoint: continue to go on";
    case "timer":
      return until ? `Waiting until ${until}` : "Waiting for its timer";
    case "deferred":
      return until ? `Messages deferred (quiet hours) until ${until}` : "Messages deferred (quiet hours)";
    case "errors":
      return "Sending paused after too many errors: resume the run";
    case "interrupted":
      return "Interrupted: resumes with the run";
    case "suspended":
      return "Suspended after an error: resume the run to retry";
    default:
      return state.waiting_for ? `Waiting for ${state.waiting_for}` : "Waiting";
  }
}

/** The line under a node's status: the error when failed, what it waits for when waiting. */
export function detailText(state: ActivityState | null | undefined): string | null {
  if (!state) return null;
  if (state.status === "failed") return state.error ? String(state.error) : "Failed";
  if (state.status === "waiting") return waitingText(state);
  return null;
}

/** Profiles excluded at send time, added up over the reasons. */
export function totalExcluded(state: ActivityState | null | undefined): number | null {
  const excluded = state?.excluded;
  if (!excluded || typeof excluded !== "object") return null;
  let total = 0;
  for (const value of Object.values(excluded as Record<string, unknown>)) {
    if (typeof value === "number") total += value;
  }
  return total;
}

/** A key that changes when what a node shows changes (to keep unchanged nodes as they are). */
export function nodeStateKey(state: ActivityState | null | undefined): string {
  if (!state) return "";
  return JSON.stringify([state.status, state.error ?? null, state.waiting_for ?? null, state.wake_at ?? null, state.excluded ?? null]);
}

export interface RunActions {
  pause: boolean;
  resume: boolean;
  stop: boolean;
}

/** Waits a person ends by resuming the run (not by a task's own button). */
const RESUMABLE_WAITS = new Set(["errors", "interrupted", "suspended"]);

/**
 * The run buttons to show, by the run's status and the user's role (approver):
 * pause a run that goes on, resume one that is paused, failed or waits for a resume,
 * stop any that has not finished.
 */
export function runActions(run: Pick<RunResource, "status" | "activities"> | null, canApprove: boolean): RunActions {
  const none = { pause: false, resume: false, stop: false };
  if (!run || !canApprove) return none;
  const status = run.status;
  const waitsForResume = Object.values(run.activities ?? {}).some(
    (a) => a.status === "waiting" && RESUMABLE_WAITS.has(String(a.waiting_for ?? "")),
  );
  return {
    pause: status === "pending" || status === "running" || status === "waiting",
    resume: status === "paused" || status === "failed" || (status === "waiting" && waitsForResume),
    stop: !isFinished(status),
  };
}

export interface Task {
  run: string;
  activity: string;
  kind: string | null;
  wake_at: string | null;
  message: string | null;
}

export type TaskAction = { label: string; action: "confirm" | "continue"; role: "approver" | "manager" } | null;

/** The button of a task: confirm sending (approver), continue past a breakpoint (manager). */
export function taskAction(kind: string | null | undefined): TaskAction {
  if (kind === "confirmation") return { label: "Confirm sending", action: "confirm", role: "approver" };
  if (kind === "breakpoint") return { label: "Continue", action: "continue", role: "manager" };
  return null;
}

/** What a task waits for, in words, and the server's message when it says more. */
export function taskText(task: Task): { text: string; message: string | null } {
  const text = waitingText({ status: "waiting", waiting_for: task.kind, wake_at: task.wake_at }) ?? "Waiting";
  // a timer's or a deferral's message only repeats its wake-up time
  const timed = task.kind === "timer" || task.kind === "deferred";
  return { text, message: !timed && task.message ? task.message : null };
}

/** A key of the waiting activities, so the tasks are fetched again only when it changes. */
export function waitingKey(run: RunResource | null | undefined): string {
  if (!run) return "";
  return Object.entries(run.activities ?? {})
    .filter(([, a]) => a.status === "waiting")
    .map(([id, a]) => `${id}:${a.waiting_for ?? ""}`)
    .join(",");
}

export interface LogEntry {
  id: number;
  at?: string;
  level?: string;
  message?: string;
  activity_id?: string | null;
  [key: string]: unknown;
}

/** The log with new entries added: by id, no duplicates, oldest first. */
export function mergeLog(current: LogEntry[], incoming: LogEntry[]): LogEntry[] {
  if (incoming.length === 0) return current;
  const seen = new Set(current.map((e) => e.id));
  const fresh = incoming.filter((e) => !seen.has(e.id));
  if (fresh.length === 0) return current;
  return [...current, ...fresh].sort((a, b) => a.id - b.id);
}

/** The `after` of the next log request. */
export function lastLogId(log: LogEntry[]): number {
  return log.reduce((max, e) => (e.id > max ? e.id : max), 0);
}

/** The path of a page of rows on a transition. */
export function rowsPath(run: string, activity: string, port: string, offset: number, limit: number): string {
  const e = encodeURIComponent;
  return `/api/runs/${e(run)}/activities/${e(activity)}/ports/${e(port)}/rows?offset=${offset}&limit=${limit}`;
}

/** `rows 51–100 of 1,234` for a page. */
export function pageText(offset: number, shown: number, total: number | null | undefined): string {
  if (shown === 0) return total ? `no rows from ${formatCount(offset + 1)} (of ${formatCount(total)})` : "no rows";
  const range = `rows ${formatCount(offset + 1)}–${formatCount(offset + shown)}`;
  return total === null || total === undefined ? range : `${range} of ${formatCount(total)}`;
}

/** A cell of the rows preview as text. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
