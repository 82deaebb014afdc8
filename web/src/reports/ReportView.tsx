// Placeholder: the campaign report lands here (issue 6).
export function ReportView({ name }: { name: string }) {
  return <main className="page"><h1>Report of {name}</h1></main>;
}
