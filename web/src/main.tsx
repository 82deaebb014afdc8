import "@xyflow/react/dist/style.css";
import "./styles.css";
import { prefetchCampaign } from "./editor/prefetch";

// Links of the first slice (`/?campaign=NAME`) open that campaign's editor.
const legacy = new URLSearchParams(window.location.search).get("campaign");
if (legacy && !window.location.hash) window.location.hash = `/campaigns/${encodeURIComponent(legacy)}`;

// This entry is small, so that an editor's campaign is asked for at once; the app
// (React, the pages) loads meanwhile, in chunks of its own.
prefetchCampaign();

void Promise.all([import("react"), import("react-dom/client"), import("./App")]).then(
  ([{ StrictMode, createElement }, { createRoot }, { App }]) => {
    createRoot(document.getElementById("root")!).render(createElement(StrictMode, null, createElement(App)));
  },
);
