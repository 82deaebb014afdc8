// The editor's toolbar: save state, undo/redo, layout, YAML, test run, publish and
// the campaign's lifecycle actions, with links to its report and recent runs.
import type { ChangeEvent } from "react";
import type { CampaignStatus } from "../api";
import { href } from "../router";
import { RecentRuns, type RunSummary } from "./RecentRuns";

export interface ToolbarProps {
  name: string;
  title: string;
  status: CampaignStatus | null;
  dirty: boolean;
  saving: boolean;
  busy: boolean;
  readOnly: boolean;
  canUndo: boolean;
  canRedo: boolean;
  /** a manager may test; an approver may publish and pause/resume/stop */
  mayTest: boolean;
  mayApprove: boolean;
  runs: RunSummary[] | null;
  onSave: () => void;
  onUndo: () => void;
  onRedo: () => void;
  onTidy: () => void;
  onImport: (file: File) => void;
  onExport: () => void;
  onTestRun: () => void;
  onPublish: () => void;
  onAction: (action: "pause" | "resume" | "stop") => void;
}

const ACTIONS: { action: "pause" | "resume" | "stop"; label: string; from: CampaignStatus[] }[] = [
  { action: "pause", label: "Pause", from: ["scheduled", "live"] },
  { action: "resume", label: "Resume", from: ["paused"] },
  { action: "stop", label: "Stop", from: ["scheduled", "live", "paused", "closed"] },
];

export function Toolbar(props: ToolbarProps) {
  const { name, title, status, dirty, saving, busy, readOnly } = props;
  const onFile = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = ""; // the same file may be chosen again
    if (file) props.onImport(file);
  };
  const saveState = readOnly ? "Read-only" : saving ? "Saving…" : dirty ? "Unsaved changes" : "All changes saved";
  return (
    <header className="ov-toolbar">
      <h1>
        {title} {status && <span className={`status status-${status}`}>{status}</span>}
      </h1>
      <span className={dirty && !readOnly ? "ov-save-state is-dirty" : "ov-save-state"} role="status">
        {saveState}
      </span>
      {!readOnly && (
        <div className="ov-tools" role="group" aria-label="Edit">
          <button type="button" className="primary" onClick={props.onSave} disabled={saving} title="Save (Ctrl+S)">
            Save
          </button>
          <button type="button" onClick={props.onUndo} disabled={!props.canUndo} title="Undo (Ctrl+Z)">
            Undo
          </button>
          <button type="button" onClick={props.onRedo} disabled={!props.canRedo} title="Redo (Ctrl+Shift+Z)">
            Redo
          </button>
          <button type="button" onClick={props.onTidy} title="Lay the activities out left to right">
            Tidy up
          </button>
          <label className="ov-file-button">
            Import YAML
            <input type="file" className="sr-only" accept=".yaml,.yml,.json,application/yaml,application/json" onChange={onFile} />
          </label>
        </div>
      )}
      <div className="ov-tools" role="group" aria-label="Campaign">
        <button type="button" onClick={props.onExport}>
          Export YAML
        </button>
        {props.mayTest && !readOnly && (
          <button type="button" onClick={props.onTestRun} disabled={busy || saving}>
            Test run
          </button>
        )}
        {props.mayApprove && !readOnly && (
          <button type="button" onClick={props.onPublish} disabled={busy || saving}>
            Publish
          </button>
        )}
        {props.mayApprove &&
          ACTIONS.filter((a) => status && a.from.includes(status)).map((a) => (
            <button
              type="button"
              key={a.action}
              className={a.action === "stop" ? "danger" : undefined}
              onClick={() => props.onAction(a.action)}
              disabled={busy}
            >
              {a.label}
            </button>
          ))}
        <a href={href({ page: "report", name })}>Report</a>
        <RecentRuns runs={props.runs} />
      </div>
    </header>
  );
}
