/**
 * References in values (contract section 3b): `ref+SCHEME://BODY[?PARAMS][#/POINTER][+]`, vals' grammar
 * (`secretref+` reads as `ref+`). A scheme is the `reference` hook of a source type's descriptor; this module
 * parses and checks references, hands each scheme's distinct targets to its hook in one call (schemes in
 * parallel), applies `#/pointer`, and puts the values in place. It knows no store.
 *
 * Messages show a reference's scheme and path (`ref+awsssm://prod/db/password`), never a parameter's value or the
 * rest of a value an embedded reference sits in. Resolution is one level: a resolved value is never scanned again.
 */
import { SecretrunError, describeError } from './errors.js';
import type { ReferenceHook, ReferenceTarget, ReferenceValue, SourceContext } from '../sources/types.js';

/** `ref+SCHEME://` or `secretref+SCHEME://`, not inside a longer word. */
const START = /(?<![A-Za-z0-9_])(?:secret)?ref\+([A-Za-z][A-Za-z0-9]*):\/\//g;

export type Schemes = Pick<ReadonlyMap<string, ReferenceHook>, 'get' | 'keys'>;

/**
 * The schemes the source types offer (the registry's descriptors with a `reference` hook), collected when first
 * asked: a run whose values hold no reference never reads a descriptor's hook (in the CLI bundle, reading a deferred
 * descriptor's property initialises its module: `deferredSource`, ../sources/descriptor.ts).
 */
export function schemesOf(sources: readonly { reference?: ReferenceHook }[]): Schemes {
  let map: Map<string, ReferenceHook> | undefined;
  const all = () => (map ??= new Map(sources.flatMap((s) => (s.reference ? [[s.reference.scheme, s.reference] as const] : []))));
  return { get: (scheme) => all().get(scheme), keys: () => all().keys() };
}

export interface Reference {
  /** Where the reference sits in its value, its closing `+` included. */
  start: number;
  end: number;
  scheme: string;
  target: ReferenceTarget;
  /** The decoded tokens of `#/a/b`, when given. */
  pointer?: string[];
  /** `ref+SCHEME://PATH`: what messages show. */
  shown: string;
}

/** A reference that can't be read as written: the message names the scheme and path, the caller adds the key. */
export class ReferenceProblem extends SecretrunError {
  static {
    this.prototype.name = 'ReferenceProblem';
  }
}

/** One `includes` before any parsing: a value without `ref+` is never a reference. */
export function mayHoldReference(value: string): boolean {
  return value.includes('ref+');
}

/**
 * The references in a value, in order. An unknown scheme is a problem (`unknown: 'error'`, a layer's value) or
 * is left alone (`'skip'`, the inherited environment: it may be another tool's).
 */
export function parseReferences(value: string, schemes: Schemes, unknown: 'error' | 'skip' = 'error'): Reference[] {
  if (!mayHoldReference(value)) return [];
  const out: Reference[] = [];
  const re = new RegExp(START.source, 'g');
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    const bodyStart = m.index + m[0].length;
    let end = bodyStart;
    while (end < value.length && value[end] !== '+' && value[end] !== '\n' && value[end] !== '\r') end++;
    const closing = value[end] === '+' ? end + 1 : end;
    re.lastIndex = closing;
    const scheme = m[1];
    const hook = schemes.get(scheme);
    if (!hook) {
      if (unknown === 'skip') continue;
      throw new ReferenceProblem(`ref+${scheme}://: unknown reference scheme (known: ${[...schemes.keys()].map((s) => `ref+${s}`).join(', ') || 'none'})`);
    }
    out.push({ start: m.index, end: closing, ...parseBody(hook, value.slice(bodyStart, end)) });
  }
  return out;
}

function parseBody(hook: ReferenceHook, body: string): Omit<Reference, 'start' | 'end'> {
  const scheme = hook.scheme;
  const hash = body.indexOf('#');
  const beforeHash = hash < 0 ? body : body.slice(0, hash);
  const question = beforeHash.indexOf('?');
  const path = question < 0 ? beforeHash : beforeHash.slice(0, question);
  const shown = `ref+${scheme}://${path}`;
  const problem = (what: string) => new ReferenceProblem(`${shown}: ${what}`);
  if (path.replace(/\//g, '') === '') throw problem('no path to read');
  const params: Record<string, string> = {};
  if (question >= 0) {
    for (const pair of beforeHash.slice(question + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      if (!hook.params.includes(name)) {
        const accepted = hook.params.length ? `accepted: ${hook.params.join(', ')}` : 'it takes none';
        throw problem(`parameter ${JSON.stringify(name.slice(0, 40))} is not accepted (${accepted}); a reference names what to read, never where to send credentials`);
      }
      if (name in params) throw problem(`parameter "${name}" is given twice`);
      let v: string;
      try {
        v = decodeURIComponent(eq < 0 ? '' : pair.slice(eq + 1));
      } catch {
        throw problem(`parameter "${name}" is not valid percent-encoding`);
      }
      if (v === '') throw problem(`parameter "${name}" is empty`);
      params[name] = v;
    }
  }
  let pointer: string[] | undefined;
  if (hash >= 0) {
    if (hook.pointer === 'refused') throw problem(`a "#" fragment is not supported by ref+${scheme} (it reads one value)`);
    const fragment = body.slice(hash + 1);
    if (!fragment.startsWith('/') || fragment === '/') throw problem('the "#" fragment must be a JSON pointer such as #/key');
    pointer = fragment.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  } else if (hook.pointer === 'required') throw problem(`ref+${scheme} needs a "#/field" naming the field to read`);
  const target = { path, params };
  const bad = hook.check?.(target);
  if (bad !== undefined) throw problem(bad);
  return { scheme, target, pointer, shown };
}

/** The parts of a value around its references (they join the redaction net; the reference text itself is not secret). */
export function literalParts(value: string, refs: readonly Reference[]): string[] {
  const out: string[] = [];
  let at = 0;
  for (const r of refs) {
    if (r.start > at) out.push(value.slice(at, r.start));
    at = r.end;
  }
  if (at < value.length) out.push(value.slice(at));
  return out;
}

/** A value holding references, waiting to be resolved. `fail` makes the error (the caller knows the layer). */
export interface PendingValue {
  key: string;
  value: string;
  refs: readonly Reference[];
  fail(reason: string): Error;
}

export interface ResolvedValue {
  value: string;
  /** `ref+awsssm` (schemes joined by `, ` when several references made the value): `ls` shows it. */
  via: string;
  /** A reference read a leased value (new on every read). */
  leased: boolean;
}

/**
 * Reads references for one resolve (one CLI run's resolution, one re-resolve in watch mode): every distinct
 * target (scheme, path, parameters) once, whatever the number of keys and pointers that use it.
 */
export class ReferenceResolver {
  private readonly cache = new Map<string, Promise<ReferenceValue | undefined>>();

  constructor(
    private readonly schemes: Schemes,
    private readonly context: SourceContext,
    /** Where a scheme's hook reports what it holds (a Vault lease read through a reference). */
    private readonly holdFor?: (scheme: string) => SourceContext['hold'],
  ) {}

  /** Resolve several values at once: the targets not read yet go to each scheme's hook in one call. */
  async resolve(items: readonly PendingValue[]): Promise<ResolvedValue[]> {
    const fresh = new Map<string, { id: string; target: ReferenceTarget }[]>();
    for (const item of items) {
      for (const ref of item.refs) {
        const id = targetId(ref);
        if (this.cache.has(id) || fresh.get(ref.scheme)?.some((t) => t.id === id)) continue;
        if (!fresh.has(ref.scheme)) fresh.set(ref.scheme, []);
        fresh.get(ref.scheme)!.push({ id, target: ref.target });
      }
    }
    for (const [scheme, list] of fresh) {
      const context = this.holdFor ? { ...this.context, hold: this.holdFor(scheme) } : this.context;
      const batch = Promise.resolve().then(() => this.schemes.get(scheme)!.resolve(list.map((t) => t.target), context));
      list.forEach(({ id }, i) => {
        const one = batch.then((values) => values[i]);
        one.catch(() => {}); // awaited below; a failed batch is reported once, by the first value that needs it
        this.cache.set(id, one);
      });
    }
    return Promise.all(items.map((item) => this.resolveOne(item)));
  }

  private async resolveOne(item: PendingValue): Promise<ResolvedValue> {
    let out = '';
    let at = 0;
    let leased = false;
    for (const ref of item.refs) {
      let got: ReferenceValue | undefined;
      try {
        got = await this.cache.get(targetId(ref))!;
      } catch (err) {
        if (this.context.signal.aborted) throw err;
        throw item.fail(`${item.key}: ${ref.shown}: ${err instanceof SecretrunError ? err.message : describeError(err)}`);
      }
      if (got === undefined) throw item.fail(`${item.key}: ${ref.shown}: not found`);
      let text = got.value;
      if (ref.pointer && !got.unread) {
        // The rest of the JSON object is other secrets; the picked member is the caller's to register (or `public:`).
        this.context.secret(got.value);
        const picked = pick(got.value, ref.pointer);
        if (typeof picked !== 'string') throw item.fail(`${item.key}: ${ref.shown}#/${ref.pointer.join('/')}: ${picked.problem}`);
        text = picked;
      }
      leased ||= got.leased === true;
      out += item.value.slice(at, ref.start) + text;
      at = ref.end;
    }
    out += item.value.slice(at);
    if (out.includes('\0')) throw item.fail(`${item.key}: the value read through ${item.refs.map((r) => r.shown).join(', ')} contains a NUL byte; environment variables cannot hold NUL`);
    return { value: out, via: [...new Set(item.refs.map((r) => `ref+${r.scheme}`))].join(', '), leased };
  }
}

function targetId(ref: Reference): string {
  const params = Object.keys(ref.target.params).sort().map((k) => [k, ref.target.params[k]]);
  return JSON.stringify([ref.scheme, ref.target.path, params]);
}

/** `#/a/b` into a JSON object: strings as they are, numbers and booleans as JSON text, objects compact JSON. */
export function pick(text: string, pointer: readonly string[]): string | { problem: string } {
  let node: unknown;
  try {
    node = JSON.parse(text);
  } catch {
    return { problem: 'the value is not JSON, so a "#/" pointer has nothing to point into' };
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return { problem: 'the value is not a JSON object' };
  for (const token of pointer) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, token)) return { problem: 'no such member' };
    node = (node as Record<string, unknown>)[token];
  }
  if (typeof node === 'string') return node;
  if (node === null) return { problem: 'the member is null' };
  return JSON.stringify(node);
}

/**
 * dotenv reads an unquoted `#` as a comment start, so `K=ref+awssecrets://prod/api#/DB_PASS` would silently become
 * the whole secret. The first line whose unquoted value is cut by `#` right after a reference, or undefined.
 */
export function dotenvCutReference(text: string): { line: number; key: string } | undefined {
  if (!mayHoldReference(text)) return undefined;
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*(?:export\s+)?([\w.-]+)(?:\s*=|:\s)\s*(.*)$/.exec(lines[i]);
    if (!m || /^['"`]/.test(m[2])) continue;
    const value = m[2];
    const hash = value.indexOf('#');
    if (hash <= 0 || /\s/.test(value[hash - 1])) continue;
    const before = value.slice(0, hash);
    const re = new RegExp(START.source, 'g');
    let last: RegExpExecArray | null = null;
    for (let r = re.exec(before); r !== null; r = re.exec(before)) last = r;
    if (last && !before.slice(last.index + last[0].length).includes('+')) return { line: i + 1, key: m[1] };
  }
  return undefined;
}

/**
 * The references in a layer's values, by key (undefined when there are none). A problem names the key (thrown, or
 * pushed to `problems` when given); in a
 * layer that repeats the parent environment (`env`) an unknown scheme is left alone, as in the environment itself.
 */
export function layerReferences(keys: Readonly<Record<string, unknown>>, schemes: Schemes, unknown: 'error' | 'skip', problems?: string[]): Map<string, Reference[]> | undefined {
  let out: Map<string, Reference[]> | undefined;
  for (const key of Object.keys(keys)) {
    const value = keys[key];
    if (typeof value !== 'string' || !mayHoldReference(value)) continue;
    let refs: Reference[];
    try {
      refs = parseReferences(value, schemes, unknown);
    } catch (err) {
      if (!(err instanceof ReferenceProblem)) throw err;
      // `check` collects every problem; a resolve stops at the first.
      if (!problems) throw new ReferenceProblem(`${key}: ${err.message}`);
      problems.push(`${key}: ${err.message}`);
      continue;
    }
    if (refs.length > 0) (out ??= new Map()).set(key, refs);
  }
  return out;
}

/**
 * For a hook: read the targets in groups that share what one store call needs (a region, a version stage), the
 * groups concurrently, and give the values back in the targets' order.
 */
export async function readInGroups(
  targets: readonly ReferenceTarget[],
  groupOf: (target: ReferenceTarget) => string,
  read: (group: ReferenceTarget[]) => Promise<(ReferenceValue | undefined)[]>,
): Promise<(ReferenceValue | undefined)[]> {
  const groups = new Map<string, number[]>();
  targets.forEach((t, i) => {
    const id = groupOf(t);
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id)!.push(i);
  });
  const out: (ReferenceValue | undefined)[] = new Array(targets.length);
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const values = await read(indexes.map((i) => targets[i]));
      indexes.forEach((i, n) => (out[i] = values[n]));
    }),
  );
  return out;
}

/** Does an environment hold a reference of a known scheme (a malformed one counts: it is reported when resolved)? */
export function holdsReference(env: Readonly<Record<string, string | undefined>>, schemes: Schemes): boolean {
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || !mayHoldReference(value) || key.startsWith('SECRETRUN_')) continue;
    try {
      if (parseReferences(value, schemes, 'skip').length > 0) return true;
    } catch {
      return true;
    }
  }
  return false;
}
