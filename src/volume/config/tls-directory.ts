// The retryrpc TLS material of proxyfsd kept in a directory ([TLS] Directory): ca.pem (given to
// agents in the mount reply), server.pem and server.key. Present files are loaded, so agents keep
// trusting the same CA across restarts; a missing directory or missing files are created (a new CA
// whose server certificate names publicAddress). The key file is 0600, the directory 0700.
// 1.17.1 made a new CA in memory at every start; keeping it is our choice (agents remount less).

import { existsSync } from "node:fs";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateServerCredentials, loadServerCredentials, type ServerCredentials } from "../../rpc/index.js";

export const TLS_FILES = { caCertFile: "ca.pem", certFile: "server.pem", keyFile: "server.key" } as const;

/** @returns the credentials and whether they were created now. @throws CredentialsError, fs errors */
export async function loadOrCreateTlsDirectory(dir: string, publicAddress: string): Promise<{ credentials: ServerCredentials; created: boolean }> {
  const files = { caCertFile: join(dir, TLS_FILES.caCertFile), certFile: join(dir, TLS_FILES.certFile), keyFile: join(dir, TLS_FILES.keyFile) };
  const present = Object.values(files).filter((f) => existsSync(f)).length;
  if (present === 3) return { credentials: await loadServerCredentials(files), created: false };
  if (present !== 0) throw new Error(`TLS directory ${dir} holds only some of ${Object.values(TLS_FILES).join(", ")}; remove them to create new ones, or add the missing ones`);
  const credentials = await generateServerCredentials({ publicAddress });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Write under temporary names first, so a crash never leaves a partial set behind.
  const put = async (path: string, text: string, mode: number) => {
    await writeFile(`${path}.tmp`, text, { mode });
    await chmod(`${path}.tmp`, mode);
    await rename(`${path}.tmp`, path);
  };
  await put(files.keyFile, credentials.keyPem, 0o600);
  await put(files.certFile, credentials.certPem, 0o644);
  await put(files.caCertFile, credentials.caCertPem, 0o644);
  return { credentials, created: true };
}
