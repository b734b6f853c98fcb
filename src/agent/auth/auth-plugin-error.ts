// Errors of the auth plug-in runner. Codes are stable:
//  - AUTH_PLUGIN_SPAWN: the executable could not be started at all (missing, not executable); not retried.
//  - AUTH_PLUGIN_TIMEOUT: no valid reply within the request bound (plug-in slow, dying or printing garbage).
//  - AUTH_PLUGIN_STOPPED: stop() was called while waiting.
//  - AUTH_PLUGIN_REPLY: one attempt failed (exit, garbage, no reply in time); logged and retried internally.
export type AuthPluginErrorCode = "AUTH_PLUGIN_SPAWN" | "AUTH_PLUGIN_TIMEOUT" | "AUTH_PLUGIN_STOPPED" | "AUTH_PLUGIN_REPLY";

export class AuthPluginError extends Error {
  override readonly name = "AuthPluginError";
  readonly code: AuthPluginErrorCode;

  constructor(code: AuthPluginErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
