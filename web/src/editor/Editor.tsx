// The canvas editor of one campaign (#/campaigns/NAME): loads it, then hands it to
// the workspace. A reload (after a save conflict) starts the workspace afresh.
import { ReactFlowProvider } from "@xyflow/react";
import { useCampaignLoad } from "./useCampaignLoad";
import { Workspace } from "./Workspace";

export function Editor({ name }: { name: string }) {
  const { state, reload } = useCampaignLoad(name);
  if (state.status === "loading") {
    return (
      <main className="page">
        <p role="status">Loading {name}…</p>
      </main>
    );
  }
  if (state.status === "error") {
    return (
      <main className="page">
        <h1>{name}</h1>
        <p className="error" role="alert">
          {state.message}
        </p>
        <button type="button" onClick={reload}>
          Try again
        </button>
      </main>
    );
  }
  return (
    <ReactFlowProvider key={state.generation}>
      <Workspace name={name} loaded={state} onReload={reload} />
    </ReactFlowProvider>
  );
}
