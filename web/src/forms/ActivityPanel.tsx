import type { ActivityPanelProps } from "../panels";

export function ActivityPanel({ activity }: ActivityPanelProps) {
  return (
    <section className="forms-panel" aria-label={`Activity ${activity.id}`}>
      <h2>{activity.id}</h2>
      <p className="muted">The settings form is coming.</p>
    </section>
  );
}
