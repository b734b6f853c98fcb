// StorageURL shape shared by the plug-in (which builds it) and the agent (which reads the
// account out of it): "<scheme>://<host[:port]>/proxyfs/<Account>". The "proxyfs" version tells
// pfs_middleware to bypass ProxyFS for object GET/PUT.

export class StorageUrlError extends Error {
  override readonly name = "StorageUrlError";
  readonly code = "STORAGE_URL";
}

/**
 * What the reference plug-in does with tempauth's X-Storage-Url: if AuthURL is https:// but the
 * storage URL is http:// (TLS-terminating proxy), the first "http://" becomes "https://"; then
 * the URL is split on "/" and element 3 (the API version, "v1") is replaced by "proxyfs" and
 * element 4 by `account`. Later elements are kept.
 * @throws StorageUrlError if the URL has fewer than 5 "/"-separated elements.
 */
export function rewriteStorageURL(args: { readonly authURL: string; readonly storageURL: string; readonly account: string }): string {
  let url = args.storageURL;
  if (args.authURL.startsWith("https://") && url.startsWith("http://")) url = url.replace("http://", "https://");
  const parts = url.split("/");
  if (parts.length < 5) {
    throw new StorageUrlError(`storage URL ${JSON.stringify(args.storageURL)} is not of the form scheme://host/v1/<account>`);
  }
  parts[3] = "proxyfs";
  parts[4] = args.account;
  return parts.join("/");
}

/**
 * The account name of a StorageURL ("AUTH_test" of "http://h:8080/proxyfs/AUTH_test"), i.e.
 * element 4 of its "/"-split, as pfsagentd uses it for RpcMountByAccountName.
 * @throws StorageUrlError if the URL does not look like scheme://host/proxyfs/<account>.
 */
export function accountFromStorageURL(storageURL: string): string {
  const parts = storageURL.split("/");
  if (parts.length < 5 || !/^https?:$/.test(parts[0]!) || parts[1] !== "" || parts[2] === "" || parts[3] !== "proxyfs" || parts[4] === "") {
    throw new StorageUrlError(`storage URL ${JSON.stringify(storageURL)} is not of the form http(s)://host[:port]/proxyfs/<account>`);
  }
  return parts[4]!;
}
