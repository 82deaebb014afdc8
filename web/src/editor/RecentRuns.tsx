// The campaign's recent runs, each a link to its monitor.
import { href } from "../router";

export interface RunSummary {
  id: string;
  status: string;
  mode: string;
  created_at?: string | null;
  started_at?: string | null;
}

export function RecentRuns({ runs }: { runs: RunSummary[] | null }) {
  if (!runs) return null;
  return (
    <details className="ov-runs">
      <summary>Recent runs ({runs.length})</summary>
      {runs.length === 0 ? (
        <p className="muted">No run yet.</p>
      ) : (
        <ul aria-label="Recent runs">
          {runs.map((run) => {
            const when = run.started_at ?? run.created_at;
            return (
              <li key={run.id}>
                <a href={href({ page: "run", id: run.id })}>
                  {run.mode} run {run.id}
                </a>{" "}
                <span className={`status status-${run.status}`}>{run.status}</span>{" "}
                {when && <span className="muted">{new Date(when).toLocaleString()}</span>}
              </li>
            );
          })}
        </ul>
      )}
    </details>
  );
}
