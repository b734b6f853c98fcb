import { test } from "node:test";
import assert from "node:assert/strict";
import { accountFromStorageURL, rewriteStorageURL, scanJsonObject } from "./index.js";

test("rewriteStorageURL: v1 -> proxyfs, account replaced, https upgrade for TLS-terminating proxies", () => {
  assert.equal(rewriteStorageURL({ authURL: "http://localhost:38080/auth/v1.0", storageURL: "http://localhost:38080/v1/AUTH_test", account: "AUTH_test" }),
    "http://localhost:38080/proxyfs/AUTH_test");
  assert.equal(rewriteStorageURL({ authURL: "http://h/auth/v1.0", storageURL: "http://h/v1/AUTH_test", account: "AUTH_other" }), "http://h/proxyfs/AUTH_other");
  assert.equal(rewriteStorageURL({ authURL: "https://h/auth/v1.0", storageURL: "http://h:8080/v1/AUTH_a", account: "AUTH_a" }), "https://h:8080/proxyfs/AUTH_a");
  assert.equal(rewriteStorageURL({ authURL: "https://h/auth/v1.0", storageURL: "https://h/v1/AUTH_a", account: "AUTH_a" }), "https://h/proxyfs/AUTH_a");
  assert.equal(rewriteStorageURL({ authURL: "http://h/a", storageURL: "http://h/v1/AUTH_a/extra", account: "B" }), "http://h/proxyfs/B/extra");
  assert.throws(() => rewriteStorageURL({ authURL: "http://h/a", storageURL: "http://h/v1", account: "B" }), { code: "STORAGE_URL" });
});

test("accountFromStorageURL", () => {
  assert.equal(accountFromStorageURL("http://localhost:38080/proxyfs/AUTH_test"), "AUTH_test");
  assert.equal(accountFromStorageURL("https://h/proxyfs/AUTH_x"), "AUTH_x");
  for (const bad of ["", "http://h/v1/AUTH_x", "http://h/proxyfs/", "ftp://h/proxyfs/A", "http:/h/proxyfs/A"]) {
    assert.throws(() => accountFromStorageURL(bad), { code: "STORAGE_URL" }, bad);
  }
});

test("scanJsonObject: complete, incomplete, garbage", () => {
  assert.deepEqual(scanJsonObject('  {"a":"}{\\"x"} trailing'), { kind: "complete", value: { a: '}{"x' }, rest: " trailing" });
  assert.deepEqual(scanJsonObject('{"AuthToken":"t","Stor'), { kind: "incomplete" });
  assert.deepEqual(scanJsonObject("   "), { kind: "incomplete" });
  assert.equal(scanJsonObject("hello").kind, "garbage");
  assert.equal(scanJsonObject("{oops}").kind, "garbage");
  assert.equal(scanJsonObject("{" + " ".repeat(70_000)).kind, "garbage");
});
