// Public API of volume/config/: proxyfsd's configuration and its TLS directory.
export { loadProxyfsdConfig, type ProxyfsdConfig, type ProxyfsdVolumeConfig } from "./proxyfsd-config.js";
export { loadOrCreateTlsDirectory, TLS_FILES } from "./tls-directory.js";
