/**
 * Ansible Vault decryption, in-process with node:crypto (format 1.1 and 1.2, cipher AES256).
 *
 * The format, as ansible-core's `ansible/parsing/vault/__init__.py` writes it:
 *   envelope  = "$ANSIBLE_VAULT;1.1;AES256" ( ";" vault-id, format 1.2 only ) "\n" + hex lines (80 columns)
 *   hex lines → "hex(salt)\nhex(hmac)\nhex(ciphertext)"
 *   PBKDF2-HMAC-SHA256(password, salt, 10000 iterations, 80 bytes) → AES key (32) | HMAC key (32) | CTR IV (16)
 *   hmac      = HMAC-SHA256(HMAC key, ciphertext), checked before anything is decrypted
 *   plaintext = PKCS#7-unpad(AES-256-CTR(AES key, IV, ciphertext))
 *
 * Messages say what is wrong with the envelope and never include any of its content or the password.
 */
import { createDecipheriv, createHmac, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SourceError } from '../core/errors.js';

export const VAULT_HEADER = '$ANSIBLE_VAULT';
const PBKDF2_ITERATIONS = 10_000;
const KEY_LENGTH = 32;
const IV_LENGTH = 16;
const HMAC_LENGTH = 32;
const AES_BLOCK = 16;

// The async form runs in libuv's thread pool, so a file with many inline `!vault` values derives its keys in parallel.
const pbkdf2Async = promisify(pbkdf2);

export interface VaultEnvelope {
  version: string;
  cipher: string;
  /** Only format 1.2 carries a vault id (`ansible-vault encrypt --vault-id prod@file`). */
  vaultId?: string;
  salt: Buffer;
  hmac: Buffer;
  ciphertext: Buffer;
}

/** True when the text is an encrypted vault envelope (ansible's own test: the header prefix). */
export function isVaultText(text: string): boolean {
  return text.trimStart().startsWith(VAULT_HEADER);
}

/** Split an envelope into its parts; throws `SourceError` describing the first structural problem. */
export function parseVaultEnvelope(text: string): VaultEnvelope {
  const lines = text.trim().split(/\r?\n/).map((line) => line.trim());
  const header = lines[0].split(';').map((part) => part.trim());
  if (header[0] !== VAULT_HEADER || header.length < 3) throw new SourceError('not an Ansible Vault envelope (expected a "$ANSIBLE_VAULT;1.1;AES256" header)');
  const [, version, cipher, vaultId] = header;
  if (version !== '1.1' && version !== '1.2') throw new SourceError(`unsupported Ansible Vault format version "${version}" (supported: 1.1, 1.2)`);
  if (cipher !== 'AES256') throw new SourceError(`unsupported Ansible Vault cipher "${cipher}" (supported: AES256)`);

  const outer = strictHex(lines.slice(1).join(''), 'the encrypted body').toString('latin1');
  const parts = outer.split('\n');
  if (parts.length !== 3) throw new SourceError('malformed Ansible Vault body: expected salt, HMAC and ciphertext');
  const [salt, hmac, ciphertext] = [strictHex(parts[0], 'the salt'), strictHex(parts[1], 'the HMAC'), strictHex(parts[2], 'the ciphertext')];
  if (salt.length === 0) throw new SourceError('malformed Ansible Vault body: empty salt');
  if (hmac.length !== HMAC_LENGTH) throw new SourceError('malformed Ansible Vault body: the HMAC is not 32 bytes');
  if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK !== 0) throw new SourceError('malformed Ansible Vault body: the ciphertext is not a whole number of AES blocks');
  return { version, cipher, vaultId: vaultId || undefined, salt, hmac, ciphertext };
}

/** Decrypt an envelope with the password; returns the plaintext bytes. */
export async function decryptVault(text: string, password: string | Buffer): Promise<Buffer> {
  const envelope = parseVaultEnvelope(text);
  const derived = await pbkdf2Async(password, envelope.salt, PBKDF2_ITERATIONS, 2 * KEY_LENGTH + IV_LENGTH, 'sha256');
  const aesKey = derived.subarray(0, KEY_LENGTH);
  const hmacKey = derived.subarray(KEY_LENGTH, 2 * KEY_LENGTH);
  const iv = derived.subarray(2 * KEY_LENGTH);

  // Authenticate first: a wrong password (or tampered file) must never reach the cipher.
  const expected = createHmac('sha256', hmacKey).update(envelope.ciphertext).digest();
  if (!timingSafeEqual(expected, envelope.hmac)) {
    const id = envelope.vaultId ? ` (vault id "${envelope.vaultId}")` : '';
    throw new SourceError(`HMAC mismatch: wrong vault password${id}`);
  }
  const decipher = createDecipheriv('aes-256-ctr', aesKey, iv);
  const padded = Buffer.concat([decipher.update(envelope.ciphertext), decipher.final()]);
  return removePkcs7Padding(padded);
}

/** Decrypt and decode as UTF-8 text (vault payloads are YAML, dotenv or a single string value). */
export async function decryptVaultText(text: string, password: string | Buffer): Promise<string> {
  const bytes = await decryptVault(text, password);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new SourceError('the decrypted vault content is not UTF-8 text');
  }
}

export function removePkcs7Padding(padded: Buffer): Buffer {
  const pad = padded.length > 0 ? padded[padded.length - 1] : 0;
  const valid = pad >= 1 && pad <= AES_BLOCK && pad <= padded.length && padded.subarray(padded.length - pad).every((b) => b === pad);
  if (!valid) throw new SourceError('malformed Ansible Vault content: invalid PKCS#7 padding');
  return padded.subarray(0, padded.length - pad);
}

/** Buffer.from(hex) silently stops at the first bad character; the vault format deserves a strict check. */
function strictHex(hex: string, what: string): Buffer {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new SourceError(`malformed Ansible Vault body: ${what} is not valid hex`);
  return Buffer.from(hex, 'hex');
}
