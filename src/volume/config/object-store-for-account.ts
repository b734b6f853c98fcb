// The Swift client proxyfsd (and `pfs mkfs/fsck --conf`) use for one volume's account, built from
// [ObjectStore]: tempauth credentials (or a fixed token and storage URL) re-pointed at the
// volume's AccountName, with the section's timeout, retry and pool settings.
import { SwiftObjectStore, tempAuth, type SwiftAuthenticate } from "../../objstore/index.js";
import type { ProxyfsdConfig } from "./proxyfsd-config.js";

/** The account URL of `account` on the same Swift (…/v1/AUTH_x -> …/v1/<account>). */
export function forAccount(storageUrl: string, account: string): string {
  const u = new URL(storageUrl);
  const parts = u.pathname.split("/");
  parts[parts.length - 1] = encodeURIComponent(account);
  u.pathname = parts.join("/");
  return u.toString().replace(/\/$/, "");
}

/** undefined when the configuration has no [ObjectStore] section. */
export function objectStoreForAccount(cfg: ProxyfsdConfig, account: string, userAgent: string): SwiftObjectStore | undefined {
  const o = cfg.objectStore;
  if (o === undefined) return undefined;
  let authenticate: SwiftAuthenticate;
  if ("authUrl" in o) {
    authenticate = tempAuth({ authUrl: o.authUrl, user: o.authUser, key: o.authKey, transformStorageUrl: (url) => forAccount(url, account) });
  } else {
    const creds = { token: o.authToken, storageUrl: forAccount(o.storageUrl, account) };
    authenticate = async () => creds;
  }
  return new SwiftObjectStore({ authenticate, userAgent, timeoutMs: o.client.timeoutMs, retry: o.client.retry, connectionPoolSize: o.client.connectionPoolSize });
}
