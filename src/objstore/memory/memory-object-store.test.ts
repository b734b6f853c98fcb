import { objectStoreConformance } from "../testing/object-store-conformance.js";
import { MemoryObjectStore } from "./memory-object-store.js";

objectStoreConformance("memory", async () => new MemoryObjectStore());
