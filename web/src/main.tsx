import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./styles.css";
import { App } from "./App";

// Links of the first slice (`/?campaign=NAME`) open that campaign's editor.
const legacy = new URLSearchParams(window.location.search).get("campaign");
if (legacy && !window.location.hash) window.location.hash = `/campaigns/${encodeURIComponent(legacy)}`;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
