// The calls the side-panel forms make (docs/api.md), on top of ../api's `request`.
// Errors come as ApiError with the server's own sentence; the forms show it.

import { useEffect, useRef, useState } from "react";
import { ApiError, get, post } from "../api";
import type { CampaignDocument } from "../canvas/convert";
import { BUNDLED_SCHEMA, type JsonSchema } from "./schema";

const enc = encodeURIComponent;

export interface TableInfo {
  name: string;
  key: string | null;
  target: boolean;
  columns: number;
  links: string[];
}
export interface TablesResponse {
  target: string | null;
  tables: TableInfo[];
}
export interface ColumnInfo {
  name: string;
  type: string;
}
export interface LinkInfo {
  name: string;
  table: string;
  cardinality: "one" | "many" | string;
}
export interface ColumnsResponse {
  table: string;
  columns: ColumnInfo[];
  links: LinkInfo[];
}
export interface ValueCount {
  value: unknown;
  count?: number;
}
export interface RuleCount {
  count: number;
  over_whole_dimension: boolean;
}
export interface RuleSql {
  sql: string;
  over_whole_dimension?: boolean;
  [key: string]: unknown;
}
export interface SchedulePreview {
  kind: string | null;
  timezone?: string;
  starts: string[];
}
/** GET /api/data/profiles: `profiles` (rows of the key and a few display columns). */
export interface ProfilesResponse {
  table?: string;
  key?: string;
  columns?: string[];
  profiles?: Record<string, unknown>[];
  /** the shape first announced */
  rows?: Record<string, unknown>[];
  [key: string]: unknown;
}
/** The rendered message: subject, html, text, body, title… whatever the channel has. */
export type RenderedMessage = Record<string, unknown>;
/** POST /api/campaigns/{name}/preview: the message and what live sending would do with it. */
export interface MessagePreview {
  run?: string;
  channel?: string;
  profile?: string;
  address?: string | null;
  /** the reason live sending would not send it */
  excluded?: string | null;
  deferred_until?: string | null;
  variant?: string | null;
  language?: string | null;
  message?: RenderedMessage;
  warnings?: string[];
  [key: string]: unknown;
}

export const formsApi = {
  schema: () => get<JsonSchema>("/api/schema/campaign"),
  tables: () => get<TablesResponse>("/api/data/tables"),
  columns: (table: string) => get<ColumnsResponse>(`/api/data/tables/${enc(table)}/columns`),
  values: (table: string, column: string, prefix = "", limit = 50, signal?: AbortSignal) =>
    get<{ values: ValueCount[] }>(
      `/api/data/tables/${enc(table)}/columns/${enc(column)}/values?limit=${limit}&prefix=${enc(prefix)}`,
      { signal },
    ),
  audiences: () => get<{ audiences: { name: string; rows?: number; dimension?: string }[] }>("/api/audiences"),
  filters: () =>
    get<{ filters: { name: string; description?: string | null; label?: string | null; error?: string | null }[] }>("/api/filters"),
  files: () => get<{ files: string[] }>("/api/content/files"),
  profiles: (q: string, limit = 20, table?: string | null, signal?: AbortSignal) =>
    get<ProfilesResponse>(`/api/data/profiles?q=${enc(q)}&limit=${limit}${table ? `&table=${enc(table)}` : ""}`, { signal }),
  count: (document: CampaignDocument, activity: string) => post<RuleCount>("/api/rules/count", { document, activity }),
  sql: (document: CampaignDocument, activity: string) => post<RuleSql>("/api/rules/sql", { document, activity }),
  schedulePreview: (schedule: unknown, timezone: string, count = 10, signal?: AbortSignal) =>
    post<SchedulePreview>("/api/schedules/preview", { schedule, timezone, count }, { signal }),
  /** `run`: a preview run of the same document, to read another profile's row from it */
  preview: (campaign: string, document: CampaignDocument, activity: string, profile: string, run?: string, signal?: AbortSignal) =>
    post<MessagePreview>(
      `/api/campaigns/${enc(campaign)}/preview`,
      run ? { document, activity, profile, run } : { document, activity, profile },
      { signal },
    ),
};

/** The message to show for a failed call: the server's sentence. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

// ---- cached reads: the catalog, audiences, filters, files and the schema change rarely ----

const cache = new Map<string, Promise<unknown>>();

/** One shared request per key; a failed one is forgotten so the next use asks again. */
export function cached<T>(key: string, load: () => Promise<T>): Promise<T> {
  let found = cache.get(key) as Promise<T> | undefined;
  if (!found) {
    found = load();
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}

export function clearCache(): void {
  cache.clear();
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

/** Load once per key (cached across the panels); `key` null loads nothing. */
export function useCached<T>(key: string | null, load: () => Promise<T>): Loaded<T> {
  const [state, setState] = useState<Loaded<T> & { key: string | null }>({
    data: null,
    error: null,
    loading: key !== null,
    key,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (key === null) {
      setState({ data: null, error: null, loading: false, key });
      return;
    }
    let live = true;
    setState((s) => ({ data: s.key === key ? s.data : null, error: null, loading: true, key }));
    cached(key, () => loadRef.current()).then(
      (data) => live && setState({ data, error: null, loading: false, key }),
      (e) => live && setState({ data: null, error: errorMessage(e), loading: false, key }),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return state.key === key ? state : { data: null, error: null, loading: key !== null };
}

export const useTables = () => useCached("tables", formsApi.tables);
export const useColumns = (table: string | null | undefined) =>
  useCached(table ? `columns:${table}` : null, () => formsApi.columns(table!));
export const useAudiences = () => useCached("audiences", formsApi.audiences);
export const useFilters = () => useCached("filters", formsApi.filters);
export const useFiles = () => useCached("files", formsApi.files);

/** The campaign schema: the server's (GET /api/schema/campaign) once it answers, the bundled one until then. */
export function useCampaignSchema(): JsonSchema {
  const { data } = useCached("schema", formsApi.schema);
  return data && typeof data === "object" && data.$defs && data.properties ? data : BUNDLED_SCHEMA;
}
