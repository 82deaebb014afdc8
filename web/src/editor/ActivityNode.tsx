// One activity on the canvas: its type, label and id, a red badge with the number
// of problems, an input handle on the left and one named handle per output port on
// the right. Memoized: it redraws only when its own data changes.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import { NODE_WIDTH, nodeHeight } from "../canvas/geometry";
import type { ActivityFlowNode } from "./flow";

function ActivityNodeView({ data, selected }: NodeProps<ActivityFlowNode>) {
  const { activity, ports, typeName, group, takesInputs, problems } = data;
  const label = typeof activity.label === "string" && activity.label ? activity.label : null;
  const classes = [
    "ov-node",
    `ov-node-${group.toLowerCase().replace(/\s+/g, "-")}`,
    selected ? "is-selected" : "",
    activity.enabled === false ? "is-disabled" : "",
    problems ? "has-problems" : "",
  ];
  return (
    <div className={classes.join(" ")} style={{ width: NODE_WIDTH, minHeight: nodeHeight(ports.length) }}>
      {takesInputs && (
        <Handle type="target" position={Position.Left} className="ov-handle ov-handle-in" data-testid={`input-${activity.id}`} />
      )}
      <div className="ov-node-head">
        <span className="ov-node-type">{typeName}</span>
        {activity.enabled === false && <span className="ov-node-off">off</span>}
        {problems > 0 && (
          <span className="ov-node-badge" title={`${problems} problem${problems > 1 ? "s" : ""}`}>
            {problems}
          </span>
        )}
      </div>
      <div className="ov-node-label">{label ?? activity.id}</div>
      {label && <div className="ov-node-id">{activity.id}</div>}
      <div className="ov-node-ports">
        {ports.map((port) => (
          <div className="ov-port" key={port}>
            {port}
            <Handle
              type="source"
              position={Position.Right}
              id={port}
              className="ov-handle ov-handle-out"
              data-testid={`port-${activity.id}.${port}`}
              title={`${activity.id}.${port}: drag to an activity to connect`}
            />
          </div>
        ))}
      </div>
    </div>
  );
}

export const ActivityNode = memo(ActivityNodeView);
