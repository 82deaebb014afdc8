// The editor's keyboard: Ctrl/Cmd+S saves (even from a field); outside text fields
// Ctrl/Cmd+Z undoes, Ctrl/Cmd+Shift+Z and Ctrl+Y redo, Ctrl/Cmd+C/V copy and paste
// activities, Delete/Backspace delete the selection (on the canvas), Escape cancels
// an insertion, and Tab from the selected node goes to its panel.
import { useEffect, useRef } from "react";

export interface ShortcutHandlers {
  save: () => void;
  undo: () => void;
  redo: () => void;
  copy: () => void;
  paste: () => void;
  remove: () => void;
  escape: () => void;
  /** Tab on a node: true when it moved the focus to that node's panel */
  tabFromNode: (id: string) => boolean;
}

const NOT_TEXT = new Set(["checkbox", "radio", "button", "submit", "reset", "file", "range", "color", "image"]);

export function isTextField(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && !NOT_TEXT.has((el as HTMLInputElement).type);
}

export function useShortcuts(handlers: ShortcutHandlers): void {
  const ref = useRef(handlers);
  ref.current = handlers;

  useEffect(() => {
    function onKeyDown(event: KeyboardEvent) {
      const h = ref.current;
      const key = event.key.toLowerCase();
      const mod = event.ctrlKey || event.metaKey;
      const target = event.target as HTMLElement | null;
      if (mod && !event.altKey && key === "s") {
        event.preventDefault();
        h.save();
        return;
      }
      if (event.defaultPrevented || isTextField(target)) return;
      const node = target?.closest?.(".react-flow__node");
      const onCanvas = !target || target === document.body || !!target.closest?.(".ov-canvas");
      if (mod && key === "z") {
        event.preventDefault();
        if (event.shiftKey) h.redo();
        else h.undo();
      } else if (event.ctrlKey && !event.metaKey && key === "y") {
        event.preventDefault();
        h.redo();
      } else if (mod && key === "c") {
        if (window.getSelection()?.toString()) return; // copying text: the browser's
        h.copy();
      } else if (mod && key === "v") {
        event.preventDefault();
        h.paste();
      } else if ((key === "delete" || key === "backspace") && onCanvas) {
        event.preventDefault();
        h.remove();
      } else if (key === "escape") {
        h.escape();
      } else if (key === "tab" && !event.shiftKey && node) {
        const id = node.getAttribute("data-id");
        if (id && h.tabFromNode(id)) event.preventDefault();
      }
    }
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);
}

/** Ask before leaving the page while `dirty`. */
export function useBeforeUnload(dirty: boolean): void {
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
}
