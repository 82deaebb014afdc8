// What the canvas's node and edge components need from the editor, without
// passing callbacks through every node's data (which would redraw them all).
import { createContext, useContext } from "react";

export interface CanvasActions {
  readOnly: boolean;
  /** open the palette to put a new activity on the transition `ref` → `target` */
  startInsert: (ref: string, target: string) => void;
}

export const CanvasActionsContext = createContext<CanvasActions>({ readOnly: true, startInsert: () => {} });
export const useCanvasActions = () => useContext(CanvasActionsContext);

/** The drag-and-drop type that carries an activity type from the palette. */
export const DND_TYPE = "application/x-overture-activity";
