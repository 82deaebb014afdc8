// The one place the web app talks to the server's REST API (docs/api.md).
//
// Every call goes through `request`, which sends the session cookie, reads JSON, and
// turns the API's error envelope `{"error": {"code", "message"}}` into an `ApiError`
// whose message is the server's own sentence, ready to show to the user.
// Feature folders (editor, monitor, reports) add their own typed calls on top of
// `request` in their own modules; the shared shapes live here.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Called when a request answers 401, so the app can show the login page. */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  /** extra headers (`If-Match`…) */
  headers?: Record<string, string>;
  /** return the raw Response instead of its JSON (CSV downloads, ETags) */
  raw?: boolean;
  signal?: AbortSignal;
}

export async function request<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "unreachable", "The Overture server cannot be reached. Is `overture serve` running?");
  }
  if (!response.ok) {
    let code = "error";
    let message = `${method} ${path}: ${response.status} ${response.statusText}`;
    let extra: Record<string, unknown> = {};
    try {
      const payload = await response.json();
      if (payload?.error) {
        ({ code = code, message = message, ...extra } = payload.error);
      } else if (payload?.detail) {
        message = typeof payload.detail === "string" ? payload.detail : JSON.stringify(payload.detail);
      }
    } catch {
      /* not JSON: keep the status line */
    }
    if (response.status === 401 && onUnauthorized && !path.endsWith("/auth/login")) onUnauthorized();
    throw new ApiError(response.status, code, message, extra);
  }
  if (options.raw) return response as unknown as T;
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string, options?: RequestOptions) => request<T>("GET", path, undefined, options);
export const post = <T>(path: string, body: unknown = {}, options?: RequestOptions) =>
  request<T>("POST", path, body, options);
export const put = <T>(path: string, body: unknown, options?: RequestOptions) =>
  request<T>("PUT", path, body, options);
export const del = <T>(path: string, options?: RequestOptions) => request<T>("DELETE", path, undefined, options);

const enc = encodeURIComponent;

// ---- shapes ----

export type Role = "viewer" | "manager" | "approver" | "admin";

export interface User {
  id: number;
  username: string;
  role: Role;
}

export type CampaignStatus =
  | "draft"
  | "scheduled"
  | "live"
  | "paused"
  | "stopped"
  | "closed"
  | "completed"
  | "failed"
  | "archived";

export interface Problem {
  activity: string | null;
  path: string;
  message: string;
}

/** One row of the campaign list. */
export interface CampaignSummary {
  name: string;
  status: CampaignStatus;
  latest_version: number | null;
  created_at: string;
  created_by: string;
  updated_at: string;
  updated_by: string;
  last_slot: string | null;
  next_start: string | null;
  consecutive_errors: number;
  draft?: Record<string, unknown> | null;
  /** the latest run, when the server adds it */
  last_run?: { id: string; status: string; mode: string; started_at: string | null; finished_at: string | null } | null;
  /** number of problems in the draft, when the server adds it */
  problem_count?: number;
  label?: string | null;
}

export interface CampaignDetail extends CampaignSummary {
  draft: Record<string, unknown> | null;
  versions: { number: number; published_at: string; published_by: string }[];
  problems: Problem[];
  published?: number;
}

export interface ActivityState {
  status: string;
  ports?: Record<string, number>;
  error?: string | null;
  waiting_for?: string | null;
  wake_at?: string | null;
  [key: string]: unknown;
}

/** A run as GET /api/runs/{id} and its event stream give it. */
export interface RunResource {
  run: string;
  id?: string;
  campaign: string;
  mode: "test" | "live";
  status: string;
  activities: Record<string, ActivityState>;
  document: Record<string, unknown>;
  [key: string]: unknown;
}

// ---- calls shared by several pages ----

export const auth = {
  login: (username: string, password: string) => post<{ user: User }>("/api/auth/login", { username, password }),
  logout: () => post<{ ok: boolean }>("/api/auth/logout"),
  me: () => get<{ user: User }>("/api/me"),
};

export const campaigns = {
  list: () => get<{ campaigns: CampaignSummary[] }>("/api/campaigns"),
  get: (name: string) => get<CampaignDetail>(`/api/campaigns/${enc(name)}`),
  create: (document: Record<string, unknown>) => post<CampaignDetail>("/api/campaigns", { document }),
  updateDraft: (name: string, document: Record<string, unknown>) =>
    put<CampaignDetail>(`/api/campaigns/${enc(name)}/draft`, { document }),
  duplicate: (name: string, newName: string) =>
    post<CampaignDetail>(`/api/campaigns/${enc(name)}/duplicate`, { name: newName }),
  remove: (name: string) => del<void>(`/api/campaigns/${enc(name)}`),
  validate: (name: string) => post<{ valid: boolean; problems: Problem[] }>(`/api/campaigns/${enc(name)}/validate`),
  publish: (name: string) => post<CampaignDetail>(`/api/campaigns/${enc(name)}/publish`),
  /** pause, resume, stop, close, archive */
  act: (name: string, action: string) => post<CampaignDetail>(`/api/campaigns/${enc(name)}/${enc(action)}`),
  testRun: (name: string, variables: Record<string, unknown> = {}) =>
    post<{ run: string }>(`/api/campaigns/${enc(name)}/test-runs`, { variables }),
  runs: (name: string, limit = 20) =>
    get<{ runs: { id: string; status: string; mode: string; created_at: string }[] }>(
      `/api/runs?campaign=${enc(name)}&limit=${limit}`,
    ),
};

/** The role order of the server: a user may do what their role or a lower one may. */
const ROLE_RANK: Record<Role, number> = { viewer: 0, manager: 1, approver: 2, admin: 3 };
export function allows(user: User | null, role: Role): boolean {
  return !!user && ROLE_RANK[user.role] >= ROLE_RANK[role];
}
