/**
 * `run --watch` / `run --listen`: keep the child running and re-resolve when a trigger asks (an interval poll, a
 * local file change, a webhook; see watch-engine.ts). When the merged set changes, restart the child with the new
 * environment (or only send it a signal). A failed re-resolve keeps the current child: we never restart with a
 * partial set. Nothing is written to disk, and the long-lived state holds digests, not values.
 */
import { relaySignals, type ChildEnd, type RunningChild, type SignalPolicy } from './child.js';
import type { Resolved } from '../core/pipeline.js';
import { ConfigErrors, SecretrunError, describeError, registerSecret } from '../core/errors.js';
import { valuesOf } from '../core/resolve.js';
import { heldStates, refreshDueAt, releaseAtExit, releaseHeld, startRenewals } from '../core/leases.js';
import { describeChanges, fileTrigger, leaseTrigger, localFilesOf, pollTrigger, WatchEngine, type CheckResult, type KeyChanges, type Trigger, type TriggerReason } from './watch-engine.js';
import { isLoopback, webhookTrigger, WEBHOOK_SECRET_VAR, type ListenAddress } from './webhook.js';

// ---- what the engine is told (parsed from run's flags in src/cli/watch-flags.ts) ----------------------------

export type OnChange = { action: 'restart'; signal: NodeJS.Signals; graceMs: number } | { action: 'signal'; signal: NodeJS.Signals };

export interface WatchSettings {
  /** The poll interval; absent with `--listen` alone (push only). */
  intervalMs?: number;
  onChange: OnChange;
  /** `--listen`: the webhook listener's address. */
  listen?: ListenAddress;
  /** `--jitter`: the longest random wait before a webhook- or poll-triggered re-resolve. */
  jitterMs?: number;
}

/** One line for the failure warning. */
export function failureCause(err: unknown): string {
  if (err instanceof ConfigErrors && err.errors.length > 0) {
    const more = err.errors.length - 1;
    return err.errors[0].message + (more > 0 ? ` (+${more} more problem${more > 1 ? 's' : ''})` : '');
  }
  return describeError(err);
}

// ---- the watched child ---------------------------------------------------------------------------------------

export interface WatchRun extends WatchSettings {
  /** Where the session's log lines go (the CLI's stderr, `secretrun:`-prefixed; quiet with -q). */
  log: { info(message: string): void; warn(message: string): void };
  policy: SignalPolicy;
  processEnv: Readonly<Record<string, string | undefined>>;
  /** Resolve every layer again and check `require`; throws on any failure. */
  resolve(signal: AbortSignal): Promise<Resolved>;
  /** Start the child with the environment of this resolution. */
  start(resolved: Resolved): RunningChild;
  /** The `--mask` secrets of a resolution (for `--on-change=signal:...`, where the child stays). */
  maskFor?(resolved: Resolved): ReadonlyMap<string, string>;
}

/**
 * Signals after which secretrun is on its way out: they are forwarded as in plain `run`, no re-resolve or restart
 * happens any more, and secretrun exits when the child does. SIGHUP, SIGUSR1 and SIGUSR2 are only forwarded and
 * watching goes on: SIGHUP is how service managers ask for a reload (systemd's `ExecReload=kill -HUP $MAINPID`).
 * The signal named by `--on-change=signal:X` is never an ending one: for this child it means "reload".
 */
const ENDING_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGTERM', 'SIGINT', 'SIGQUIT']);

/** Which trigger a log line names when several joined one check. */
const WHO_FIRST: TriggerReason[] = ['webhook', 'file', 'reload', 'lease', 'poll', 'retry'];

/** The webhook signing secret: from the merged layers (it may live in SSM), else the parent environment. */
function webhookSecret(resolved: Resolved, processEnv: Readonly<Record<string, string | undefined>>): string | undefined {
  const secret = resolved.resolution.entries.get(WEBHOOK_SECRET_VAR)?.value ?? processEnv[WEBHOOK_SECRET_VAR];
  return secret === '' ? undefined : secret;
}

/**
 * Run the child under watch; resolves with how the last child ended, like plain `run`. Rejects before any child
 * starts when the listener can't start, or would face the network unsigned.
 */
export async function runWatched(initial: Resolved, settings: WatchRun): Promise<ChildEnd> {
  const session = new WatchSession(initial, settings);
  await session.listen();
  return session.start();
}

class WatchSession {
  private child!: RunningChild;
  private readonly engine: WatchEngine<Resolved>;
  private readonly triggers: Trigger<Resolved>[] = [];
  /**
   * The webhook signing secret: the latest a resolution gave. Once there is one it stays required: a layer that
   * stops providing it leaves the last one in force rather than opening the listener to unsigned requests.
   */
  private signingSecret?: string;
  /** A terminating signal arrived, or the session is over: never start another child or re-resolve. */
  private stopping = false;
  private finished = false;
  private restarting = false;
  private releaseSignals: () => void = () => {};
  /** The resolution the running child got, and the renewals of what it holds (leases, logins). */
  private current: Resolved;
  private renewals: { stop(): void };
  private warnedSignalLease = false;
  private settle!: { resolve: (end: ChildEnd) => void; reject: (err: unknown) => void };

  constructor(
    private readonly initial: Resolved,
    private readonly s: WatchRun,
  ) {
    this.signingSecret = webhookSecret(initial, s.processEnv);
    this.current = initial;
    this.renewals = startRenewals(heldStates(initial.resolution), (m) => s.log.warn(m));
    this.engine = new WatchEngine(initial, {
      resolve: s.resolve,
      // What the child gets: the signing secret is ours, so rotating it restarts nothing.
      values: (r) => {
        // The inherited environment's resolved references (no sources file) reach the child too.
        const values = { ...valuesOf(r.resolution), ...r.resolution.inherited };
        delete values[WEBHOOK_SECRET_VAR];
        return values;
      },
      onChecked: (result) => this.onChecked(result),
      onFailure: (err, _reasons, failures) => {
        if (failures === 1) s.log.warn(`re-resolve failed, keeping the current process: ${failureCause(err)}; retrying`);
      },
      onRecovered: () => s.log.info('sources readable again'),
      // A bug in watching must not take the application down: stop watching, keep waiting for the child.
      onInternalError: (err) => {
        s.log.warn(`watch stopped after an internal error, the process keeps running: ${describeError(err)}`);
        this.stop();
      },
      jitterMs: s.jitterMs,
      retryCapMs: s.intervalMs,
    });
    if (s.intervalMs !== undefined) this.triggers.push(pollTrigger(s.intervalMs));
    this.triggers.push(fileTrigger(initial, (r) => localFilesOf(r, s.processEnv)));
    this.triggers.push(leaseTrigger(initial, (r) => refreshDueAt(r.resolution)));
  }

  /** Bind the webhook listener, if any: before the child starts, so a bad address fails the run (125). */
  async listen(): Promise<void> {
    const address = this.s.listen;
    if (!address) return;
    if (this.signingSecret === undefined && !isLoopback(address.host)) {
      throw new SecretrunError(`--listen ${address.host}: a non-loopback address needs a signing secret: set ${WEBHOOK_SECRET_VAR} (in the environment or a layer), or listen on 127.0.0.1`);
    }
    registerSecret(this.signingSecret);
    this.triggers.push(
      webhookTrigger({
        address,
        secret: () => this.signingSecret,
        health: () => ({ pid: this.child && !this.child.exited && !this.restarting ? this.child.child.pid : undefined, lastCheck: this.engine.lastCheck, keys: this.engine.keyCount }),
        onListening: (url) => this.s.log.info(`listening for reload webhooks on ${url}`),
      }),
    );
  }

  async start(): Promise<ChildEnd> {
    const done = new Promise<ChildEnd>((resolve, reject) => (this.settle = { resolve, reject }));
    try {
      await this.engine.start(this.triggers);
    } catch (err) {
      await this.engine.close();
      throw err;
    }
    this.releaseSignals = relaySignals(this.s.policy, (sig, forward) => this.onSignal(sig, forward));
    this.launch(this.initial);
    return done;
  }

  private launch(resolved: Resolved): void {
    let child: RunningChild;
    try {
      child = this.s.start(resolved);
    } catch (err) {
      return this.fail(err);
    }
    this.child = child;
    child.ended.then(
      (end) => {
        // A child stopped by our own restart is expected to end; anything else ends the session, as in plain run.
        if (this.child === child && !this.restarting) this.finish(end);
      },
      (err) => {
        if (this.child === child) this.fail(err);
      },
    );
  }

  private onSignal(sig: NodeJS.Signals, forward: boolean): void {
    if (forward) this.child.signal(sig);
    const reload = this.s.onChange.action === 'signal' && this.s.onChange.signal === sig;
    if (ENDING_SIGNALS.has(sig) && !reload) this.stop();
  }

  private async onChecked({ reasons, resolved, changes }: CheckResult<Resolved>): Promise<void> {
    if (this.stopping) return;
    const secret = webhookSecret(resolved, this.s.processEnv);
    if (secret !== undefined) {
      registerSecret(secret);
      this.signingSecret = secret;
    }
    // Who asked, when several triggers joined one check: the most specific one.
    const who = WHO_FIRST.find((r) => reasons.includes(r)) ?? reasons[0];
    if (changes) await this.apply(who, changes, resolved);
    else if (reasons.includes('webhook')) this.s.log.info('webhook: no change');
    await this.adopt(resolved, !!changes);
  }

  /**
   * The new resolution is the current one: renew what it holds from now on, and revoke what only the old one held
   * (a lease replaced before its end), after the child restarted with the new values.
   */
  private async adopt(resolved: Resolved, changed: boolean): Promise<void> {
    const before = heldStates(this.current.resolution);
    const now = heldStates(resolved.resolution);
    const kept = new Set(now.map((h) => h.state));
    const gone = before.filter((h) => !kept.has(h.state));
    if (changed && gone.length > 0 && this.s.onChange.action === 'signal' && !this.warnedSignalLease) {
      this.warnedSignalLease = true;
      this.s.log.warn('a leased secret was read again, but a signal cannot give the running process its new value; its old one is revoked now (use secrets as files, `as_file:`, to hand it over)');
    }
    this.current = resolved;
    this.renewals.stop();
    this.renewals = startRenewals(now, (m) => this.s.log.warn(m));
    for (const message of await releaseHeld(gone)) this.s.log.warn(message);
  }

  private async apply(who: TriggerReason, changes: KeyChanges, resolved: Resolved): Promise<void> {
    const what = `${who}: ${describeChanges(changes)}`;
    const onChange = this.s.onChange;
    if (onChange.action === 'signal') {
      this.s.log.info(`${what}; sent ${onChange.signal} (the running process keeps its old environment)`);
      if (this.s.maskFor) this.child.extendMask(this.s.maskFor(resolved));
      this.child.signal(onChange.signal);
      return;
    }
    this.s.log.info(`${what}; restarting`);
    await this.restart(resolved, onChange.signal, onChange.graceMs);
  }

  /** Stop the child (signal, then SIGKILL after the grace period) and start it again, unless we are stopping. */
  private async restart(resolved: Resolved, signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const old = this.child;
    // It exited on its own meanwhile: that ends the session (see launch), as in plain run.
    if (old.exited) return;
    this.restarting = true;
    let end: ChildEnd;
    old.signal(signal);
    const kill = setTimeout(() => {
      if (old.exited) return;
      this.s.log.warn(`the process did not exit within ${graceMs / 1000}s of ${signal}; sending SIGKILL`);
      old.signal('SIGKILL');
    }, graceMs);
    try {
      end = await old.ended;
    } finally {
      clearTimeout(kill);
      this.restarting = false;
    }
    // A terminating signal during the restart cancels it: the old child's end is ours.
    if (this.stopping) return this.finish(end);
    this.launch(resolved);
  }

  /** A terminating signal arrived: no more re-resolves or restarts; the session ends when the child exits. */
  private stop(): void {
    this.stopping = true;
    void this.engine.close();
  }

  private finish(end: ChildEnd): void {
    this.close(() => this.settle.resolve(end));
  }

  /** After the child's end, before secretrun exits: `revoke_on_exit` (5 s at most, failures are warnings). */
  private async atExit(): Promise<void> {
    this.renewals.stop();
    for (const message of await releaseAtExit(this.current.resolution)) this.s.log.warn(message);
  }

  /** A child could not be started (e.g. the program was removed): there is no child left to wait for. */
  private fail(err: unknown): void {
    this.close(() => this.settle.reject(err));
  }

  private close(settle: () => void): void {
    if (this.finished) return;
    this.finished = true;
    this.stop();
    this.releaseSignals();
    void this.atExit().finally(settle);
  }
}
