// The canvas: the document drawn by xyflow. Nodes are derived from the document
// (the source of truth) and kept in local state only so that xyflow can move them
// during a drag; a move is written to the document once, when the drag (or the
// arrow key) ends. Selection, connections and drops go back as editor actions.
import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  applyNodeChanges,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { memo, useCallback, useMemo, useRef, useState, type Dispatch, type DragEvent } from "react";
import { documentToCanvas, type CampaignDocument, type Position } from "../canvas/convert";
import { connect, setPositions } from "../canvas/edit";
import { NODE_WIDTH } from "../canvas/geometry";
import { ActivityNode } from "./ActivityNode";
import { useAfterFirstPaint } from "./afterPaint";
import { DND_TYPE } from "./context";
import { deriveEdges, deriveNodes, type ActivityFlowNode, type PortFlowEdge } from "./flow";
import { PortEdge } from "./PortEdge";
import type { EditorAction, Selection } from "./state";

const nodeTypes = { activity: ActivityNode };
const edgeTypes = { port: PortEdge };
const defaultEdgeOptions = { markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 } };
const proOptions = { hideAttribution: true };

export interface FlowCanvasProps {
  doc: CampaignDocument;
  selection: Selection;
  problemCounts: ReadonlyMap<string, number>;
  readOnly: boolean;
  dispatch: Dispatch<EditorAction>;
  /** a palette item dropped on the canvas, at this flow position */
  onDropType: (type: string, position: Position) => void;
}

function FlowCanvasView({ doc, selection, problemCounts, readOnly, dispatch, onDropType }: FlowCanvasProps) {
  const { screenToFlowPosition } = useReactFlow();
  const painted = useAfterFirstPaint();
  const canvas = useMemo(() => documentToCanvas(doc), [doc]);
  const selectedNodes = useMemo(() => new Set(selection.nodes), [selection.nodes]);
  const selectedEdges = useMemo(() => new Set(selection.edges), [selection.edges]);

  // Nodes: derived again only when what they show changed (React's "adjust state
  // while rendering" pattern), reusing the objects that did not change.
  const [nodes, setNodes] = useState<ActivityFlowNode[]>(() =>
    deriveNodes(doc, canvas, selectedNodes, problemCounts, [], readOnly),
  );
  const [from, setFrom] = useState({ canvas, selectedNodes, problemCounts, readOnly });
  if (
    from.canvas !== canvas ||
    from.selectedNodes !== selectedNodes ||
    from.problemCounts !== problemCounts ||
    from.readOnly !== readOnly
  ) {
    setFrom({ canvas, selectedNodes, problemCounts, readOnly });
    setNodes(deriveNodes(doc, canvas, selectedNodes, problemCounts, nodes, readOnly));
  }

  // Edges: xyflow never changes them itself, so they need no local state.
  const previousEdges = useRef<PortFlowEdge[]>([]);
  const edges = useMemo(() => {
    const next = deriveEdges(canvas, selectedEdges, previousEdges.current);
    previousEdges.current = next;
    return next;
  }, [canvas, selectedEdges]);

  const onNodesChange = useCallback(
    (changes: NodeChange<ActivityFlowNode>[]) => {
      setNodes((current) => applyNodeChanges(changes, current));
      const selects = changes.flatMap((c) => (c.type === "select" ? [{ id: c.id, selected: c.selected }] : []));
      if (selects.length) dispatch({ type: "selectChanges", nodes: selects });
      const moved: Record<string, Position> = {};
      for (const c of changes) {
        if (c.type === "position" && c.dragging === false && c.position) {
          moved[c.id] = { x: Math.round(c.position.x), y: Math.round(c.position.y) };
        }
      }
      if (Object.keys(moved).length) dispatch({ type: "edit", edit: (d) => setPositions(d, moved) });
    },
    [dispatch],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange<PortFlowEdge>[]) => {
      const selects = changes.flatMap((c) => (c.type === "select" ? [{ id: c.id, selected: c.selected }] : []));
      if (selects.length) dispatch({ type: "selectChanges", edges: selects });
    },
    [dispatch],
  );

  const onConnect = useCallback(
    (c: Connection) => dispatch({ type: "edit", edit: (d) => connect(d, c.source, c.sourceHandle, c.target) }),
    [dispatch],
  );
  const isValidConnection = useCallback(
    (c: Connection | PortFlowEdge) => c.source !== c.target,
    [],
  );

  const onDragOver = useCallback((event: DragEvent) => {
    if (event.dataTransfer.types.includes(DND_TYPE)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
    }
  }, []);
  const onDrop = useCallback(
    (event: DragEvent) => {
      const type = event.dataTransfer.getData(DND_TYPE);
      if (!type || readOnly) return;
      event.preventDefault();
      const p = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      onDropType(type, { x: Math.round(p.x - NODE_WIDTH / 2), y: Math.round(p.y - 20) });
    },
    [onDropType, readOnly, screenToFlowPosition],
  );

  return (
    <section className="ov-canvas" aria-label="Canvas">
      <ReactFlow<ActivityFlowNode, PortFlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        defaultEdgeOptions={defaultEdgeOptions}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onDragOver={onDragOver}
        onDrop={onDrop}
        deleteKeyCode={null}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        fitView
        fitViewOptions={{ maxZoom: 1 }}
        minZoom={0.1}
        proOptions={proOptions}
      >
        <Background gap={20} />
        <Controls />
        {/* a second drawing of every node: after the canvas's first paint */}
        {painted && <MiniMap pannable zoomable ariaLabel="Minimap" />}
      </ReactFlow>
    </section>
  );
}

/** Memoized: messages, the toolbar or the panel changing do not redraw the canvas. */
export const FlowCanvas = memo(FlowCanvasView);
