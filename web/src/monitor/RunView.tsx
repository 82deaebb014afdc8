// The run monitor (#/runs/ID): the run's campaign with live counts on every
// transition, its header, tasks and log, and a preview of the rows on a transition.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, type RunResource } from "../api";
import type { CampaignDocument } from "../canvas/convert";
import { useSession } from "../session";
import { runsApi, type RunAction } from "./runApi";
import { RunCanvas, type Transition } from "./RunCanvas";
import { isFinished, transitionName, waitingKey, type Task } from "./runModel";
import { RowsPreview } from "./RowsPreview";
import { RunHeader, RunLog, RunTasks } from "./RunSide";

const POLL_EVERY_MS = 2000;

const message = (e: unknown) => (e instanceof ApiError ? e.message : String(e));

/**
 * The run, live: the event stream while the run is active (one `run` event per
 * change), or polling every 2 s when the stream fails. Stops once the run finishes;
 * starts again when it becomes active (a resumed run).
 */
function useLiveRun(id: string, live: boolean, onRun: (run: RunResource) => void, onError: (e: string | null) => void) {
  useEffect(() => {
    if (!live) return;
    let closed = false;
    let last = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    let source: EventSource | null = null;

    const accept = (text: string) => {
      if (text === last) return null;
      last = text;
      const run = JSON.parse(text) as RunResource;
      onRun(run);
      onError(null);
      return run;
    };

    const poll = async () => {
      try {
        const run = await runsApi.get(id);
        if (closed) return;
        accept(JSON.stringify(run));
        if (isFinished(run.status)) return;
      } catch (e) {
        if (closed) return;
        onError(message(e));
        // a run that does not exist (or a user who may not see it) will not appear
        if (e instanceof ApiError && e.status >= 400 && e.status < 500) return;
      }
      timer = setTimeout(poll, POLL_EVERY_MS);
    };

    if (typeof EventSource === "undefined") {
      void poll();
    } else {
      let finished = false;
      source = new EventSource(runsApi.eventsUrl(id), { withCredentials: true });
      source.addEventListener("run", (event) => {
        const run = accept((event as MessageEvent<string>).data);
        if (run && isFinished(run.status)) {
          finished = true;
          source?.close();
        }
      });
      source.onerror = () => {
        // The stream ended or broke: do not let EventSource retry, poll instead.
        source?.close();
        source = null;
        if (!closed && !finished) void poll();
      };
    }
    return () => {
      closed = true;
      source?.close();
      clearTimeout(timer);
    };
  }, [id, live, onRun, onError]);
}

export function RunView({ id }: { id: string }) {
  const { user } = useSession();
  const [run, setRun] = useState<RunResource | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [transition, setTransition] = useState<Transition | null>(null);

  const live = run === null || !isFinished(run.status);
  useLiveRun(id, live, setRun, setLoadError);

  // Keep the document object stable while its content is: the canvas compares text,
  // but this spares it a stringify of an unchanged object.
  const documentRef = useRef<{ text: string; doc: CampaignDocument } | null>(null);
  let doc: CampaignDocument | null = null;
  if (run) {
    const text = JSON.stringify(run.document ?? {});
    if (documentRef.current?.text !== text) documentRef.current = { text, doc: run.document as CampaignDocument };
    doc = documentRef.current.doc;
  }

  const act = useCallback(async (call: () => Promise<RunResource>) => {
    setBusy(true);
    setActionError(null);
    try {
      setRun(await call());
    } catch (e) {
      setActionError(message(e));
    } finally {
      setBusy(false);
    }
  }, []);

  const onAction = useCallback((action: RunAction) => void act(() => runsApi.act(id, action)), [act, id]);
  const onTask = useCallback(
    (task: Task, action: "confirm" | "continue") =>
      void act(() => (action === "confirm" ? runsApi.confirm(id, task.activity) : runsApi.continue(id, task.activity))),
    [act, id],
  );
  // Closing the rows gives the focus back to what opened them (a count on the canvas),
  // so that a keyboard user goes on from there rather than from the top of the page.
  const opener = useRef<HTMLElement | null>(null);
  const onOpenRows = useCallback((t: Transition) => {
    opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setTransition(t);
  }, []);
  const closeRows = useCallback(() => {
    setTransition(null);
    const back = opener.current;
    opener.current = null;
    if (back?.isConnected) back.focus();
  }, []);

  const title = run ? `Run ${run.run} of ${run.campaign}` : `Run ${id}`;
  useEffect(() => {
    document.title = `${title} · Overture`;
  }, [title]);

  if (!run) {
    return (
      <main className="page">
        <h1>
          Run <code>{id}</code>
        </h1>
        {loadError ? (
          <p role="alert" className="error">
            {loadError}
          </p>
        ) : (
          <p>Loading…</p>
        )}
      </main>
    );
  }

  return (
    <main className="page run-view">
      <div className="run-main">
        {doc && <RunCanvas document={doc} activities={run.activities} onOpenRows={onOpenRows} />}
        {transition && (
          <RowsPreview
            key={transitionName(transition.source, transition.port)}
            run={run.run}
            transition={transition}
            onClose={closeRows}
          />
        )}
      </div>
      <aside className="run-side" aria-label="Run details">
        <RunHeader run={run} user={user} busy={busy} onAction={onAction} />
        {actionError && (
          <p role="alert" className="error">
            {actionError}
          </p>
        )}
        {loadError && (
          <p className="error" role="status">
            Live updates: {loadError}
          </p>
        )}
        <RunTasks runId={run.run} waitingKey={waitingKey(run)} user={user} busy={busy} onTask={onTask} />
        <RunLog runId={run.run} active={!isFinished(run.status)} />
      </aside>
    </main>
  );
}
