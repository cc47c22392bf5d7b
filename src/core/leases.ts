/**
 * What a resolution holds beyond its values (a Vault lease, a login token), driven through the sources' optional
 * lease hooks (src/sources/types.ts). The core knows no store: it asks each held state's source when to renew,
 * when a re-read is due, whether secretrun must stay the parent, and how to release it.
 */
import type { HeldState, Resolution } from './resolve.js';
import { describeError } from './errors.js';

/** Revocation at exit, a thrown-away resolution: 5 s at most in all (contract, `revoke_on_exit`). */
export const RELEASE_TIMEOUT_MS = 5000;

export function heldStates(resolution: Pick<Resolution, 'layers'> & Partial<Pick<Resolution, 'held'>>): HeldState[] {
  return [...resolution.layers.flatMap((l) => l.held ?? []), ...(resolution.held ?? [])];
}

/**
 * Release every held state (revoke leases and logins), concurrently, within `timeoutMs` in all. Returns one
 * warning per failure (never a value), in the order held.
 */
export async function releaseHeld(held: readonly HeldState[], { timeoutMs = RELEASE_TIMEOUT_MS }: { timeoutMs?: number } = {}): Promise<string[]> {
  // One state may be held by several layers (a shared login): released once.
  const seen = new Set<unknown>();
  const releasable = held.filter((h) => typeof h.source.release === 'function' && !seen.has(h.state) && (seen.add(h.state), true));
  if (releasable.length === 0) return [];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  timer.unref?.();
  const timedOut = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), { once: true }));
  timedOut.catch(() => {});
  const warnings: string[] = [];
  const releaseAll = async (group: HeldState[]) => {
    const outcomes = await Promise.allSettled(group.map((h) => Promise.race([h.source.release!(h.state, controller.signal), timedOut])));
    outcomes.forEach((o, i) => o.status === 'rejected' && warnings.push(`layer "${group[i].layer}": could not revoke: ${describeError(o.reason)}`));
  };
  try {
    // A resolution's own states (leases) first, then the session's one by one, the last obtained first: a login is
    // held before the leases read with it, and a lease must be revoked while its token still lives.
    await releaseAll(releasable.filter((h) => !h.session));
    for (const h of releasable.filter((x) => x.session).reverse()) await releaseAll([h]);
    return warnings;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Release what a resolution holds: its own leases (`ls`, `diff`, a failed start), and with `session: true` also
 * what belongs to the session, logins included (`revoke_on_exit`, a watcher's close).
 */
export function releaseResolution(resolution: Pick<Resolution, 'layers' | 'held'>, options: { timeoutMs?: number; session?: boolean } = {}): Promise<string[]> {
  return releaseHeld(heldStates(resolution).filter((h) => options.session || !h.session), options);
}

/** At exit: release what the resolution holds whose source asks for it (`revoke_on_exit`), session states included. */
export function releaseAtExit(resolution: Pick<Resolution, 'layers' | 'held'>, options: { timeoutMs?: number } = {}): Promise<string[]> {
  return releaseHeld(heldStates(resolution).filter((h) => h.source.releaseAtExit?.(h.state) === true), options);
}

/** Why secretrun must stay the child's parent for what this resolution holds (no execve), or undefined. */
export function leaseParentReason(resolution: Pick<Resolution, 'layers' | 'held'>): string | undefined {
  for (const h of heldStates(resolution)) {
    const reason = h.source.parentReason?.(h.state);
    if (reason) return `layer "${h.layer}": ${reason}`;
  }
  return undefined;
}

/** The earliest instant (epoch ms) at which a held state ends for good and its layer must be read again. */
export function refreshDueAt(resolution: Pick<Resolution, 'layers' | 'held'>): number | undefined {
  let due: number | undefined;
  for (const h of heldStates(resolution)) {
    const at = h.source.refreshAt?.(h.state);
    if (at !== undefined && (due === undefined || at < due)) due = at;
  }
  return due;
}

/**
 * Keep renewing what the resolution holds, each state at the instant its source names, for as long as secretrun
 * stays the parent. Timers never hold the process open. `onWarning` gets one line per failed renewal.
 */
export function startRenewals(held: readonly HeldState[], onWarning: (message: string) => void, { warnEnding = false }: { warnEnding?: boolean } = {}): { stop(): void } {
  // Nothing held (every run without a lease): no controller, no abort at stop. Each costs a relaying start about
  // half a millisecond (the abort builds a DOMException).
  if (held.length === 0) return { stop() {} };
  const controller = new AbortController();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  // Outside watch mode nothing re-reads a lease: say once, per state, when one will end under the running child.
  const warned = new Set<unknown>();
  const asked = new Set<unknown>();
  const ending = (h: HeldState) => {
    if (warnEnding && !asked.has(h.state) && h.source.endingWarning) {
      asked.add(h.state);
      h.source.endingWarning(h.state, controller.signal).then(
        (m) => m !== undefined && !controller.signal.aborted && onWarning(`layer "${h.layer}": ${m}`),
        () => {}, // a failed look-up is no warning: the run goes on as it would have
      );
    }
    const at = warnEnding && !warned.has(h.state) ? h.source.refreshAt?.(h.state) : undefined;
    if (at === undefined) return;
    warned.add(h.state);
    onWarning(`layer "${h.layer}": a lease can no longer be extended and ends soon after ${new Date(at).toISOString()} while the process runs; run with --watch to get fresh credentials before then`);
  };
  const schedule = (h: HeldState) => {
    ending(h);
    if (controller.signal.aborted || !h.source.renew || !h.source.renewAt) return;
    const at = h.source.renewAt(h.state);
    if (at === undefined) return;
    const timer = setTimeout(async () => {
      timers.delete(timer);
      try {
        await h.source.renew!(h.state, controller.signal);
      } catch (err) {
        if (controller.signal.aborted) return;
        onWarning(`layer "${h.layer}": renewal failed: ${describeError(err)}`);
      }
      schedule(h);
    }, Math.max(0, at - Date.now()));
    timer.unref?.();
    timers.add(timer);
  };
  for (const h of held) schedule(h);
  return {
    stop() {
      controller.abort();
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
