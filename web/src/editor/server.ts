// The editor's calls to the API, on top of `request`: the draft with its ETag, a
// frozen version, and saving with If-Match (a 412 answer means someone else saved).
import { request, type CampaignDetail } from "../api";
import type { CampaignDocument } from "../canvas/convert";

const enc = encodeURIComponent;

async function withEtag<T>(
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<{ body: T; etag: string | null }> {
  return readWithEtag<T>(await request<Response>(method, path, body, { raw: true, headers }));
}

async function readWithEtag<T>(response: Response): Promise<{ body: T; etag: string | null }> {
  const etag = response.headers.get("ETag");
  const payload = response.status === 204 ? undefined : await response.json();
  return { body: payload as T, etag };
}

export const getCampaign = (name: string) => withEtag<CampaignDetail>("GET", `/api/campaigns/${enc(name)}`);

/**
 * The campaign as the page's first load asked for it (./prefetch), when that answer
 * is there and succeeded; else asked again, so errors and 401s go the usual way.
 */
export async function getCampaignFirst(
  name: string,
  prefetched: Promise<Response | null> | null,
): Promise<{ body: CampaignDetail; etag: string | null }> {
  const response = prefetched ? await prefetched : null;
  if (response?.ok) {
    try {
      return await readWithEtag<CampaignDetail>(response);
    } catch {
      /* unreadable: ask again */
    }
  }
  return getCampaign(name);
}

export async function getVersion(name: string, number: number): Promise<CampaignDocument> {
  const version = await request<{ document: CampaignDocument }>("GET", `/api/campaigns/${enc(name)}/versions/${number}`);
  return version.document;
}

/** PUT the draft; `etag`, when the server gave one, guards against overwriting another save. */
export const putDraft = (name: string, document: CampaignDocument, etag: string | null) =>
  withEtag<CampaignDetail>("PUT", `/api/campaigns/${enc(name)}/draft`, { document }, etag ? { "If-Match": etag } : undefined);

/** publish, pause, resume, stop… : the campaign afterwards, and its ETag if the server sent one. */
export const campaignAction = (name: string, action: string) =>
  withEtag<CampaignDetail>("POST", `/api/campaigns/${enc(name)}/${enc(action)}`, {});
