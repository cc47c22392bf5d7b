/**
 * `type: dotenv` with `expand: true` against the behaviours dotenv-expand's own suite checks (motdotla/dotenv-expand
 * release 1000.0.0, commit 0d8c926, tests/main.js and tests/.env.test), used as a checklist: one case per behaviour,
 * named after the suite's test, with our own files and values (none of the suite's files is copied).
 *
 * A case marked `differs` is a deliberate difference, with its reason (docs/sources.md, "dotenv expansion"):
 * - UNSET: an unset name without a default is an error naming the line, the key and a column, not an empty string
 *   (a typo or a `$` inside a password would otherwise vanish silently);
 * - ORDER: names are looked up in the file's own earlier keys, then earlier layers, then the parent environment;
 *   dotenv-expand reads the process environment first, because dotenv.config() has already written the file into
 *   it. Which value reaches the child is decided by layer order (`[dotenv, env]` lets the environment win);
 * - NO_EXEC: `$(...)` is never run;
 * - NAMES: a name is letters, digits and `_` (a dotted key is not an environment variable name either);
 * - ENCRYPTED: a value that cannot be decrypted is an error, never passed on as ciphertext (test/dotenvx.test.ts).
 *
 * In-process through the library (the pipeline the CLI uses), in real temp directories.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSecrets } from '../src/core/secrets.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const EXPAND = 'sources:\n  - type: dotenv\n    path: .env\n    expand: true\n';
/** The recipe of contract section 1: the real environment beats `.env`. */
const EXPAND_THEN_ENV = `${EXPAND}  - type: env\n`;

async function expand(dotenv: string, processEnv: Record<string, string> = {}, sources = EXPAND): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'secretrun-expand-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'secretrun.yaml'), sources);
  writeFileSync(join(dir, '.env'), dotenv);
  const secrets = await loadSecrets({ cwd: dir, processEnv, onWarning: () => {} });
  return Object.fromEntries(secrets.entries());
}
async function expandError(dotenv: string, processEnv: Record<string, string> = {}): Promise<string> {
  try {
    await expand(dotenv, processEnv);
  } catch (err) {
    const message = (err as Error).message;
    const layer = 'layer "dotenv .env" (secretrun.yaml:2:5): ';
    expect(message.startsWith(layer), message).toBe(true);
    return message.slice(layer.length);
  }
  throw new Error('expected an error');
}
const unset = (line: number, key: string, column: number) =>
  `.env:${line}: ${key}: expand: the variable referenced at column ${column} of the value is not set (looked up in this file, earlier layers and the environment; write \\$ for a literal $)`;

describe('dotenv-expand 1000.0.0 suite, as a checklist', () => {
  it('returns object', async () => {
    expect(await expand('')).toEqual({});
  });

  it('expands environment variables (${X} and $X; also the suite\'s two "(process.env)" variants)', async () => {
    expect(await expand('BASIC=basic\nA=${BASIC}\nB=$BASIC\n')).toEqual({ BASIC: 'basic', A: 'basic', B: 'basic' });
  });

  it('expands self without a recursive call stack error — differs (UNSET): an error, or the environment\'s value', async () => {
    expect(await expandError('X=1\nSELF=$SELF\n')).toBe(unset(2, 'SELF', 1));
    expect((await expand('SELF=$SELF\n', { SELF: 'outer' })).SELF).toBe('outer');
  });

  it('expands self with undefined variable and default value', async () => {
    expect(await expand('SELF=${SELF:-default}\n')).toEqual({ SELF: 'default' });
  });

  it('uses environment variables existing already on the machine for expansion', async () => {
    expect(await expand('A=${MACHINE}\nB=$MACHINE\n', { MACHINE: 'machine' })).toEqual({ A: 'machine', B: 'machine' });
  });

  it('expands missing environment variables to an empty string — differs (UNSET); an empty value is still ""', async () => {
    expect(await expandError('U=$UNDEFINED\n')).toBe(unset(1, 'U', 1));
    expect(await expand('U=$EMPTY\n', { EMPTY: '' })).toEqual({ U: '' });
  });

  it('prioritizes machine key expansion over .env — differs (ORDER): the file\'s own value first', async () => {
    const file = 'MACHINE=machine_env\nM=$MACHINE\nD=${MACHINE:-default}\nN=${UNDEFINED:-${MACHINE:-default}}\n';
    expect(await expand(file, { MACHINE: 'machine' })).toEqual({ MACHINE: 'machine_env', M: 'machine_env', D: 'machine_env', N: 'machine_env' });
    // Without the key in the file, the environment's value is read, as dotenv-expand does.
    expect(await expand('M=$MACHINE\nD=${MACHINE:-default}\n', { MACHINE: 'machine' })).toEqual({ M: 'machine', D: 'machine' });
  });

  it('does not overwrite preset variables — by layer order: with [dotenv, env] the environment wins', async () => {
    expect((await expand('SOME_ENV=development\n', { SOME_ENV: 'production' })).SOME_ENV).toBe('development');
    expect((await expand('SOME_ENV=development\n', { SOME_ENV: 'production' }, EXPAND_THEN_ENV)).SOME_ENV).toBe('production');
  });

  it('does not expand escaped variables, inline escaped dollar signs (bcrypt) and mixed values', async () => {
    const file = 'P1=42\nE=\\$ESCAPED\nI=pa\\$\\$word\nH=\\$2b\\$10\\$abcdefghijklmnopqrstuu\nM=\\$this$P1\\$is${P1}\n';
    expect(await expand(file)).toEqual({ P1: '42', E: '$ESCAPED', I: 'pa$$word', H: '$2b$10$abcdefghijklmnopqrstuu', M: '$this42$is42' });
  });

  it('defaults: nested, twice, with special characters, for set and for undefined names (":-" and "-")', async () => {
    const file = [
      'SET=value',
      'A1=${SET:-default}',
      'A2=${SET-default}',
      'B1=${SET:-${UNDEFINED:-default}}',
      'B2=${SET-${UNDEFINED-default}}',
      'C1=${UNDEFINED:-${SET}${UNDEFINED:-default}}',
      'C2=${UNDEFINED-${SET}${UNDEFINED-default}}',
      'D1=${SET:-/default/path:with/colon}',
      'D2=${SET-/default/path:with/colon}',
      'E1=${UNDEFINED:-default}',
      'E2=${UNDEFINED-default}',
      'F1=${UNDEFINED:-${UNDEFINED:-${UNDEFINED:-default}}}',
      'F2=${UNDEFINED-${UNDEFINED-${UNDEFINED-default}}}',
      'G1=${UNDEFINED:-${UNDEFINED_2:-/default/path:with/colon}}',
      'G2=${UNDEFINED-${UNDEFINED_2-/default/path:with/colon}}',
      '',
    ].join('\n');
    const v = await expand(file);
    expect(v).toMatchObject({ A1: 'value', A2: 'value', B1: 'value', B2: 'value', C1: 'valuedefault', C2: 'valuedefault', D1: 'value', D2: 'value' });
    expect(v).toMatchObject({ E1: 'default', E2: 'default', F1: 'default', F2: 'default', G1: '/default/path:with/colon', G2: '/default/path:with/colon' });
  });

  it('$NAME:-text without braces is $NAME then text, as in sh — an unset NAME differs (UNSET)', async () => {
    expect(await expand('X=$EMPTY:-/default/path\nY=$EMPTY-/default\n', { EMPTY: '' })).toEqual({ X: ':-/default/path', Y: '-/default' });
    expect(await expandError('X=$UNDEFINED:-/default/path\n')).toBe(unset(1, 'X', 1));
  });

  it('multiple expand and expand recursively (braces and none)', async () => {
    const file = 'DB=app_db\nU=user\nPW=pass\nHOST=db.example\nPORT=5432\nURI=pg://${U}:${PW}@${HOST}:${PORT}/${DB}\nUP=${U}:${PW}\nURI2=pg://${UP}@${HOST}:${PORT}/${DB}\nURI3=pg://$U:$PW@$HOST:$PORT/$DB\nUP4=$U:$PW\nURI4=pg://$UP4@$HOST:$PORT/$DB\n';
    const v = await expand(file);
    for (const k of ['URI', 'URI2', 'URI3', 'URI4']) expect(v[k], k).toBe('pg://user:pass@db.example:5432/app_db');
  });

  it('can write to an object rather than process.env — the library never writes the environment it is given', async () => {
    const processEnv = { KEEP: 'k' };
    expect(await expand('NEW=${KEEP}\n', processEnv)).toEqual({ NEW: 'k' });
    expect(processEnv).toEqual({ KEEP: 'k' });
  });

  it('should expand variables with "." in names — differs (NAMES): an error naming the dotted name\'s column', async () => {
    expect(await expandError('A=1\nB=${POSTGRESQL.BASE.USER}\n')).toBe(
      '.env:2: B: expand: the "${" at column 1 of the value holds a dotted name, at column 13: names are letters, digits and _ (accepted: ${NAME}, $NAME, ${NAME:-default}, ${NAME-default}, ${NAME:+alt}, ${NAME+alt}; \\$ for a literal $)',
    );
  });

  it('handles a value of only $, $one$two, two dollar signs and dollar signs that are not variables', async () => {
    const file = 'DOLLAR=$\nONE=one\nTWO=two\nA=${ONE}${TWO}\nB=${ONE}$TWO\nC=$ONE${TWO}\nD=$ONE$TWO\nTWO_DOLLARS="abcd$$1234"\nN=\\$.$+$-$$\n';
    expect(await expand(file)).toMatchObject({ DOLLAR: '$', A: 'onetwo', B: 'onetwo', C: 'onetwo', D: 'onetwo', TWO_DOLLARS: 'abcd$$1234', N: '$.$+$-$$' });
  });

  it('does not choke on values full of punctuation, braces, backticks and escaped dollars', async () => {
    const file = "C1='.q{)W+/8(R}z!'\nC2='=;+=Ab3)-\\$B@0K;Y]e^E\\$Dx?;.9w'\nC3='x{p{q`m)t[2:{'\nC4='1\\$(W{:Wc}Q'\nC5='?\\$6)m*x#k=[r'\n";
    expect(await expand(file)).toEqual({ C1: '.q{)W+/8(R}z!', C2: '=;+=Ab3)-$B@0K;Y]e^E$Dx?;.9w', C3: 'x{p{q`m)t[2:{', C4: '1$(W{:Wc}Q', C5: '?$6)m*x#k=[r' });
  });

  it('expands DOMAIN with ${HOST} (quoted values too)', async () => {
    expect(await expand('HOST="something"\nDOMAIN="https://${HOST}"\n')).toEqual({ HOST: 'something', DOMAIN: 'https://something' });
  });

  it('does not attempt to expand a password already in the environment — with [dotenv, env] the environment\'s value is kept as it is', async () => {
    const v = await expand('PASSWORD=password\nP2=${PASSWORD}\n', { PASSWORD: 'pas$word' }, EXPAND_THEN_ENV);
    expect(v.PASSWORD).toBe('pas$word');
    // differs (ORDER): expansion reads the file's own PASSWORD; dotenv-expand gives pas$word here.
    expect(v.P2).toBe('password');
  });

  it('expands recursively in file order; the reverse order differs (UNSET): the forward reference is an error', async () => {
    expect(await expand('PORT=8090\nHOST=http://localhost:${PORT}\nURL=${HOST}/health\n')).toEqual({ PORT: '8090', HOST: 'http://localhost:8090', URL: 'http://localhost:8090/health' });
    expect(await expandError('URL=${HOST}/health\nHOST=http://localhost:${PORT}\nPORT=8090\n')).toBe(unset(1, 'URL', 1));
  });

  it('expands recursively (nested twice); a value read from the environment is never expanded again', async () => {
    expect(await expand('PW=password\nA=${PW}\nB=$PW\nC=${A}\nD=${C}\n')).toEqual({ PW: 'password', A: 'password', B: 'password', C: 'password', D: 'password' });
    expect(await expand('A=${OUTER}\nB=$A\n', { OUTER: 'pas$word' })).toEqual({ A: 'pas$word', B: 'pas$word' });
  });

  it('expands alternate logic, set and not set (":+")', async () => {
    expect(await expand('USE_IF_SET=true\nALT=${USE_IF_SET:+alternate}\n')).toMatchObject({ ALT: 'alternate' });
    expect(await expand('ALT=${USE_IF_SET:+alternate}\n', { USE_IF_SET: '' })).toEqual({ ALT: '' });
    expect(await expand('ALT=${USE_IF_SET:+alternate}\n')).toEqual({ ALT: '' });
  });

  it('distinguishes set from non-empty variables ("-" and "+" test "set")', async () => {
    const file = 'VAR=\nDEFAULT_WHEN_UNSET=${VAR-default}\nDEFAULT_WHEN_MISSING=${MISSING-default}\nALTERNATE_WHEN_SET=${VAR+alternate}\nALTERNATE_WHEN_MISSING=${MISSING+alternate}\n';
    expect(await expand(file)).toEqual({ VAR: '', DEFAULT_WHEN_UNSET: '', DEFAULT_WHEN_MISSING: 'default', ALTERNATE_WHEN_SET: 'alternate', ALTERNATE_WHEN_MISSING: '' });
  });

  it('evaluates command substitutions — differs (NO_EXEC): $(...) stays text', async () => {
    expect(await expand('EVALUATED=$(printf evaluated)\nALSO="`printf x`"\n')).toEqual({ EVALUATED: '$(printf evaluated)', ALSO: '`printf x`' });
  });

  it('issue 123 (a forward reference dotenv-expand resolves only as a side effect of dotenv.config) — differs (UNSET)', async () => {
    expect(await expandError('FIRST=${PUBLIC}/first-page\nPUBLIC=http://localhost:8090\n')).toBe(unset(1, 'FIRST', 1));
  });

  it('issue 124: $NAME followed by "-" and text', async () => {
    expect(await expand('SOURCE=12345\nEXPANDED=ab-$SOURCE-cd-ef-gh\n')).toEqual({ SOURCE: '12345', EXPANDED: 'ab-12345-cd-ef-gh' });
  });

  // "decrypts encrypted values before expanding them" and "leaves encrypted values unchanged without a private key"
  // (differs, ENCRYPTED): test/dotenvx.test.ts.
});

describe('messages name what was found, never the value', () => {
  it('an unsupported operator, with the accepted forms', async () => {
    expect(await expandError('A=${HOST:=localhost}\n')).toBe(
      '.env:1: A: expand: unsupported operator ":=" in the "${" at column 1 of the value (accepted: ${NAME}, $NAME, ${NAME:-default}, ${NAME-default}, ${NAME:+alt}, ${NAME+alt}; \\$ for a literal $)',
    );
  });

  it('an unterminated ${ at its column, with the hint for a literal $', async () => {
    expect(await expandError('PASSWORD=ab${cd\n')).toBe('.env:1: PASSWORD: expand: unterminated "${" at column 3 of the value: the value ends before its "}" (write \\$ for a literal $)');
  });

  it('no name after ${, and an unexpected character', async () => {
    expect(await expandError('A=x${}\n')).toBe('.env:1: A: expand: the "${" at column 2 of the value is not followed by a variable name (accepted: ${NAME}, $NAME, ${NAME:-default}, ${NAME-default}, ${NAME:+alt}, ${NAME+alt}; \\$ for a literal $)');
    expect(await expandError('A=${AB CD}\n')).toBe('.env:1: A: expand: unexpected character at column 5 in the "${" at column 1 of the value: expected "}" or an operator (accepted: ${NAME}, $NAME, ${NAME:-default}, ${NAME-default}, ${NAME:+alt}, ${NAME+alt}; \\$ for a literal $)');
  });
});
