// Public API of volume/config/: proxyfsd's configuration and its TLS directory.
export { loadProxyfsdConfig, type ObjectStoreClientConfig, type ProxyfsdConfig, type ProxyfsdVolumeConfig } from "./proxyfsd-config.js";
export { forAccount, objectStoreForAccount } from "./object-store-for-account.js";
export { loadOrCreateTlsDirectory, TLS_FILES } from "./tls-directory.js";
