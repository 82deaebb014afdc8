// The editor once the campaign is loaded: toolbar, messages, palette, canvas,
// Properties panel and Problems list around one reducer (document history and
// selection). Everything here wires; the work is in the hooks and pure modules.
import { useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { allows, campaigns } from "../api";
import { canRedo, canUndo } from "../canvas/history";
import { ensurePositions } from "../canvas/layout";
import { navigate } from "../router";
import { useSession } from "../session";
import { CanvasActionsContext, type CanvasActions } from "./context";
import { downloadText } from "./download";
import { FlowCanvas } from "./FlowCanvas";
import { Notices } from "./Notices";
import { Palette, type PendingInsert } from "./Palette";
import { groupProblems } from "./problems";
import { ProblemsList } from "./ProblemsList";
import type { RunSummary } from "./RecentRuns";
import { SidePanel } from "./SidePanel";
import { editorReducer, initialState, isDirty, type EditorState } from "./state";
import { Toolbar } from "./Toolbar";
import type { LoadState } from "./useCampaignLoad";
import { useDocumentCommands } from "./useDocumentCommands";
import { useServerCommands } from "./useServerCommands";
import { useBeforeUnload, useShortcuts } from "./useShortcuts";
import { fromYaml, toYaml } from "./yaml";

type Loaded = Extract<LoadState, { status: "ready" }>;

export function Workspace({ name, loaded, onReload }: { name: string; loaded: Loaded; onReload: () => void }) {
  const { user } = useSession();
  const flow = useReactFlow();
  const [state, dispatch] = useReducer(editorReducer, loaded.doc, (doc) => initialState(doc));
  const stateRef = useRef<EditorState>(state);
  stateRef.current = state;
  const doc = state.history.present;

  const [versionView, setVersionView] = useState(loaded.versionView);
  const server = useServerCommands(name, loaded, stateRef, dispatch, versionView !== null);
  const mayEdit = allows(user, "manager") && server.status !== "archived";
  const readOnly = !mayEdit || versionView !== null;
  const commands = useDocumentCommands(stateRef, dispatch, server.report);

  const [insert, setInsert] = useState<PendingInsert | null>(null);
  const [focusToken, setFocusToken] = useState(0);
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const dirty = useMemo(() => isDirty(state), [state.history.present, state.saved]); // eslint-disable-line react-hooks/exhaustive-deps
  const grouped = useMemo(() => groupProblems(server.problems), [server.problems]);
  const problemCounts = useMemo(
    () => new Map([...grouped.byActivity].map(([id, list]) => [id, list.length])),
    [grouped],
  );
  const activityIds = useMemo(() => new Set((doc.activities ?? []).map((a) => a.id)), [doc.activities]);

  useBeforeUnload(dirty && !readOnly);
  useEffect(() => {
    let live = true;
    campaigns
      .runs(name, 10)
      .then((r) => live && setRuns(r.runs))
      .catch(() => live && setRuns(null));
    return () => {
      live = false;
    };
  }, [name]);

  // ---- what the palette, the canvas and the panel ask for ----

  const choose = useCallback(
    (type: string) => {
      if (readOnly) return;
      if (insert) commands.insertOn(insert, type);
      else commands.addAt(type);
      setInsert(null);
      setFocusToken((t) => t + 1);
    },
    [commands, insert, readOnly],
  );
  const dropType = useCallback(
    (type: string, position: { x: number; y: number }) => {
      commands.addAt(type, position);
      setInsert(null);
      setFocusToken((t) => t + 1);
    },
    [commands],
  );
  const canvasActions = useMemo<CanvasActions>(
    () => ({ readOnly, startInsert: (ref, target) => setInsert({ ref, target }) }),
    [readOnly],
  );

  const selectActivity = useCallback(
    (id: string) => {
      dispatch({ type: "select", nodes: [id], edges: [] });
      const node = flow.getNode(id);
      if (node) {
        const w = node.measured?.width ?? 200;
        const h = node.measured?.height ?? 80;
        void flow.setCenter(node.position.x + w / 2, node.position.y + h / 2, { zoom: flow.getZoom() });
      }
    },
    [flow],
  );
  const endOfTyping = useCallback(() => dispatch({ type: "seal" }), []);
  const focusNode = useCallback((id: string) => {
    document.querySelector<HTMLElement>(`[data-testid="node-${CSS.escape(id)}"]`)?.focus();
  }, []);

  const exportYaml = useCallback(() => downloadText(`${name}.yaml`, toYaml(stateRef.current.history.present)), [name]);
  const importYaml = useCallback(
    async (file: File) => {
      const result = fromYaml(await file.text(), name);
      if ("error" in result) {
        server.report(`Not imported: ${result.error}`);
        return;
      }
      commands.replaceDocument(ensurePositions(result.doc));
      server.inform(`Imported ${file.name}: not saved yet (Save to keep it, Undo to go back).`);
    },
    [commands, name, server],
  );
  const tidy = useCallback(() => {
    commands.tidy();
    requestAnimationFrame(() => void flow.fitView({ maxZoom: 1 }));
  }, [commands, flow]);

  const editDraft = useCallback(() => {
    setVersionView(null);
    // the version becomes the draft once saved: until then it is an unsaved change
    dispatch({ type: "load", doc: stateRef.current.history.present, saved: {} });
  }, []);
  const editCopy = useCallback(async () => {
    const copy = window.prompt(`Name of the copy of ${name}`, `${name}-copy`)?.trim();
    if (!copy) return;
    try {
      await campaigns.duplicate(name, copy);
      navigate({ page: "editor", name: copy });
    } catch (e) {
      server.report(`Not copied: ${e instanceof Error ? e.message : String(e)}`);
    }
  }, [name, server]);

  useShortcuts({
    save: () => void server.save(),
    undo: () => dispatch({ type: "undo" }),
    redo: () => dispatch({ type: "redo" }),
    copy: commands.copy,
    paste: () => !readOnly && commands.paste(),
    remove: () => !readOnly && commands.removeSelection(),
    escape: () => setInsert(null),
    tabFromNode: (id) => {
      const { nodes } = stateRef.current.selection;
      if (nodes.length !== 1 || nodes[0] !== id) return false;
      setFocusToken((t) => t + 1);
      return true;
    },
  });

  const readOnlyReason = !allows(user, "manager")
    ? "Your role can read this campaign, not change it."
    : server.status === "archived"
      ? "This campaign is archived: it can no longer be changed."
      : null;
  const title = typeof doc.label === "string" && doc.label ? doc.label : name;

  return (
    <main className="ov-editor">
      <Toolbar
        name={name}
        title={title}
        status={server.status}
        dirty={dirty}
        saving={server.saving}
        busy={server.busy}
        readOnly={readOnly}
        canUndo={canUndo(state.history)}
        canRedo={canRedo(state.history)}
        mayTest={allows(user, "manager")}
        mayApprove={allows(user, "approver")}
        runs={runs}
        onSave={() => void server.save()}
        onUndo={() => dispatch({ type: "undo" })}
        onRedo={() => dispatch({ type: "redo" })}
        onTidy={tidy}
        onImport={(file) => void importYaml(file)}
        onExport={exportYaml}
        onTestRun={() => void server.testRun()}
        onPublish={() => void server.publish()}
        onAction={(action) => void server.act(action)}
      />
      <Notices
        notice={server.notice}
        onDismiss={() => server.setNotice(null)}
        conflict={server.conflict}
        onReload={onReload}
        onExport={exportYaml}
        versionView={versionView}
        mayEdit={mayEdit}
        onEditDraft={editDraft}
        onEditCopy={() => void editCopy()}
        readOnlyReason={readOnlyReason}
      />
      <div className="ov-body">
        {!readOnly && (
          <Palette readOnly={readOnly} insert={insert} onChoose={choose} onCancelInsert={() => setInsert(null)} />
        )}
        <CanvasActionsContext.Provider value={canvasActions}>
          <FlowCanvas
            doc={doc}
            selection={state.selection}
            problemCounts={problemCounts}
            readOnly={readOnly}
            dispatch={dispatch}
            onDropType={dropType}
          />
        </CanvasActionsContext.Provider>
        <div className="ov-side">
          <SidePanel
            campaign={name}
            doc={doc}
            selected={state.selection.nodes}
            problems={grouped}
            readOnly={readOnly}
            focusToken={focusToken}
            onActivityChange={commands.changeActivity}
            onInputsChange={commands.changeInputs}
            onCampaignChange={commands.changeCampaign}
            onDelete={commands.removeSelection}
            onBackToCanvas={() => state.selection.nodes[0] && focusNode(state.selection.nodes[0])}
            onEndOfTyping={endOfTyping}
          />
          <ProblemsList
            problems={server.problems}
            activityIds={activityIds}
            onSelect={selectActivity}
            stale={server.problemsOf !== doc}
          />
        </div>
      </div>
    </main>
  );
}
