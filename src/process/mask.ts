/**
 * The streaming redactor behind `run --mask`, which replaces secret values in the child's output as it flows
 * (`createRedactor`, `createMaskStream`). How `ls`, `diff` and the library show a whole value (`maskValue`) is the
 * core's (src/core/mask-value.ts), re-exported here beside it.
 */
import type { Transform } from 'node:stream';
import { streamModule } from './builtins.js';

export { maskValue } from '../core/mask-value.js';

/**
 * Shortest value the redactor replaces. Shorter ones (`1`, `true`, `dev`) occur in ordinary output by chance,
 * and masking them would garble it without protecting anything.
 */
export const MIN_MASKED_LENGTH = 6;

export interface Redactor {
  /**
   * Feed the next chunk; returns the bytes that are safe to emit now. Everything is returned at once except the
   * longest tail that could still be the start of a secret. The result may share memory with `chunk`.
   */
  write(chunk: Uint8Array): Buffer;
  /** End of input: returns whatever was held back, masked. */
  end(): Buffer;
}

const EMPTY = Buffer.alloc(0);

/**
 * A streaming redactor. `secrets` maps each secret value to its replacement (e.g. `****` or `<KEY>`).
 * It works on bytes, so binary output, invalid UTF-8 and colour escapes pass through untouched. At each
 * position the longest secret starting there wins; scanning then resumes after it.
 */
export function createRedactor(secrets: ReadonlyMap<string, string>): Redactor {
  const trie = SecretTrie.from(secrets);
  let pending: Buffer = EMPTY;
  return {
    write(chunk) {
      if (chunk.length === 0) return EMPTY;
      const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const data = pending.length > 0 ? Buffer.concat([pending, input]) : input;
      const { output, undecided } = redactBytes(trie, data, false);
      // Copy the held-back tail: the caller may reuse its chunk's memory once we return.
      pending = undecided.length > 0 ? Buffer.from(undecided) : EMPTY;
      return output;
    },
    end() {
      const { output } = redactBytes(trie, pending, true);
      pending = EMPTY;
      return output;
    },
  };
}

/** `createRedactor` as a Node Transform stream, for piping a child's stdout or stderr through. */
export function createMaskStream(secrets: ReadonlyMap<string, string>): Transform {
  const redactor = createRedactor(secrets);
  const { Transform: TransformStream } = streamModule();
  return new TransformStream({
    transform(chunk: Buffer, _encoding, callback) {
      const out = redactor.write(chunk);
      if (out.length > 0) this.push(out);
      callback();
    },
    flush(callback) {
      const out = redactor.end();
      if (out.length > 0) this.push(out);
      callback();
    },
  });
}

/**
 * Replace secrets in `data`. Overlapping matches are masked as their union: with secrets `abcdef` and
 * `cdefghij`, the text `abcdefghij` is masked whole (each match that extends the run adds its replacement unless
 * it repeats the previous one), so no tail of a secret stays visible. Unless `final`, stops at the first position whose outcome depends on bytes
 * not yet seen (the rest of `data` could still be, or extend, a secret) and returns that tail as `undecided`.
 */
function redactBytes(trie: SecretTrie, data: Buffer, final: boolean): { output: Buffer; undecided: Buffer } {
  const parts: Buffer[] = [];
  let copiedUpTo = 0;
  let i = 0;
  scan: while (i < data.length) {
    const length = trie.longestMatchAt(data, i, final);
    if (length === UNDECIDED) break;
    if (length === 0) {
      i++;
      continue;
    }
    // Grow the masked run while a match starting inside it reaches past its end.
    const replacements = [trie.lastReplacement];
    let end = i + length;
    for (let j = i + 1; j < end; j++) {
      const more = trie.longestMatchAt(data, j, final);
      if (more === UNDECIDED) break scan; // decide the whole run once more input has arrived
      if (more > 0 && j + more > end) {
        end = j + more;
        // One replacement per distinct secret in a row: `****` once, `<A><B>` for two keys.
        if (!trie.lastReplacement.equals(replacements[replacements.length - 1])) replacements.push(trie.lastReplacement);
      }
    }
    if (i > copiedUpTo) parts.push(data.subarray(copiedUpTo, i));
    parts.push(...replacements);
    i = end;
    copiedUpTo = i;
  }
  if (i > copiedUpTo) parts.push(data.subarray(copiedUpTo, i));
  const output = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts);
  return { output, undecided: data.subarray(i) };
}

const UNDECIDED = -1;

/**
 * A byte trie of the secrets. Finding the longest secret at a position walks at most as many bytes as the
 * longest secret, whatever the number of secrets, and most positions stop at the first byte. (A full
 * Aho-Corasick automaton would avoid re-walking on pathological input such as `aaaa...`, but the walk is
 * bounded by the secret length, so it is not worth the complexity.)
 */
class SecretTrie {
  /** Root transitions, by byte: the hot path, one array read per output byte. -1 = none. */
  private readonly rootNext = new Int32Array(256).fill(-1);
  /** Transitions of every other node, keyed `node * 256 + byte`. */
  private readonly next = new Map<number, number>();
  /** Per node: index into `replacements` if a secret ends here, else -1. */
  private readonly secretEnding: number[] = [-1];
  private readonly hasChildren: boolean[] = [false];
  private readonly replacements: Buffer[] = [];
  /** The replacement for the match `longestMatchAt` last reported. */
  lastReplacement: Buffer = EMPTY;

  static from(secrets: ReadonlyMap<string, string>): SecretTrie {
    const trie = new SecretTrie();
    for (const [value, replacement] of secrets) {
      if (value.length >= MIN_MASKED_LENGTH) trie.add(Buffer.from(value, 'utf8'), Buffer.from(replacement, 'utf8'));
    }
    return trie;
  }

  private add(secret: Buffer, replacement: Buffer): void {
    let node = 0;
    for (const byte of secret) {
      let child = node === 0 ? this.rootNext[byte] : (this.next.get(node * 256 + byte) ?? -1);
      if (child < 0) {
        child = this.secretEnding.length;
        this.secretEnding.push(-1);
        this.hasChildren.push(false);
        if (node === 0) this.rootNext[byte] = child;
        else this.next.set(node * 256 + byte, child);
        this.hasChildren[node] = true;
      }
      node = child;
    }
    this.replacements.push(replacement);
    this.secretEnding[node] = this.replacements.length - 1;
  }

  /**
   * Length of the longest secret starting at `data[start]` (0 if none, and then `lastReplacement` is stale), or
   * UNDECIDED when `data` ends while a longer secret could still match and more input may follow (`!final`).
   */
  longestMatchAt(data: Buffer, start: number, final: boolean): number {
    let node = this.rootNext[data[start]];
    if (node < 0) return 0;
    let best = 0;
    let pos = start + 1;
    for (;;) {
      const ending = this.secretEnding[node];
      if (ending >= 0) {
        best = pos - start;
        this.lastReplacement = this.replacements[ending];
      }
      if (!this.hasChildren[node]) break;
      if (pos === data.length) {
        if (!final) return UNDECIDED;
        break;
      }
      const child = this.next.get(node * 256 + data[pos]);
      if (child === undefined) break;
      node = child;
      pos++;
    }
    return best;
  }
}
