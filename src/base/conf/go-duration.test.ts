import { test } from "node:test";
import assert from "node:assert/strict";
import { durationToMs, formatGoDuration, MAX_DURATION_NS, parseGoDuration } from "./go-duration.js";

test("parseGoDuration accepts Go syntax", () => {
  const cases: Array<[string, bigint]> = [
    ["0", 0n], ["+0", 0n], ["-0", 0n], ["0s", 0n],
    ["1ns", 1n], ["1us", 1_000n], ["1\u00b5s", 1_000n], ["1\u03bcs", 1_000n],
    ["100ms", 100_000_000n], ["1s", 1_000_000_000n], ["10m", 600_000_000_000n], ["1h", 3_600_000_000_000n],
    ["1m30s", 90_000_000_000n], ["1h30m", 5_400_000_000_000n], ["0.5s", 500_000_000n], [".5s", 500_000_000n],
    ["5.s", 5_000_000_000n], ["1.5h", 5_400_000_000_000n], ["1.1ms", 1_100_000n], ["0.0000000015s", 1n],
    ["1s500ms", 1_500_000_000n], ["-1.5s", -1_500_000_000n], ["+2m", 120_000_000_000n],
    ["2562047h47m16.854775807s", MAX_DURATION_NS],
  ];
  for (const [text, ns] of cases) assert.equal(parseGoDuration(text), ns, text);
});

test("parseGoDuration rejects what Go rejects", () => {
  for (const text of ["", "10", "1", "-", "s", ".s", "1x", "1S", "1.2.3s", "1 s", " 1s", "1s ", "1e3s", "2562047h47m16.854775808s", "9999999999999999999h"]) {
    assert.throws(() => parseGoDuration(text), { code: "DURATION_SYNTAX" }, text);
  }
});

test("formatGoDuration matches Go's Duration.String", () => {
  const cases: Array<[bigint, string]> = [
    [0n, "0s"], [1n, "1ns"], [1_100n, "1.1\u00b5s"], [2_200_000n, "2.2ms"], [3_300_000_000n, "3.3s"],
    [245_000_000_000n, "4m5s"], [245_001_000_000n, "4m5.001s"], [18_367_001_000_000n, "5h6m7.001s"],
    [480_000_000_001n, "8m0.000000001s"], [3_600_000_000_000n, "1h0m0s"], [600_000_000_000n, "10m0s"],
    [MAX_DURATION_NS, "2562047h47m16.854775807s"], [-1n, "-1ns"], [100_000_000n, "100ms"],
  ];
  for (const [ns, text] of cases) {
    assert.equal(formatGoDuration(ns), text);
    assert.equal(parseGoDuration(text), ns, `round trip ${text}`);
  }
});

test("durationToMs", () => {
  assert.equal(durationToMs(100_000_000n), 100);
  assert.equal(durationToMs(1_500_000n), 1.5);
  assert.equal(durationToMs(0n), 0);
});
