// The panel of the selected activity: its id, its inputs, its problems and the
// settings form (ActivityPanel, from web/src/forms).
import type { Problem } from "../api";
import type { Activity, CampaignDocument } from "../canvas/convert";
import { typeName } from "../canvas/palette";
import { ActivityPanel } from "../forms";
import { InputsControl } from "./InputsControl";
import { describeProblem } from "./problems";

export interface ActivityPropertiesProps {
  campaign: string;
  doc: CampaignDocument;
  activity: Activity;
  problems: Problem[];
  readOnly: boolean;
  onChange: (next: Activity) => void;
  onInputsChange: (inputs: string[]) => void;
  onDelete: () => void;
}

export function ActivityProperties(props: ActivityPropertiesProps) {
  const { campaign, doc, activity, problems, readOnly, onChange, onInputsChange, onDelete } = props;
  return (
    <div className="ov-props">
      <h2 tabIndex={-1} className="ov-panel-heading">
        {typeName(activity.type)} <code>{activity.id}</code>
      </h2>
      {problems.length > 0 && (
        <ul className="ov-activity-problems error" aria-label={`Problems of ${activity.id}`}>
          {problems.map((p, i) => (
            <li key={i}>{describeProblem(p)}</li>
          ))}
        </ul>
      )}
      <InputsControl doc={doc} activity={activity} readOnly={readOnly} onChange={onInputsChange} />
      <fieldset className="ov-form" disabled={readOnly}>
        <legend className="sr-only">Settings</legend>
        <ActivityPanel campaign={campaign} document={doc} activity={activity} onChange={onChange} problems={problems} />
      </fieldset>
      {!readOnly && (
        <p>
          <button type="button" className="danger" onClick={onDelete}>
            Delete activity
          </button>
        </p>
      )}
    </div>
  );
}
