// The editor's conversation with the server: saving the draft (If-Match with the
// last ETag; 412 is a conflict), its problems, test runs, publishing and the
// lifecycle actions, with the message each outcome deserves.
import { useCallback, useMemo, useRef, useState, type Dispatch, type RefObject } from "react";
import { ApiError, campaigns, type CampaignDetail, type CampaignStatus, type Problem } from "../api";
import type { CampaignDocument } from "../canvas/convert";
import { navigate } from "../router";
import type { Notice } from "./Notices";
import { campaignAction, getCampaign, putDraft } from "./server";
import type { EditorAction, EditorState } from "./state";

const message = (e: unknown) => (e instanceof ApiError ? e.message : String(e));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const DONE: Record<string, string> = { pause: "Paused.", resume: "Resumed.", stop: "Stopped." };

export function useServerCommands(
  name: string,
  initial: { detail: CampaignDetail; etag: string | null; doc: CampaignDocument },
  stateRef: RefObject<EditorState>,
  dispatch: Dispatch<EditorAction>,
  readOnly: boolean,
) {
  const etag = useRef(initial.etag);
  const [status, setStatus] = useState<CampaignStatus>(initial.detail.status);
  const [problems, setProblems] = useState<Problem[]>(initial.detail.problems ?? []);
  /** the document the problems were found in */
  const [problemsOf, setProblemsOf] = useState<CampaignDocument>(initial.doc);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [conflict, setConflict] = useState(false);
  const [saving, setSaving] = useState(false);
  const [busy, setBusy] = useState(false);

  /** After an action that may have changed the ETag: take the new one if our draft is still the one there. */
  const refreshEtag = useCallback(
    async (given: string | null) => {
      if (given) {
        etag.current = given;
        return;
      }
      if (etag.current === null) return;
      try {
        const { body, etag: tag } = await getCampaign(name);
        if (JSON.stringify(body.draft) === JSON.stringify(stateRef.current.saved)) etag.current = tag;
      } catch {
        /* keep the old one: the next save will tell */
      }
    },
    [name, stateRef],
  );

  const save = useCallback(async (): Promise<boolean> => {
    if (readOnly) return false;
    const doc = stateRef.current.history.present;
    setSaving(true);
    try {
      const { body, etag: tag } = await putDraft(name, doc, etag.current);
      etag.current = tag;
      dispatch({ type: "saved", doc });
      const found = body.problems ?? [];
      setProblems(found);
      setProblemsOf(doc);
      if (body.status) setStatus(body.status);
      setConflict(false);
      // the save state says "All changes saved"; a message only when there is more to say
      setNotice(found.length ? { kind: "info", text: `Saved, with ${plural(found.length, "problem")} to fix before publishing.` } : null);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        setConflict(true);
        setNotice(null);
      } else {
        setNotice({ kind: "error", text: `Not saved: ${message(e)}` });
      }
      return false;
    } finally {
      setSaving(false);
    }
  }, [dispatch, name, readOnly, stateRef]);

  const testRun = useCallback(async () => {
    setBusy(true);
    try {
      if (!(await save())) return;
      const { run } = await campaigns.testRun(name);
      navigate({ page: "run", id: run });
    } catch (e) {
      setNotice({ kind: "error", text: `The test run did not start: ${message(e)}` });
    } finally {
      setBusy(false);
    }
  }, [name, save]);

  const publish = useCallback(async () => {
    setBusy(true);
    try {
      if (!(await save())) return;
      const doc = stateRef.current.history.present;
      try {
        const { body, etag: tag } = await campaignAction(name, "publish");
        await refreshEtag(tag);
        setStatus(body.status);
        setProblems(body.problems ?? []);
        setProblemsOf(doc);
        setNotice({ kind: "info", text: `Published version ${body.published ?? body.latest_version}.` });
      } catch (e) {
        const found = e instanceof ApiError && Array.isArray(e.extra.problems) ? (e.extra.problems as Problem[]) : null;
        if (found) {
          setProblems(found);
          setProblemsOf(doc);
        }
        setNotice({ kind: "error", text: `Not published: ${message(e)}` });
      }
    } finally {
      setBusy(false);
    }
  }, [name, refreshEtag, save, stateRef]);

  const act = useCallback(
    async (action: "pause" | "resume" | "stop") => {
      if (action === "stop" && !window.confirm(`Stop ${name}? It starts no new run; this cannot be undone.`)) return;
      setBusy(true);
      try {
        const { body, etag: tag } = await campaignAction(name, action);
        await refreshEtag(tag);
        setStatus(body.status);
        setNotice({ kind: "info", text: DONE[action] });
      } catch (e) {
        setNotice({ kind: "error", text: message(e) });
      } finally {
        setBusy(false);
      }
    },
    [name, refreshEtag],
  );

  const report = useCallback((text: string | null) => setNotice(text ? { kind: "error", text } : null), []);
  const inform = useCallback((text: string) => setNotice({ kind: "info", text }), []);

  return useMemo(
    () => ({ status, problems, problemsOf, notice, conflict, saving, busy, save, testRun, publish, act, report, inform, setNotice }),
    [status, problems, problemsOf, notice, conflict, saving, busy, save, testRun, publish, act, report, inform],
  );
}
