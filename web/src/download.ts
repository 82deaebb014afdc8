// Offer text as a file download: the editor's YAML export, the report's CSV exports.
export function downloadText(filename: string, text: string, type = "application/yaml"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // revoked a moment later, not at once: a browser may read the URL after click() returns
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
