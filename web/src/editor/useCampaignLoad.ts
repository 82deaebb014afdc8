// Load the campaign: its draft (with the ETag that guards saving), or, when it has
// none, its latest published version, to be shown read-only.
import { useCallback, useEffect, useState } from "react";
import { flushSync } from "react-dom";
import { ApiError, type CampaignDetail } from "../api";
import type { CampaignDocument } from "../canvas/convert";
import { ensurePositions } from "../canvas/layout";
import { takePrefetched } from "./prefetch";
import { getCampaignFirst, getVersion } from "./server";

export type LoadState =
  | { status: "loading" }
  | { status: "error"; message: string }
  | {
      status: "ready";
      detail: CampaignDetail;
      etag: string | null;
      /** the document to edit, every activity with a position */
      doc: CampaignDocument;
      /** the version shown when there is no draft, else null */
      versionView: number | null;
      /** changes at each load, to start the editor afresh */
      generation: number;
    };

export function useCampaignLoad(name: string): { state: LoadState; reload: () => void } {
  const [state, setState] = useState<LoadState>({ status: "loading" });
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        // the first load may find the campaign already asked for (./prefetch)
        const prefetched = generation === 0 ? takePrefetched(name) : null;
        const { body: detail, etag } = await getCampaignFirst(name, prefetched);
        let source: CampaignDocument | null = detail.draft as CampaignDocument | null;
        let versionView: number | null = null;
        if (!source && detail.latest_version) {
          source = await getVersion(name, detail.latest_version);
          versionView = detail.latest_version;
        }
        const start = performance.now();
        const doc = ensurePositions(source ?? { name, activities: [] });
        // how long laying out a document without positions took (bench/canvas.py reports it)
        if (source && doc !== source) performance.measure("overture:layout", { start });
        // synchronously: the canvas's nodes, which xyflow takes from an effect, are then
        // drawn in the same task as the rest of the editor, not after a first paint without them
        if (live) flushSync(() => setState({ status: "ready", detail, etag, doc, versionView, generation }));
      } catch (e) {
        if (live) setState({ status: "error", message: e instanceof ApiError ? e.message : String(e) });
      }
    })();
    return () => {
      live = false;
    };
  }, [name, generation]);

  const reload = useCallback(() => {
    setState({ status: "loading" });
    setGeneration((g) => g + 1);
  }, []);
  return { state, reload };
}
