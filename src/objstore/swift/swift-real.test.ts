// The conformance suite through SwiftObjectStore against a real OpenStack Swift (SAIO from
// scripts/swift-saio.sh), only when PFS_TEST_SWIFT=1.
import { objectStoreConformance } from "../testing/object-store-conformance.js";
import { SwiftObjectStore } from "./swift-object-store.js";
import { tempAuth } from "./tempauth.js";

const enabled = process.env.PFS_TEST_SWIFT === "1";

objectStoreConformance(
  "swift client -> real Swift",
  async () => new SwiftObjectStore({
    authenticate: tempAuth({ authUrl: "http://127.0.0.1:8080/auth/v1.0", user: "test:tester", key: "testing" }),
    retry: { limit: 3, delayMs: 200 },
    timeoutMs: 60_000,
  }),
  { skip: enabled ? false : "set PFS_TEST_SWIFT=1 (and run scripts/swift-saio.sh start) to test against real Swift" },
);
