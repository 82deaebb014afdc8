// A transition: a curve from a port to an activity, labelled with the port unless
// it is `out`, and a "+" button that inserts a new activity on it. Memoized.
import { BaseEdge, EdgeLabelRenderer, getBezierPath, type EdgeProps } from "@xyflow/react";
import { memo } from "react";
import { useCanvasActions } from "./context";
import type { PortFlowEdge } from "./flow";

function PortEdgeView(props: EdgeProps<PortFlowEdge>) {
  const { id, source, target, data, selected, markerEnd } = props;
  const { readOnly, startInsert } = useCanvasActions();
  const [path, labelX, labelY] = getBezierPath(props);
  const port = data?.port ?? "out";
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} className={selected ? "ov-edge is-selected" : "ov-edge"} />
      <EdgeLabelRenderer>
        <div
          className="ov-edge-label nodrag nopan"
          style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
          data-testid={`edge-${source}.${port}->${target}`}
        >
          {port !== "out" && <span className="ov-edge-port">{port}</span>}
          {!readOnly && data && (
            <button
              type="button"
              className="ov-edge-insert"
              aria-label={`Insert an activity between ${source}.${port} and ${target}`}
              title="Insert an activity here"
              onClick={() => startInsert(data.ref, target)}
            >
              +
            </button>
          )}
        </div>
      </EdgeLabelRenderer>
    </>
  );
}

export const PortEdge = memo(PortEdgeView);
