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
import { resolve } from 'node:path';
import { SourceError } from '../core/errors.js';
import { readTextFile, statOrUndefined } from '../core/files.js';
import { parseDotenv, parseYaml, structuredToEnv } from '../formats/parse.js';
import { FILE_OPTIONS, STRUCTURED_OPTIONS, defineSource, labelByPath, type LayerOptions } from './descriptor.js';
import { filePath, readLayerFile } from './local-file.js';
import type { SourceContext } from './types.js';

const OPTIONS = {
  ...FILE_OPTIONS,
  password: { type: 'string', credential: { when: 'always', is: 'the vault password' }, description: 'Vault password (interpolated, e.g. `${ANSIBLE_VAULT_PASSWORD}`).' },
  password_file: {
    type: 'string',
    nonEmpty: true,
    description: 'File holding the vault password, relative to the sources file. It is read, never executed (unlike ansible, which runs an executable password file).',
  },
  format: { type: 'enum', values: ['yaml', 'dotenv'], default: 'yaml', description: 'Format of the content (default yaml).' },
  ...STRUCTURED_OPTIONS,
} as const;

type VaultOptions = LayerOptions<typeof OPTIONS>;
type Vault = typeof import('../formats/vault.js');

/** ansible strips surrounding whitespace from a password file (`f.read().strip()`); so do we. */
export function passwordFromFileText(text: string): string {
  return text.replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, '');
}

async function readPassword(opts: VaultOptions, context: SourceContext): Promise<string> {
  const { password_file: passwordFile } = opts;
  if (opts.password !== undefined) {
    if (opts.password === '') throw new SourceError('"password" is empty');
    return opts.password;
  }
  const file = resolve(context.configDir, passwordFile!);
  const shown = passwordFile!;
  const info = statOrUndefined(file);
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
export async function decryptInlineValues(tree: unknown, password: string, origin: string, { decryptVaultText }: Vault): Promise<{ tree: unknown; count: number }> {
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
  // node:crypto and the vault format load here, not on every start.
  const vault = await import('../formats/vault.js');
  const wholeFile = vault.isVaultText(text);
  let plain = text;
  if (wholeFile) {
    try {
      plain = await vault.decryptVaultText(text, password);
    } catch (err) {
      throw new SourceError(`${origin}: ${(err as Error).message}`);
    }
  }
  if (opts.format === 'dotenv') {
    if (!wholeFile) warn(`${origin} is not encrypted (no $ANSIBLE_VAULT header)`);
    return parseDotenv(plain, origin);
  }
  const { tree, count } = await decryptInlineValues(await parseVaultYaml(plain, origin), password, origin, vault);
  if (!wholeFile && count === 0) warn(`${origin} is not encrypted and has no !vault values`);
  return structuredToEnv(tree, { select: opts.select, flatten: opts.flatten, origin });
}

export default defineSource({
  type: 'ansible-vault',
  description: 'A file encrypted with ansible-vault (whole file, or YAML with inline `!vault` values).',
  options: OPTIONS,
  exclusive: [{ keys: ['password', 'password_file'], exactlyOne: true }],
  label: labelByPath,
  async load(options, context) {
    const { text, shown } = readLayerFile(options, context);
    const password = await readPassword(options, context);
    return decryptAndParse(text, password, options, shown, (message) => context.warn(message));
  },
  // The vault file is encrypted and may be readable; its password file must not be.
  privateFiles(options, context) {
    const file = options.password_file;
    return file !== undefined ? [{ path: resolve(context.configDir, file), shown: file, role: 'password_file' }] : [];
  },
  watchPaths(options, context) {
    const paths = [filePath(options, context)];
    if (options.password_file !== undefined) paths.push(resolve(context.configDir, options.password_file));
    return paths;
  },
});
