/**
 * `type: ansible-vault` — a file encrypted with `ansible-vault encrypt` (format 1.1, or 1.2 with a vault id),
 * or a plain YAML file whose values are inline `!vault |` strings (`ansible-vault encrypt_string`).
 * Decryption happens in-process (../vault.ts); the decrypted text never touches the disk.
 *
 * - Content: YAML by default, or dotenv with `format: dotenv`; `select` and `flatten` as for `type: yaml`.
 * - Password: `password` (interpolated, e.g. `${ANSIBLE_VAULT_PASSWORD}`) or `password_file`, read the way
 *   ansible reads it (surrounding whitespace stripped). Ansible *runs* an executable password file; secretrun never
 *   runs anything it was not told to run as a command, so it reads the file, and refuses a script (`#!`) with advice.
 * - The vault id of a 1.2 file only labels it; the one password given must be the one it was encrypted with.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SourceError } from '../core/errors.js';
import { readTextFile } from '../core/files.js';
import { parseDotenv, parseYaml, structuredToEnv } from '../formats/parse.js';
import { decryptVaultText, isVaultText } from '../formats/vault.js';
import { filePath, readLayerFile } from './local-file.js';
import { optionalString } from './options.js';
import type { Source, SourceContext, SourceOptions } from './types.js';

type VaultFormat = 'yaml' | 'dotenv';

interface VaultOptions {
  path: string;
  format: VaultFormat;
  select?: string;
  flatten?: string;
  password?: string;
  passwordFile?: string;
}

export function readVaultOptions(options: SourceOptions): VaultOptions {
  const { path, format = 'yaml', password, password_file: passwordFile } = options;
  if (typeof path !== 'string' || path === '') throw new SourceError('"path" must name the encrypted file');
  if (format !== 'yaml' && format !== 'dotenv') throw new SourceError('"format" must be yaml or dotenv');
  if (password !== undefined && typeof password !== 'string') throw new SourceError('"password" must be a string');
  if (passwordFile !== undefined && (typeof passwordFile !== 'string' || passwordFile === '')) throw new SourceError('"password_file" must be a file path');
  if (password !== undefined && passwordFile !== undefined) throw new SourceError('set either "password" or "password_file", not both');
  if (password === undefined && passwordFile === undefined) throw new SourceError('needs "password" (e.g. ${ANSIBLE_VAULT_PASSWORD}) or "password_file"');
  return { path, format, select: optionalString(options, 'select'), flatten: optionalString(options, 'flatten'), password, passwordFile };
}

/** ansible strips surrounding whitespace from a password file (`f.read().strip()`); so do we. */
export function passwordFromFileText(text: string): string {
  return text.replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, '');
}

async function readPassword(opts: VaultOptions, context: SourceContext): Promise<string> {
  if (opts.password !== undefined) {
    if (opts.password === '') throw new SourceError('"password" is empty');
    context.secret(opts.password);
    return opts.password;
  }
  const file = resolve(context.configDir, opts.passwordFile!);
  const shown = opts.passwordFile!;
  const info = await stat(file).catch(() => undefined);
  // Not a NotFoundError: `optional: true` is about the vault file, a missing password file is a setup mistake.
  if (!info) throw new SourceError(`password_file ${shown} not found`);
  const text = readTextFile(file, `password_file ${shown}`);
  if ((info.mode & 0o111) !== 0 && text.startsWith('#!')) {
    throw new SourceError(`password_file ${shown} is a script; secretrun does not run password scripts (ansible does): pass the password with "password: \${ANSIBLE_VAULT_PASSWORD}" instead`);
  }
  const password = passwordFromFileText(text);
  if (password === '') throw new SourceError(`password_file ${shown} is empty`);
  context.secret(password);
  return password;
}

/** Placeholder for an inline `!vault |` value, decrypted after parsing so all values derive their keys in parallel. */
class VaultValue {
  constructor(readonly envelope: string) {}
}

/** YAML with a `!vault` tag whose scalars become VaultValue placeholders. */
export function parseVaultYaml(text: string, origin: string): Promise<unknown> {
  const vaultTag = { tag: '!vault', resolve: (envelope: string) => new VaultValue(envelope) };
  // `!vault` on a mapping or a sequence is only a warning to the yaml package; for us the value would be lost.
  return parseYaml(text, origin, { customTags: [vaultTag], requiredTag: { tag: '!vault', message: '!vault must tag a string (KEY: !vault | followed by the encrypted lines)' } });
}

/** Replace every inline vault value in the parsed tree by its decrypted text; also reports how many there were. */
export async function decryptInlineValues(tree: unknown, password: string, origin: string): Promise<{ tree: unknown; count: number }> {
  const found = new Map<VaultValue, string>(); // value → its key path, for messages
  mapTree(tree, '', (value, path) => {
    if (!found.has(value)) found.set(value, path);
    return value;
  });
  const decrypted = new Map<VaultValue, string>();
  await Promise.all(
    [...found].map(async ([value, path]) => {
      try {
        decrypted.set(value, await decryptVaultText(value.envelope, password));
      } catch (err) {
        throw new SourceError(`${origin}: key "${path}": ${(err as Error).message}`);
      }
    }),
  );
  return { tree: mapTree(tree, '', (value) => decrypted.get(value)!), count: found.size };
}

/** Rebuild a parsed YAML tree, replacing each VaultValue with `replace(value, keyPath)`. */
function mapTree(node: unknown, path: string, replace: (value: VaultValue, path: string) => unknown): unknown {
  if (node instanceof VaultValue) return replace(node, path);
  if (Array.isArray(node)) return node.map((item, i) => mapTree(item, `${path}[${i}]`, replace));
  if (node !== null && typeof node === 'object' && Object.getPrototypeOf(node) === Object.prototype) {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, mapTree(value, path ? `${path}.${key}` : key, replace)]));
  }
  return node;
}

/** Decrypt (whole file and/or inline values) and parse into env pairs. Pure apart from the thread-pool crypto. */
export async function decryptAndParse(text: string, password: string, opts: Pick<VaultOptions, 'format' | 'select' | 'flatten'>, origin: string, warn: (message: string) => void): Promise<Record<string, string>> {
  const wholeFile = isVaultText(text);
  let plain = text;
  if (wholeFile) {
    try {
      plain = await decryptVaultText(text, password);
    } catch (err) {
      throw new SourceError(`${origin}: ${(err as Error).message}`);
    }
  }
  if (opts.format === 'dotenv') {
    if (!wholeFile) warn(`${origin} is not encrypted (no $ANSIBLE_VAULT header)`);
    return parseDotenv(plain, origin);
  }
  const { tree, count } = await decryptInlineValues(await parseVaultYaml(plain, origin), password, origin);
  if (!wholeFile && count === 0) warn(`${origin} is not encrypted and has no !vault values`);
  return structuredToEnv(tree, { select: opts.select, flatten: opts.flatten, origin });
}

const ansibleVaultSource: Source = {
  async load(options, context) {
    const opts = readVaultOptions(options);
    const { text, shown } = readLayerFile(options, context);
    const password = await readPassword(opts, context);
    return decryptAndParse(text, password, opts, shown, (message) => context.warn(message));
  },
  // The vault file is encrypted and may be readable; its password file must not be.
  privateFiles(options, context) {
    const file = options.password_file;
    return typeof file === 'string' && file !== '' ? [{ path: resolve(context.configDir, file), shown: file, role: 'password_file' }] : [];
  },
  watchPaths(options, context) {
    const paths = [filePath(options, context)];
    if (typeof options.password_file === 'string' && options.password_file !== '') paths.push(resolve(context.configDir, options.password_file));
    return paths;
  },
};

export default ansibleVaultSource;
