// Swift v1 ("tempauth") authentication, and the credentials type the auth hook returns.
import http from "node:http";
import https from "node:https";
import { ObjectStoreError } from "../object-store-error.js";

export interface SwiftCredentials {
  token: string;
  /** Account URL requests are made under, e.g. http://127.0.0.1:8080/v1/AUTH_test. */
  storageUrl: string;
}

/**
 * Produces fresh credentials. Called lazily before the first request (unless credentials were
 * given) and again, single-flight, whenever a request is answered 401 with the current token.
 */
export type SwiftAuthenticate = (signal?: AbortSignal) => Promise<SwiftCredentials>;

export interface TempAuthOptions {
  /** e.g. http://127.0.0.1:8080/auth/v1.0 */
  authUrl: string;
  /** "account:user", e.g. test:tester */
  user: string;
  key: string;
  timeoutMs?: number;
  /** Rewrites the storage URL, e.g. to the "/proxyfs/" bypass form pfsagentd uses. */
  transformStorageUrl?: (url: string) => string;
}

/** An authenticator doing `GET authUrl` with X-Auth-User / X-Auth-Key. */
export function tempAuth(opts: TempAuthOptions): SwiftAuthenticate {
  const url = new URL(opts.authUrl);
  const mod = url.protocol === "https:" ? https : http;
  return (signal) =>
    new Promise<SwiftCredentials>((resolve, reject) => {
      const req = mod.request(url, {
        method: "GET",
        headers: { "X-Auth-User": opts.user, "X-Auth-Key": opts.key, "User-Agent": "proxyfs-objstore" },
        timeout: opts.timeoutMs ?? 30_000,
        ...(signal ? { signal } : {}),
      });
      req.on("timeout", () => req.destroy(new ObjectStoreError("Timeout", `Authentication at ${opts.authUrl} timed out`)));
      req.on("error", (err) => {
        if (err instanceof ObjectStoreError) reject(err);
        else if (signal?.aborted) reject(new ObjectStoreError("Aborted", "Authentication aborted by the caller", { cause: err }));
        else reject(new ObjectStoreError("Network", `Authentication request to ${opts.authUrl} failed: ${err.message}`, { cause: err }));
      });
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => {
          const token = res.headers["x-auth-token"] ?? res.headers["x-storage-token"];
          const storageUrl = res.headers["x-storage-url"];
          if (res.statusCode !== 200 && res.statusCode !== 204) {
            const code = res.statusCode === 401 || res.statusCode === 403 ? "Unauthorized" : "ServerError";
            reject(new ObjectStoreError(code, `Authentication of ${JSON.stringify(opts.user)} at ${opts.authUrl} failed with status ${res.statusCode}`, { status: res.statusCode ?? 0 }));
          } else if (typeof token !== "string" || typeof storageUrl !== "string") {
            reject(new ObjectStoreError("ServerError", `Authentication at ${opts.authUrl} returned no X-Auth-Token or X-Storage-Url`));
          } else {
            resolve({ token, storageUrl: opts.transformStorageUrl ? opts.transformStorageUrl(storageUrl) : storageUrl });
          }
        });
      });
      req.end();
    });
}

/** pfsagentd's bypass storage URL: path element "v1" replaced by "proxyfs". */
export function proxyfsStorageUrl(url: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.replace(/^\/v1(\.0)?\//, "/proxyfs/");
  return u.toString().replace(/\/$/, "");
}
