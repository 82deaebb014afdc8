// Parts of the editor that can wait a frame (the minimap, the Properties panel's
// forms) are drawn once the canvas has been painted: opening a big campaign then
// shows its activities first, the rest in the next frame.
import { useEffect, useState } from "react";

/** False until the frame after the first commit has been painted, then true. */
export function useAfterFirstPaint(): boolean {
  const [painted, setPainted] = useState(false);
  useEffect(() => {
    let frame = 0;
    let task: ReturnType<typeof setTimeout> | undefined;
    let fallback: ReturnType<typeof setTimeout> | undefined;
    const cancel = () => {
      cancelAnimationFrame(frame);
      clearTimeout(task);
      clearTimeout(fallback);
    };
    const done = () => {
      cancel();
      setPainted(true);
    };
    // the task after the next animation frame runs once that frame is painted
    frame = requestAnimationFrame(() => (task = setTimeout(done)));
    // no frames in a hidden page: do not wait for one
    fallback = setTimeout(done, 250);
    return cancel;
  }, []);
  return painted;
}
