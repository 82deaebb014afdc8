// Messages above the canvas: the outcome of the last action, a read-only version,
// and a save refused because the draft changed on the server (412).
export interface Notice {
  kind: "info" | "error";
  text: string;
}

export interface NoticesProps {
  notice: Notice | null;
  onDismiss: () => void;
  conflict: boolean;
  onReload: () => void;
  onExport: () => void;
  /** the number of the published version shown read-only, when there is no draft */
  versionView: number | null;
  mayEdit: boolean;
  onEditDraft: () => void;
  onEditCopy: () => void;
  readOnlyReason: string | null;
}

export function Notices(props: NoticesProps) {
  const { notice, conflict, versionView } = props;
  return (
    <div className="ov-notices">
      {conflict && (
        <div className="ov-notice is-error" role="alert">
          The draft changed since you opened it: someone else saved it. Your changes are not saved; export them
          before reloading if you want to keep them.{" "}
          <button type="button" onClick={props.onExport}>
            Export my version
          </button>{" "}
          <button type="button" onClick={props.onReload}>
            Reload
          </button>
        </div>
      )}
      {versionView !== null && (
        <div className="ov-notice">
          This campaign has no draft: you are looking at its published version {versionView}, read-only.{" "}
          {props.mayEdit && (
            <>
              <button type="button" onClick={props.onEditDraft}>
                Edit the draft
              </button>{" "}
              <button type="button" onClick={props.onEditCopy}>
                Edit a copy
              </button>
            </>
          )}
        </div>
      )}
      {versionView === null && props.readOnlyReason && <div className="ov-notice">{props.readOnlyReason}</div>}
      {notice && (
        <div
          className={notice.kind === "error" ? "ov-notice is-error" : "ov-notice"}
          role={notice.kind === "error" ? "alert" : "status"}
        >
          {notice.text}{" "}
          <button type="button" className="ov-dismiss" aria-label="Dismiss the message" onClick={props.onDismiss}>
            ×
          </button>
        </div>
      )}
    </div>
  );
}
