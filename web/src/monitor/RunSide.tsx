// The side area of the run monitor: the run's header and buttons, its tasks, its log.
import { memo, useEffect, useLayoutEffect, useRef, useState } from "react";
import { allows, ApiError, type RunResource, type User } from "../api";
import { formatDateTime, formatTime } from "../format";
import { href } from "../router";
import { runsApi, type RunAction } from "./runApi";
import { lastLogId, mergeLog, runActions, statusClass, statusLabel, taskAction, taskText, type LogEntry, type Task } from "./runModel";

const message = (e: unknown) => (e instanceof ApiError ? e.message : String(e));

export interface RunHeaderProps {
  run: RunResource;
  user: User | null;
  busy: boolean;
  onAction: (action: RunAction) => void;
}

export const RunHeader = memo(function RunHeader({ run, user, busy, onAction }: RunHeaderProps) {
  const actions = runActions(run, allows(user, "approver"));
  const text = (key: string) => {
    const value = run[key];
    return value === null || value === undefined || value === "" ? "—" : String(value);
  };
  return (
    <section className="run-header" aria-label="Run">
      <h1>
        Run <code>{run.run}</code>
      </h1>
      <dl className="run-facts">
        <dt>Campaign</dt>
        <dd>
          <a href={href({ page: "editor", name: run.campaign })}>{run.campaign}</a>
        </dd>
        <dt>Mode</dt>
        <dd>
          <span className={`mode-badge mode-${run.mode}`} data-testid="run-mode">
            {run.mode === "live" ? "LIVE" : "TEST"}
          </span>
        </dd>
        <dt>Status</dt>
        <dd>
          <span
            className={`status ${statusClass(run.status)}`}
            data-testid="run-status"
            data-status={run.status}
            title={statusLabel(run.status)}
            aria-live="polite"
          >
            {run.status}
          </span>
        </dd>
        <dt>Clock</dt>
        <dd>{formatDateTime(run.clock as string | undefined)}</dd>
        <dt>Started by</dt>
        <dd>{text("started_by")}</dd>
        <dt>Trigger</dt>
        <dd>{text("trigger")}</dd>
        <dt>Version</dt>
        <dd>{text("version")}</dd>
        <dt>Created</dt>
        <dd>{formatDateTime(run.created_at as string | undefined)}</dd>
        <dt>Finished</dt>
        <dd>{formatDateTime(run.finished_at as string | undefined)}</dd>
      </dl>
      {typeof run.error === "string" && run.error && (
        <p className={run.status === "failed" ? "error run-error" : "muted run-error"}>{run.error}</p>
      )}
      {(actions.pause || actions.resume || actions.stop) && (
        <div className="toolbar" role="group" aria-label="Run actions">
          {actions.pause && (
            <button type="button" disabled={busy} onClick={() => onAction("pause")}>
              Pause
            </button>
          )}
          {actions.resume && (
            <button type="button" className="primary" disabled={busy} onClick={() => onAction("resume")}>
              Resume
            </button>
          )}
          {actions.stop && (
            <button type="button" className="danger" disabled={busy} onClick={() => onAction("stop")}>
              Stop
            </button>
          )}
        </div>
      )}
      <p>
        <a href={href({ page: "report", name: run.campaign })}>Report of {run.campaign}</a>
      </p>
    </section>
  );
});

export interface RunTasksProps {
  runId: string;
  /** changes when the waiting activities change: the tasks are fetched again */
  waitingKey: string;
  user: User | null;
  busy: boolean;
  onTask: (task: Task, action: "confirm" | "continue") => void;
}

export const RunTasks = memo(function RunTasks({ runId, waitingKey, user, busy, onTask }: RunTasksProps) {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    runsApi
      .tasks(runId)
      .then((r) => {
        if (cancelled) return;
        setTasks(r.tasks);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!cancelled) setError(message(e));
      });
    return () => {
      cancelled = true;
    };
  }, [runId, waitingKey]);

  return (
    <section className="run-tasks" aria-label="Tasks">
      <h2>Tasks</h2>
      {error && <p className="error">{error}</p>}
      {tasks !== null && tasks.length === 0 && <p className="muted">Nothing waits for anyone.</p>}
      {tasks !== null && tasks.length > 0 && (
        <ul>
          {tasks.map((task) => {
            const action = taskAction(task.kind);
            return (
              <li key={`${task.activity}:${task.kind}`} data-activity={task.activity} data-kind={task.kind ?? ""}>
                <div>
                  <strong>{task.activity}</strong> <span className="muted">{task.kind ?? "waiting"}</span>
                </div>
                <div>{taskText(task).text}</div>
                {taskText(task).message && <div className="muted">{taskText(task).message}</div>}
                {action && allows(user, action.role) && (
                  <button
                    type="button"
                    className="primary"
                    disabled={busy}
                    aria-label={`${action.label}: ${task.activity}`}
                    onClick={() => onTask(task, action.action)}
                  >
                    {action.label}
                  </button>
                )}
                {action && !allows(user, action.role) && (
                  <div className="muted">
                    {action.role === "approver" ? "An approver confirms it." : "A manager continues it."}
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
});

const LOG_EVERY_MS = 2000;

/** The run's log, fetched with `after` every 2 s while the run is active. */
export const RunLog = memo(function RunLog({ runId, active }: { runId: string; active: boolean }) {
  const [log, setLog] = useState<LogEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const after = useRef(0);
  const box = useRef<HTMLOListElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const { log: fresh } = await runsApi.log(runId, after.current);
        if (stopped) return;
        after.current = Math.max(after.current, lastLogId(fresh));
        setLog((current) => mergeLog(current, fresh));
        setError(null);
      } catch (e) {
        if (stopped) return;
        setError(message(e));
      }
      if (!stopped && active) timer = setTimeout(tick, LOG_EVERY_MS);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [runId, active]);

  // Follow the end of the log unless the reader scrolled up.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [log]);

  return (
    <section className="run-log" aria-label="Run log">
      <h2>Log</h2>
      {error && <p className="error">{error}</p>}
      {log.length === 0 && !error && <p className="muted">Nothing logged yet.</p>}
      {log.length > 0 && (
        <ol
          ref={box}
          onScroll={(e) => {
            const el = e.currentTarget;
            stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          }}
        >
          {log.map((entry) => (
            <li key={entry.id} className={`log-${entry.level ?? "info"}`} data-level={entry.level ?? "info"}>
              <time dateTime={entry.at}>{formatTime(entry.at)}</time>{" "}
              {entry.level && entry.level !== "info" && <span className="log-level">{entry.level}</span>}{" "}
              {entry.activity_id && <code>{entry.activity_id}</code>} {entry.message}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
});
