// The run's campaign drawn read-only: nodes coloured by status, a count on every
// transition. The layout is computed once per document; live updates only replace
// the nodes and edges whose status or count changed (memoized components).
import { createContext, memo, useCallback, useContext, useMemo, useRef, useState } from "react";
import {
  Background,
  BaseEdge,
  Controls,
  EdgeLabelRenderer,
  Handle,
  MarkerType,
  MiniMap,
  Position,
  ReactFlow,
  getBezierPath,
  type Edge,
  type EdgeProps,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import type { ActivityState } from "../api";
import { documentToCanvas, type CampaignDocument } from "../canvas/convert";
import {
  ACTIVITY_STATUSES,
  countTestId,
  countText,
  detailText,
  nodeStateKey,
  portCount,
  statusClass,
  statusLabel,
  totalExcluded,
  transitionName,
} from "./runModel";
import { formatCount } from "../format";

export interface Transition {
  source: string;
  port: string;
  target: string;
}

interface RunNodeData {
  [key: string]: unknown;
  label: string;
  activityType: string;
  ports: string[];
  state: ActivityState | undefined;
}
type RunNodeType = Node<RunNodeData, "runActivity">;

interface CountEdgeData {
  [key: string]: unknown;
  port: string;
  count: number | undefined;
}
type CountEdgeType = Edge<CountEdgeData, "count">;

/** What a click on a count label does (a context, so edges need no callback in their data). */
const OpenRowsContext = createContext<(t: Transition) => void>(() => {});

const RunNode = memo(function RunNode({ id, data }: NodeProps<RunNodeType>) {
  const status = data.state?.status ?? "pending";
  const detail = detailText(data.state);
  const excluded = totalExcluded(data.state);
  const reasons = data.state?.excluded as Record<string, number> | undefined;
  return (
    <div className={`run-node ${statusClass(status)}`} data-testid={`run-node-${id}`} data-status={status}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="run-node-title">{data.label}</div>
      <div className="run-node-type">{data.activityType}</div>
      <div className="run-node-status" title={statusLabel(status)}>
        <span className="run-node-dot" aria-hidden="true" />
        <span className="run-node-status-text">{status}</span>
      </div>
      {detail && <div className="run-node-detail">{detail}</div>}
      {excluded !== null && excluded > 0 && (
        <div
          className="run-node-excluded"
          title={Object.entries(reasons ?? {})
            .map(([reason, n]) => `${reason}: ${formatCount(n)}`)
            .join(", ")}
        >
          {formatCount(excluded)} excluded
        </div>
      )}
      {data.ports.map((port, i) => (
        <Handle
          key={port}
          id={port}
          type="source"
          position={Position.Right}
          isConnectable={false}
          style={{ top: `${((i + 1) / (data.ports.length + 1)) * 100}%` }}
        />
      ))}
    </div>
  );
});

const CountEdge = memo(function CountEdge(props: EdgeProps<CountEdgeType>) {
  const { id, source, target, data, markerEnd } = props;
  const open = useContext(OpenRowsContext);
  const [path, labelX, labelY] = getBezierPath(props);
  const port = data?.port ?? "out";
  const count = data?.count;
  const text = countText(count);
  const name = transitionName(source, port);
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} />
      <EdgeLabelRenderer>
        <div
          className="count-label nodrag nopan"
          style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
        >
          {port !== "out" && <span className="count-port">{port}</span>}
          <button
            type="button"
            data-testid={countTestId({ id, source, sourceHandle: port, target })}
            data-count={count === undefined ? undefined : String(count)}
            aria-label={count === undefined ? `${name}: count not known yet` : `Show the ${text} rows that went through ${name}`}
            disabled={count === undefined}
            onClick={() => open({ source, port, target })}
          >
            {text}
          </button>
        </div>
      </EdgeLabelRenderer>
    </>
  );
});

// Module-level, so xyflow never sees new types.
const nodeTypes = { runActivity: RunNode };
const edgeTypes = { count: CountEdge };
const minimapClass = (node: Node) => statusClass((node.data as RunNodeData).state?.status ?? "pending");

export interface RunCanvasProps {
  /** the run's document: the same object as long as its content is the same */
  document: CampaignDocument;
  activities: Record<string, ActivityState>;
  onOpenRows: (transition: Transition) => void;
}

/** The canvas; memoized, so log and task updates of the page do not touch it. */
export const RunCanvas = memo(function RunCanvas({ document, activities, onOpenRows }: RunCanvasProps) {
  // The layout depends on the document only (the page keeps its object while its
  // content is unchanged, although every event brings a new one).
  const canvas = useMemo(() => documentToCanvas(document ?? {}), [document]);

  // Nodes are not dragged, so the only changes xyflow reports are their measured
  // sizes, which the minimap needs (a controlled node has no size of its own).
  const [sizes, setSizes] = useState<Record<string, { width: number; height: number }>>({});
  const onNodesChange = useCallback((changes: NodeChange<RunNodeType>[]) => {
    const measured = changes.filter((c) => c.type === "dimensions" && c.dimensions);
    if (measured.length === 0) return;
    setSizes((current) => {
      let next = current;
      for (const change of measured) {
        if (change.type !== "dimensions" || !change.dimensions) continue;
        const { width, height } = change.dimensions;
        const old = next[change.id];
        if (old && old.width === width && old.height === height) continue;
        next = { ...next, [change.id]: { width, height } };
      }
      return next;
    });
  }, []);

  const nodeCache = useRef(new Map<string, { key: string; base: unknown; size: unknown; node: RunNodeType }>());
  const edgeCache = useRef(new Map<string, { count: number | undefined; base: unknown; edge: CountEdgeType }>());

  const nodes = useMemo(() => {
    const cache = nodeCache.current;
    return canvas.nodes.map((base) => {
      const state = activities[base.id];
      const key = nodeStateKey(state);
      const size = sizes[base.id];
      const hit = cache.get(base.id);
      if (hit && hit.key === key && hit.base === base && hit.size === size) return hit.node;
      const node: RunNodeType = {
        id: base.id,
        type: "runActivity",
        position: base.position,
        data: { label: base.data.label, activityType: base.data.activityType, ports: base.data.ports, state },
        draggable: false,
        connectable: false,
        selectable: false,
        ...(size ? { measured: size } : {}),
      };
      cache.set(base.id, { key, base, size, node });
      return node;
    });
  }, [canvas, activities, sizes]);

  const edges = useMemo(() => {
    const cache = edgeCache.current;
    const run = { activities };
    return canvas.edges.map((base) => {
      const count = portCount(run, base.source, base.sourceHandle);
      const hit = cache.get(base.id);
      if (hit && hit.count === count && hit.base === base) return hit.edge;
      const edge: CountEdgeType = {
        id: base.id,
        source: base.source,
        sourceHandle: base.sourceHandle,
        target: base.target,
        type: "count",
        markerEnd: { type: MarkerType.ArrowClosed },
        data: { port: base.sourceHandle, count },
        selectable: false,
        focusable: false,
      };
      cache.set(base.id, { count, base, edge });
      return edge;
    });
  }, [canvas, activities]);

  return (
    <OpenRowsContext.Provider value={onOpenRows}>
      <div className="run-canvas">
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          edgeTypes={edgeTypes}
          onNodesChange={onNodesChange}
          fitView
          minZoom={0.1}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          edgesFocusable={false}
          ariaLabelConfig={{ "node.a11yDescription.default": "An activity of the run." }}
        >
          <Background />
          <Controls showInteractive={false} />
          <MiniMap nodeClassName={minimapClass} pannable zoomable ariaLabel="Overview of the run's canvas" />
        </ReactFlow>
      </div>
      <Legend />
    </OpenRowsContext.Provider>
  );
});

function Legend() {
  return (
    <ul className="run-legend" aria-label="Legend">
      {ACTIVITY_STATUSES.map((status) => (
        <li key={status} className={statusClass(status)}>
          <span className="run-node-dot" aria-hidden="true" /> {statusLabel(status)}
        </li>
      ))}
    </ul>
  );
}
