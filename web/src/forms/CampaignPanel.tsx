import type { CampaignPanelProps } from "../panels";

export function CampaignPanel({ campaign }: CampaignPanelProps) {
  return (
    <section className="forms-panel" aria-label="Campaign settings">
      <h2>{campaign}</h2>
      <p className="muted">The settings form is coming.</p>
    </section>
  );
}
