// Placeholder: the run monitor lands here (issue 6).
export function RunView({ id }: { id: string }) {
  return <main className="page"><h1>Run {id}</h1></main>;
}
