// Retry schedule of Swift requests, reproducing pfsagentd's doHTTPRequest (pfsagent.md §9):
// nominal[0] = SwiftRetryDelay, nominal[i+1] = nominal[i] * SwiftRetryExpBackoff, and the sleep
// before retry i is nominal[i] minus a uniform random amount in [0, nominal[i] * variance / 100).
// A request makes at most 1 + SwiftRetryLimit attempts.

export interface SwiftRetryConfig {
  /** SwiftRetryLimit: retries after the first attempt (0 = never retry). */
  limit: number;
  /** SwiftRetryDelay in milliseconds: nominal delay before the first retry. */
  delayMs: number;
  /** SwiftRetryDelayVariance: percent of jitter, 1..100. */
  variancePercent: number;
  /** SwiftRetryExpBackoff: multiplier per retry (>= 1 in practice). */
  expBackoff: number;
}

/** The sample values of pfsagent.conf. */
export const DEFAULT_RETRY: Readonly<SwiftRetryConfig> = Object.freeze({ limit: 10, delayMs: 1000, variancePercent: 25, expBackoff: 1.4 });

export class RetryPolicy {
  readonly config: Readonly<SwiftRetryConfig>;
  readonly #random: () => number;

  /** @throws RangeError when a value is out of range (as pfsagentd refuses to start). */
  constructor(config: Partial<SwiftRetryConfig> = {}, random: () => number = Math.random) {
    const c = { ...DEFAULT_RETRY, ...config };
    if (!Number.isSafeInteger(c.limit) || c.limit < 0) throw new RangeError(`SwiftRetryLimit ${c.limit} must be a non-negative integer`);
    if (!(c.delayMs >= 0) || !Number.isFinite(c.delayMs)) throw new RangeError(`SwiftRetryDelay ${c.delayMs} ms must be a non-negative number`);
    if (!Number.isInteger(c.variancePercent) || c.variancePercent < 1 || c.variancePercent > 100) {
      throw new RangeError(`SwiftRetryDelayVariance ${c.variancePercent} must be an integer percent in 1..100`);
    }
    if (!(c.expBackoff > 0) || !Number.isFinite(c.expBackoff)) throw new RangeError(`SwiftRetryExpBackoff ${c.expBackoff} must be a positive number`);
    this.config = Object.freeze(c);
    this.#random = random;
  }

  /** Nominal delay before retry `i` (0-based). */
  nominalMs(i: number): number {
    return this.config.delayMs * this.config.expBackoff ** i;
  }

  /** Actual sleep before retry `i`: in (nominal * (1 - variance%), nominal]. */
  delayMs(i: number): number {
    const n = this.nominalMs(i);
    return n - this.#random() * (n * this.config.variancePercent) / 100;
  }
}
