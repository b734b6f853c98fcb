// Content type for a PUT without one, guessed from the name's extension as Swift's proxy does
// (Python mimetypes), for the common types; anything else is application/octet-stream.
const TYPES: Record<string, string> = {
  txt: "text/plain", html: "text/html", htm: "text/html", css: "text/css", csv: "text/csv",
  js: "application/javascript", json: "application/json", xml: "application/xml", pdf: "application/pdf",
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", svg: "image/svg+xml",
  gz: "application/gzip", tar: "application/x-tar", zip: "application/zip", mp4: "video/mp4", mp3: "audio/mpeg",
};

export function guessContentType(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return "application/octet-stream";
  return TYPES[base.slice(dot + 1).toLowerCase()] ?? "application/octet-stream";
}
