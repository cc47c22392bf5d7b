/**
 * dotenvx-encrypted values in a dotenv file (`KEY="encrypted:..."`, written by `dotenvx encrypt`), decrypted as
 * dotenvx does (contract section 1, the `dotenv` bullet):
 *
 * - the value after `encrypted:` is base64 of an ECIES message over secp256k1 (an ephemeral public key, then
 *   AES-256-GCM), made with the file's public key; the private key is 32 bytes written as hex. The cryptography
 *   is `eciesjs`, the library dotenvx uses, imported only when a file holds such a value;
 * - the private key's variable is the one dotenvx names for the file: from its `DOTENV_PUBLIC_KEY...` line
 *   (`DOTENV_PUBLIC_KEY_PRODUCTION` → `DOTENV_PRIVATE_KEY_PRODUCTION`), else from the file's name (`.env` →
 *   `DOTENV_PRIVATE_KEY`, `.env.production` → `DOTENV_PRIVATE_KEY_PRODUCTION`), and `DOTENV_PRIVATE_KEY` after
 *   it. It is read from the parent environment, else from `.env.keys` beside the file: never from a layer (a layer
 *   that could supply the key could also supply the ciphertext). A variable may hold several keys, comma-separated.
 *
 * Every message names the file, the line and the key, and the private key's variable and where it was read; never
 * a value, a key or the ciphertext. A library's error is reduced to what failed.
 */
import { SourceError } from '../core/errors.js';

export const ENCRYPTED_PREFIX = 'encrypted:';
const PRIVATE_KEY_NAME = 'DOTENV_PRIVATE_KEY';
const PUBLIC_KEY_NAME = 'DOTENV_PUBLIC_KEY';
const PRIVATE_KEY_HEX = /^[0-9a-fA-F]{64}$/;
/** Standard base64 as Buffer writes it; anything else in a ciphertext is damage. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** 65 bytes of ephemeral public key, 16 of nonce and 16 of GCM tag come before and after any plaintext. */
const MIN_MESSAGE_BYTES = 65 + 16 + 16;

type Ecies = typeof import('eciesjs');

export function hasEncryptedValues(values: Readonly<Record<string, string>>): boolean {
  for (const key in values) if (Object.hasOwn(values, key) && values[key].startsWith(ENCRYPTED_PREFIX)) return true;
  return false;
}

/**
 * The private key's variable name dotenvx uses for a file: the file's own `DOTENV_PUBLIC_KEY...` line wins,
 * else the name derived from the file name (dotenvx's rule: lower-cased, a `.txt` suffix dropped, the parts after
 * `.env` joined by `_`, at most two).
 */
export function privateKeyName(fileName: string, values: Readonly<Record<string, string>>): string {
  const header = publicKeyHeader(values);
  if (header) return PRIVATE_KEY_NAME + header.slice(PUBLIC_KEY_NAME.length);
  let name = fileName.toLowerCase();
  if (name.startsWith('.env') && name.endsWith('.txt')) name = name.slice(0, -'.txt'.length);
  if (name === '.env') return PRIVATE_KEY_NAME;
  const environment = name.split('.').slice(2);
  const suffix = environment.length === 0 ? name.replace('.env', 'development') : environment.slice(0, 2).join('_');
  return `${PRIVATE_KEY_NAME}_${suffix.toUpperCase()}`;
}

/** The first `DOTENV_PUBLIC_KEY...` key of the file, as dotenvx picks it. */
function publicKeyHeader(values: Readonly<Record<string, string>>): string | undefined {
  for (const key in values) if (Object.hasOwn(values, key) && key.startsWith(PUBLIC_KEY_NAME)) return key;
  return undefined;
}

export interface DecryptContext {
  /** The file as shown in messages. */
  shown: string;
  /** The file's base name (for the private key's variable name). */
  fileName: string;
  /** `.env.keys` beside the file, as shown in messages. */
  keysShown: string;
  /** The parent process environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** The parsed `.env.keys` beside the file, or undefined when there is none. Called at most once, when needed. */
  readKeysFile(): Readonly<Record<string, string>> | undefined;
  /** `:LINE` of the line that sets a key, for messages. */
  lineOf(key: string): string;
  /** Every private key read joins the redaction net here. */
  secret(value: string): void;
}

interface Candidate {
  /** The variable, and where it was read: `DOTENV_PRIVATE_KEY_PRODUCTION in the environment`. */
  from: string;
  key: string;
  /** 64 hex digits; a malformed one is named only when no well-formed key will do. */
  wellFormed: boolean;
}

/** The values with every `encrypted:` value decrypted; the map given is not changed. */
export async function decryptValues(values: Readonly<Record<string, string>>, context: DecryptContext): Promise<Record<string, string>> {
  const ecies = await loadEcies();
  const name = privateKeyName(context.fileName, values);
  const names = name === PRIVATE_KEY_NAME ? [name] : [name, PRIVATE_KEY_NAME];
  const header = publicKeyHeader(values);
  const publicKey = header ? parsePublicKey(ecies, values[header]) : undefined;

  const candidatesIn = (map: Readonly<Record<string, string | undefined>> | undefined, where: string): Candidate[] => {
    const found: Candidate[] = [];
    for (const n of names) {
      const text = map && Object.hasOwn(map, n) ? map[n] : undefined;
      if (!text) continue;
      context.secret(text);
      for (const part of text.split(',')) {
        const key = part.trim();
        if (!key) continue;
        context.secret(key);
        found.push({ from: `${n} ${where}`, key, wellFormed: PRIVATE_KEY_HEX.test(key) });
      }
    }
    return found;
  };
  // The environment first; `.env.keys` is read only when the environment has no key that will do.
  const fromEnv = candidatesIn(context.env, 'in the environment');
  let fromKeysFile: Candidate[] | undefined;
  const keysFile = () => (fromKeysFile ??= candidatesIn(context.readKeysFile(), `in ${context.keysShown}`));
  const fail = (key: string, problem: string) => new SourceError(`${context.shown}${context.lineOf(key)}: ${key}: encrypted value: ${problem}`);
  /** Why no key would do: none found, only malformed ones, or (`tried`, given the list) the ones that did not. */
  const noKey = (key: string, tried: (list: string) => string) => {
    const all = [...fromEnv, ...(fromKeysFile ?? [])];
    const malformed = all.find((c) => !c.wellFormed);
    if (all.length === 0) return fail(key, `no private key (set ${names.join(' or ')} in the environment or ${context.keysShown}; decrypt: false keeps it encrypted)`);
    if (malformed && all.every((c) => !c.wellFormed)) return fail(key, `${malformed.from} is not a dotenvx private key (64 hex digits)`);
    return fail(key, tried(all.filter((c) => c.wellFormed).map((c) => c.from).join(', ')));
  };

  // With the file's public key, the matching private key is known before any decryption: a wrong key is told
  // apart from a damaged value.
  const matches = (c: Candidate) => c.wellFormed && publicKeyOf(ecies, c.key)?.equals(publicKey!) === true;
  let matching: Candidate | undefined;
  const out: Record<string, string> = { ...values };
  for (const key of Object.keys(values)) {
    const value = values[key];
    if (!value.startsWith(ENCRYPTED_PREFIX)) continue;
    const body = value.slice(ENCRYPTED_PREFIX.length);
    if (!BASE64.test(body) || (body.length * 3) / 4 < MIN_MESSAGE_BYTES) throw fail(key, 'damaged (not a dotenvx ciphertext)');
    const message = Buffer.from(body, 'base64');
    if (publicKey) {
      matching ??= fromEnv.find(matches) ?? keysFile().find(matches);
      if (!matching) throw noKey(key, (list) => `wrong private key: ${list} does not match the file's ${header}`);
      const plain = tryDecrypt(ecies, matching.key, message);
      if (plain === undefined) throw fail(key, `damaged (it does not decrypt with ${matching.from}, which matches the file's ${header})`);
      out[key] = plain;
      continue;
    }
    // No public key in the file: try each well-formed key, the environment's first.
    let plain: string | undefined;
    for (const c of fromEnv) if (c.wellFormed && (plain = tryDecrypt(ecies, c.key, message)) !== undefined) break;
    if (plain === undefined) for (const c of keysFile()) if (c.wellFormed && (plain = tryDecrypt(ecies, c.key, message)) !== undefined) break;
    if (plain === undefined) throw noKey(key, (list) => `wrong private key or damaged value: it does not decrypt with ${list}`);
    out[key] = plain;
  }
  return out;
}

function tryDecrypt(ecies: Ecies, hexKey: string, message: Buffer): string | undefined {
  try {
    return Buffer.from(ecies.decrypt(Buffer.from(hexKey, 'hex'), message)).toString('utf8');
  } catch {
    return undefined; // the library's message is not kept: what failed is said by the caller
  }
}

/** The public key of a private key, or undefined when the 32 bytes are not a valid secp256k1 scalar. */
function publicKeyOf(ecies: Ecies, hexKey: string): InstanceType<Ecies['PublicKey']> | undefined {
  try {
    return new ecies.PrivateKey(Buffer.from(hexKey, 'hex')).publicKey;
  } catch {
    return undefined;
  }
}

function parsePublicKey(ecies: Ecies, hex: string): InstanceType<Ecies['PublicKey']> | undefined {
  try {
    return ecies.PublicKey.fromHex(hex);
  } catch {
    return undefined; // not a public key: decrypt by trying the keys, as without one
  }
}

let loading: Promise<Ecies> | undefined;
function loadEcies(): Promise<Ecies> {
  return (loading ??= import('eciesjs'));
}
