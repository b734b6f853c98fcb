import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateServerCredentials, loadServerCredentials, CredentialsError } from "./tls-credentials.js";
import { capturedRootCaPem, capturedServerCertDerHex } from "./testing/captured-frames.js";

test("generated CA and server certificate have the shape 1.17.1 proxyfsd produces", async () => {
  const c = await generateServerCredentials({ publicAddress: "127.0.0.1", now: new Date("2026-06-15T12:00:00Z") });
  const ca = new X509Certificate(c.caCertPem);
  const srv = new X509Certificate(c.certPem);
  const refCa = new X509Certificate(capturedRootCaPem);
  const refSrv = new X509Certificate(Buffer.from(capturedServerCertDerHex, "hex"));
  assert.equal(ca.subject, refCa.subject);
  assert.equal(ca.issuer, refCa.issuer);
  assert.equal(srv.subject, refSrv.subject);
  assert.equal(srv.issuer, refSrv.issuer);
  assert.equal(ca.ca, true);
  assert.equal(srv.ca, false);
  assert.equal(srv.subjectAltName, refSrv.subjectAltName);
  assert.equal(srv.subjectAltName, "IP Address:127.0.0.1");
  assert.equal(ca.publicKey.asymmetricKeyType, "ed25519");
  assert.equal(srv.publicKey.asymmetricKeyType, refSrv.publicKey.asymmetricKeyType);
  assert.equal(new Date(ca.validFrom).toISOString(), "2025-01-01T00:00:00.000Z");
  assert.equal(new Date(srv.validTo).toISOString(), "2125-01-01T00:00:00.000Z");
  assert.ok(srv.verify(ca.publicKey), "server certificate is signed by the CA");
  assert.ok(ca.verify(ca.publicKey), "CA is self-signed");
  assert.ok(srv.checkIssued(ca));
  assert.equal(srv.checkIP("127.0.0.1"), "127.0.0.1");
  assert.notEqual(ca.serialNumber, srv.serialNumber);
  assert.ok(srv.checkPrivateKey(createPrivateKey(c.keyPem)));
  assert.deepEqual(ca.keyUsage, refCa.keyUsage, "extended key usage serverAuth, as 1.17.1");
  assert.deepEqual(srv.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
});

test("a host name becomes a DNS SAN; bad addresses and SANs are refused", async () => {
  const c = await generateServerCredentials({ publicAddress: "proxyfs.example", extraSubjectAltNames: ["IP:10.1.2.3"] });
  const srv = new X509Certificate(c.certPem);
  assert.equal(srv.subjectAltName, "DNS:proxyfs.example, IP Address:10.1.2.3");
  assert.equal(srv.checkHost("proxyfs.example"), "proxyfs.example");
  await assert.rejects(generateServerCredentials({ publicAddress: "bad name!" }), CredentialsError);
  await assert.rejects(generateServerCredentials({ publicAddress: "127.0.0.1", extraSubjectAltNames: ["IP:1.2.3.4,DNS:x"] }), /must look like/);
  await assert.rejects(generateServerCredentials({ publicAddress: "127.0.0.1", opensslPath: "/nonexistent/openssl" }), /not installed/);
});

test("credentials load from PEM files, with clear errors", async () => {
  const c = await generateServerCredentials({ publicAddress: "127.0.0.1" });
  const dir = await mkdtemp(join(tmpdir(), "creds-test-"));
  try {
    await writeFile(join(dir, "ca.pem"), c.caCertPem);
    await writeFile(join(dir, "srv.pem"), c.certPem);
    await writeFile(join(dir, "srv.key"), c.keyPem);
    await writeFile(join(dir, "junk"), "hello");
    const l = await loadServerCredentials({ caCertFile: join(dir, "ca.pem"), certFile: join(dir, "srv.pem"), keyFile: join(dir, "srv.key") });
    assert.deepEqual(l, c);
    await assert.rejects(loadServerCredentials({ caCertFile: join(dir, "nope"), certFile: "", keyFile: "" }), /cannot read CA certificate file/);
    await assert.rejects(loadServerCredentials({ caCertFile: join(dir, "ca.pem"), certFile: join(dir, "junk"), keyFile: "" }), /holds no PEM block/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
