import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfBool, parseGoFloat, parseGoUint } from "./go-number.js";

test("parseGoUint: decimal only, range-checked per bit size", () => {
  assert.equal(parseGoUint("0", 8), 0n);
  assert.equal(parseGoUint("255", 8), 255n);
  assert.equal(parseGoUint("256", 8), undefined);
  assert.equal(parseGoUint("65535", 16), 65535n);
  assert.equal(parseGoUint("65536", 16), undefined);
  assert.equal(parseGoUint("4294967295", 32), 4294967295n);
  assert.equal(parseGoUint("18446744073709551615", 64), 18446744073709551615n);
  assert.equal(parseGoUint("18446744073709551616", 64), undefined);
  assert.equal(parseGoUint("007", 8), 7n);
  for (const bad of ["", "-1", "+1", "0x10", "1_000", " 1", "1.0", "1e3", "abc"]) assert.equal(parseGoUint(bad, 64), undefined, bad);
});

test("parseGoFloat: Go ParseFloat decimal forms", () => {
  assert.equal(parseGoFloat("1.4"), 1.4);
  assert.equal(parseGoFloat("1e3"), 1000);
  assert.equal(parseGoFloat(".5"), 0.5);
  assert.equal(parseGoFloat("5."), 5);
  assert.equal(parseGoFloat("-2.5E-1"), -0.25);
  assert.equal(parseGoFloat("inf"), Infinity);
  assert.equal(parseGoFloat("-Infinity"), -Infinity);
  assert.ok(Number.isNaN(parseGoFloat("NaN")));
  for (const bad of ["", "+nan", "1e400", "abc", "1.2.3", "0x1p-2", "1_0", " 1"]) assert.equal(parseGoFloat(bad), undefined, bad);
});

test("parseConfBool: true/yes/on, false/no/off, any case", () => {
  for (const t of ["true", "TRUE", "Yes", "on"]) assert.equal(parseConfBool(t), true, t);
  for (const f of ["false", "No", "OFF"]) assert.equal(parseConfBool(f), false, f);
  for (const bad of ["1", "0", "y", "", "enabled"]) assert.equal(parseConfBool(bad), undefined, bad);
});
