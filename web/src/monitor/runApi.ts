// The run monitor's calls to the API (docs/api.md, src/overture/server/routes_runs.py).
import { get, post, type RunResource } from "../api";
import { rowsPath, type LogEntry, type Task } from "./runModel";

const enc = encodeURIComponent;

export interface RowsPage {
  total: number | null;
  offset: number;
  limit: number;
  columns: string[];
  rows: Record<string, unknown>[];
}

export type RunAction = "pause" | "resume" | "stop";

export const runsApi = {
  get: (id: string) => get<RunResource>(`/api/runs/${enc(id)}`),
  /** the server-sent events of the run (`event: run`) */
  eventsUrl: (id: string) => `/api/runs/${enc(id)}/events`,
  log: (id: string, after: number) => get<{ log: LogEntry[] }>(`/api/runs/${enc(id)}/log?after=${after}`),
  tasks: (id: string) => get<{ tasks: Task[] }>(`/api/runs/${enc(id)}/tasks`),
  rows: (id: string, activity: string, port: string, offset: number, limit: number) =>
    get<RowsPage>(rowsPath(id, activity, port, offset, limit)),
  act: (id: string, action: RunAction) => post<RunResource>(`/api/runs/${enc(id)}/${action}`),
  confirm: (id: string, activity: string) =>
    post<RunResource>(`/api/runs/${enc(id)}/activities/${enc(activity)}/confirm`),
  continue: (id: string, activity: string) =>
    post<RunResource>(`/api/runs/${enc(id)}/activities/${enc(activity)}/continue`),
};
