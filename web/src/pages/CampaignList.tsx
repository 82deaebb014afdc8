import { useCallback, useEffect, useState, type FormEvent } from "react";
import { allows, ApiError, campaigns, type CampaignSummary } from "../api";
import { href, navigate } from "../router";
import { useSession } from "../session";

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : "—");

/** Every campaign with its status, last and next execution and warnings; create,
 * duplicate, archive. */
export function CampaignList() {
  const { user } = useSession();
  const [rows, setRows] = useState<CampaignSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [newName, setNewName] = useState("");
  const [showArchived, setShowArchived] = useState(false);

  const load = useCallback(() => {
    campaigns
      .list()
      .then((r) => setRows(r.campaigns))
      .catch((e: unknown) => setError(e instanceof ApiError ? e.message : String(e)));
  }, []);
  useEffect(load, [load]);

  async function attempt(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
      load();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }

  async function create(event: FormEvent) {
    event.preventDefault();
    const name = newName.trim();
    // An empty canvas: the server keeps an invalid draft and lists its problems.
    await attempt(async () => {
      await campaigns.create({ name, activities: [] });
      navigate({ page: "editor", name });
    });
  }

  function duplicate(name: string) {
    const copy = window.prompt(`Name of the copy of ${name}`, `${name}-copy`);
    if (copy) void attempt(() => campaigns.duplicate(name, copy.trim()));
  }

  function archive(name: string) {
    if (window.confirm(`Archive ${name}? It leaves the list and can no longer be edited.`)) {
      void attempt(() => campaigns.act(name, "archive"));
    }
  }

  const canEdit = allows(user, "manager");
  const shown = (rows ?? []).filter((c) => showArchived || c.status !== "archived");
  return (
    <main className="page">
      <h1>Campaigns</h1>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {canEdit && (
        <form className="toolbar" onSubmit={create} aria-label="Create a campaign">
          <label htmlFor="new-campaign-name">New campaign name</label>
          <input
            id="new-campaign-name"
            required
            pattern="[a-z0-9][a-z0-9_\-]*"
            title="lower-case letters, digits, - and _"
            placeholder="spring-sale"
            value={newName}
            onChange={(e) => setNewName(e.target.value)}
          />
          <button type="submit" className="primary">
            Create
          </button>
        </form>
      )}
      <label className="inline">
        <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} /> Show
        archived
      </label>
      {rows === null && !error && <p>Loading…</p>}
      {rows !== null && shown.length === 0 && <p>No campaigns yet.</p>}
      {shown.length > 0 && (
        <table className="grid" aria-label="Campaigns">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Version</th>
              <th scope="col">Last execution</th>
              <th scope="col">Next execution</th>
              <th scope="col">Warnings</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.name} data-campaign={c.name}>
                <td>
                  <a href={href({ page: "editor", name: c.name })}>{c.label || c.name}</a>
                  {c.label && <div className="muted">{c.name}</div>}
                </td>
                <td>
                  <span className={`status status-${c.status}`}>{c.status}</span>
                </td>
                <td>{c.latest_version ?? "—"}</td>
                <td>
                  {c.last_run ? (
                    <a href={href({ page: "run", id: c.last_run.id })}>
                      {when(c.last_run.started_at ?? c.last_slot)} ({c.last_run.mode}, {c.last_run.status})
                    </a>
                  ) : (
                    when(c.last_slot)
                  )}
                </td>
                <td>{when(c.next_start)}</td>
                <td>
                  {(c.problem_count ?? 0) > 0 && <span className="warning">{c.problem_count} problem(s) in the draft</span>}
                  {c.consecutive_errors > 0 && <span className="warning">{c.consecutive_errors} failed run(s) in a row</span>}
                </td>
                <td className="actions">
                  <a href={href({ page: "report", name: c.name })}>Report</a>
                  {canEdit && (
                    <button type="button" onClick={() => duplicate(c.name)} aria-label={`Duplicate ${c.name}`}>
                      Duplicate
                    </button>
                  )}
                  {allows(user, "approver") && c.status !== "archived" && (
                    <button type="button" onClick={() => archive(c.name)} aria-label={`Archive ${c.name}`}>
                      Archive
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
