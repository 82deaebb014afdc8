import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { Background, Controls, Handle, Position, ReactFlow, type Node, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { documentToCanvas, type ActivityNodeData, type Canvas, type CampaignDocument } from "./canvas/convert";

type ActivityFlowNode = Node<ActivityNodeData, "activity">;

// A read-only view of one activity: its label and type, one input handle on the
// left, one output handle per port on the right.
function ActivityNode({ data }: NodeProps<ActivityFlowNode>) {
  return (
    <div style={{ padding: "6px 10px", border: "1px solid #888", borderRadius: 6, background: "#fff", minWidth: 140 }}>
      <Handle type="target" position={Position.Left} />
      <div style={{ fontWeight: 600 }}>{data.label}</div>
      <div style={{ fontSize: 11, color: "#666" }}>{data.activityType}</div>
      {data.ports.map((port, i) => (
        <Handle
          key={port}
          id={port}
          type="source"
          position={Position.Right}
          title={port}
          style={{ top: `${((i + 1) * 100) / (data.ports.length + 1)}%` }}
        />
      ))}
    </div>
  );
}

const nodeTypes = { activity: ActivityNode };

async function fetchDocument(name: string): Promise<CampaignDocument> {
  const base = `/api/campaigns/${encodeURIComponent(name)}`;
  const get = async (url: string) => {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
    return response.json();
  };
  const campaign = await get(base);
  if (campaign.draft) return campaign.draft as CampaignDocument;
  if (campaign.latest_version != null) {
    const version = await get(`${base}/versions/${campaign.latest_version}`);
    return version.document as CampaignDocument;
  }
  throw new Error(`campaign ${name} has no document`);
}

function CampaignCanvas({ name }: { name: string }) {
  const [canvas, setCanvas] = useState<Canvas | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    fetchDocument(name)
      .then((doc) => setCanvas(documentToCanvas(doc)))
      .catch((e: unknown) => setError(String(e)));
  }, [name]);
  if (error) return <p role="alert">Could not load campaign {name}: {error}</p>;
  if (!canvas) return <p>Loading {name}…</p>;
  return (
    <div style={{ height: "calc(100vh - 80px)" }}>
      <ReactFlow
        nodes={canvas.nodes}
        edges={canvas.edges}
        nodeTypes={nodeTypes}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        fitView
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

function App() {
  const name = new URLSearchParams(window.location.search).get("campaign");
  return (
    <main style={{ fontFamily: "system-ui, sans-serif" }}>
      <h1 style={{ fontSize: 20, margin: "8px 12px" }}>Overture{name ? ` — ${name}` : ""}</h1>
      {name ? (
        <CampaignCanvas name={name} />
      ) : (
        <p style={{ margin: "0 12px" }}>
          No campaign selected: log in through the API for now, then open <code>?campaign=NAME</code>.
        </p>
      )}
    </main>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
