// The campaign's JSON asked for as the page starts: opening `#/campaigns/NAME` asks
// for it while the app's code loads and GET /api/me is answered, rather than after
// both. The editor's first load takes the answer, once; anything else (another page,
// a later editor, a failed or unauthorized answer) asks the server as usual.
import { parseRoute } from "../router";

let pending: { name: string; response: Promise<Response | null> } | null = null;

/** Start fetching the campaign the location's hash opens, if it opens an editor. */
export function prefetchCampaign(hash: string = window.location.hash): void {
  const route = parseRoute(hash);
  if (route.page !== "editor") return;
  const response = fetch(`/api/campaigns/${encodeURIComponent(route.name)}`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  }).catch(() => null);
  pending = { name: route.name, response };
  // only for the page the app was opened on: leaving it forgets the answer
  const forget = () => {
    const now = parseRoute(window.location.hash);
    if (now.page === "editor" && now.name === route.name) return;
    pending = null;
    window.removeEventListener("hashchange", forget);
  };
  window.addEventListener("hashchange", forget);
}

/** The prefetched answer for `name`, once; null when none was asked for. */
export function takePrefetched(name: string): Promise<Response | null> | null {
  if (!pending || pending.name !== name) return null;
  const { response } = pending;
  pending = null;
  return response;
}
