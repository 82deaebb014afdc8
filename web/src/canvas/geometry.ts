// The size of an activity node on the canvas, shared by the node component, the
// layout and the search for a free spot, so that they agree.
import type { Position } from "./convert";

export const NODE_WIDTH = 200;
/** type, label and id lines */
export const NODE_HEADER = 58;
/** one output port row */
export const PORT_ROW = 20;

export function nodeHeight(portCount: number): number {
  return NODE_HEADER + Math.max(portCount, 1) * PORT_ROW + 6;
}

export interface Box extends Position {
  width: number;
  height: number;
}

/** Whether two boxes overlap, `gap` pixels counting as overlap. */
export function overlaps(a: Box, b: Box, gap = 0): boolean {
  return (
    a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap
  );
}
