// rawRequest: one HTTP request with an exact, unnormalised path (for tests that probe servers
// with malformed or unusual requests), returning status, headers and the whole body.
import http, { type IncomingHttpHeaders } from "node:http";

export interface RawReply { status: number; headers: IncomingHttpHeaders; body: Buffer }

export function rawRequest(base: string, opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<RawReply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname: u.hostname, port: u.port, method: opts.method ?? "GET", path: opts.path, headers: opts.headers ?? {}, agent: false });
    req.on("error", reject);
    req.on("response", (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on("error", reject);
    });
    req.end(opts.body);
  });
}

/** tempauth login through raw HTTP. */
export async function rawAuth(authUrl: string, user: string, key: string): Promise<{ token: string; storageUrl: string }> {
  const u = new URL(authUrl);
  const r = await rawRequest(`${u.protocol}//${u.host}`, { path: u.pathname, headers: { "X-Auth-User": user, "X-Auth-Key": key } });
  if (r.status !== 200) throw new Error(`auth failed with ${r.status}`);
  return { token: String(r.headers["x-auth-token"]), storageUrl: String(r.headers["x-storage-url"]) };
}
