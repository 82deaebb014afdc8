// Placeholder: the canvas editor lands here (issue 6).
export function Editor({ name }: { name: string }) {
  return <main className="page"><h1>{name}</h1><p>The editor is being built.</p></main>;
}
