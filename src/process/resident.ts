/**
 * The one answer to "must secretrun stay as the child's parent?" (contract section 4, `--no-exec`). Where Node
 * has process.execve and no reason below applies, the child takes over secretrun's process; otherwise secretrun
 * spawns it and stays, relaying signals. `run` prints the reason under SECRETRUN_DEBUG=1.
 *
 * Adding a reason: one field in `ResidentInput` and one row in `RESIDENT_REASONS` (first match is the one shown).
 */
export interface ResidentInput {
  /** We are PID 1 (a container entrypoint). */
  pid1: boolean;
  /** `--no-exec`. */
  noExec?: boolean;
  /** `--mask`: we copy the child's output through the redactor. */
  mask?: boolean;
  /** `--watch` or `--listen`: we re-resolve and restart the child. */
  watch?: boolean;
  /** `as_file` / `--as-file` / `--mount`: we serve the files and remove them when the child is gone. */
  files?: boolean;
  /** Why what the layers hold needs us (a lease read with a login token, revoke_on_exit): the lease hooks' answer (core/leases.ts). */
  held?: string;
}

export const RESIDENT_REASONS: readonly { applies(input: ResidentInput): boolean; reason: string }[] = [
  // A program exec'd as PID 1 gets no default signal actions (SIGTERM would not stop a child that never installed
  // a handler) and must reap every orphan in the container, which few programs do; our relaying parent does both.
  { applies: (i) => i.pid1, reason: 'secretrun is PID 1 (it relays signals and reaps orphans)' },
  { applies: (i) => !!i.noExec, reason: '--no-exec' },
  { applies: (i) => !!i.mask, reason: '--mask copies the output' },
  { applies: (i) => !!i.watch, reason: '--watch/--listen restart the command' },
  { applies: (i) => !!i.files, reason: 'secret files (as_file, --mount) are served and removed at exit' },
  { applies: (i) => !!i.held, reason: 'what the layers hold (leases, logins) is renewed for the command or revoked at its end' },
];

/** Why secretrun must stay as the parent, or undefined when the child may take over its process. */
export function residentParentReason(input: ResidentInput): string | undefined {
  return RESIDENT_REASONS.find((r) => r.applies(input))?.reason;
}
