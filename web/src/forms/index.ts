// The side-panel forms of the canvas editor (issue 6). The editor renders these two
// panels; their props are the contract of ../panels.ts.
export { ActivityPanel } from "./ActivityPanel";
export { CampaignPanel } from "./CampaignPanel";
