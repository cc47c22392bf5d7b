/**
 * `secretrun init`: write a commented starter secretrun.yaml in the current directory and keep `.env` out of
 * git. It never overwrites a sources file and writes no secret: the starter holds no values, only where they
 * come from.
 */
import { closeSync, constants, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { SOURCES_FILE_NAMES, locateSourcesFile } from '../../core/config.js';
import { SecretrunError } from '../../core/errors.js';
import { info, warn } from '../output.js';

/**
 * The starter file. Layers that need credentials are commented out, so the file validates and runs as written
 * (`secretrun check` passes on it) and a new user can `secretrun -- <cmd>` at once with just a `.env`.
 */
export const STARTER = `# yaml-language-server: $schema=./node_modules/secretrun/schema.json
#
# secretrun sources file: where this project's secrets come from. No value belongs in this file.
# Layers apply in order; for each key, the last layer that defines it wins.
#
#   secretrun -- node server.js     run a command with the merged keys as environment variables
#   secretrun ls                    which key comes from which layer (values masked)
#   secretrun diff dev prod         what differs between two environments (values masked)
#   secretrun check                 validate this file
#
# \${NAME} works in every string: it is looked up in the environment's vars, then in the keys of earlier
# layers, then in the process environment.

default_environment: dev            # used when neither -e nor SECRETRUN_ENV is given

sources:                            # layers shared by every environment
  # Local values, never committed (secretrun init added .env to .gitignore if you have one).
  - type: dotenv
    path: .env
    optional: true                  # no .env yet? then this layer is simply empty

  # Uncomment to let the real process environment beat .env (dotenv's own convention):
  # - type: env

environments:
  dev:
    vars: { STAGE: Dev }            # visible to \${...} in this environment only
    # sources:                      # appended after the shared layers
    #   - type: json
    #     path: config/dev.json

  prod:
    vars: { STAGE: Production }
    # Needs AWS credentials (the standard chain: AWS_PROFILE, ~/.aws, SSO, instance role).
    # sources:
    #   - type: ssm
    #     path: /\${STAGE}/MyApp      # /Production/MyApp/SECRET_KEY becomes SECRET_KEY
    #     recursive: true
    #     region: eu-west-1
    #
    # Needs a Doppler token in DOPPLER_TOKEN (process environment or .env):
    #   - type: doppler
    #     project: my-app
    #     config: prd

# Keys that must be present before your command starts (per environment too):
# require: [DATABASE_URL, SECRET_KEY]
`;

export async function init(opts: { quiet?: boolean; here?: boolean }): Promise<number> {
  const cwd = process.cwd();
  const existing = SOURCES_FILE_NAMES.find((name) => existsSync(join(cwd, name)));
  if (existing) throw refuse(existing);
  const above = opts.here ? undefined : projectFileAbove(cwd);
  if (above) {
    throw new SecretrunError(
      `${relative(cwd, above)} already applies here: a new secretrun.yaml in this directory would shadow it for every command run below it (pass --here to write one anyway)`,
      { exitCode: 1 },
    );
  }
  try {
    // 'wx' fails if the file appeared since the check above: never overwrite, even in a race.
    writeFileSync(join(cwd, 'secretrun.yaml'), STARTER, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw refuse('secretrun.yaml');
    throw new SecretrunError(`cannot write secretrun.yaml: ${(err as Error).message}`, { exitCode: 1 });
  }
  info('wrote secretrun.yaml', opts.quiet);
  const ignored = ensureIgnored(join(cwd, '.gitignore'), '.env');
  if (ignored === 'appended') info('added .env to .gitignore', opts.quiet);
  if (ignored === 'symlink') warn('.gitignore is a symbolic link; secretrun does not write through links: add .env to it yourself', opts.quiet);
  return 0;
}

/** The sources file every command would find from `cwd` by walking up (not SECRETRUN_CONFIG: that names one). */
function projectFileAbove(cwd: string): string | undefined {
  const parent = dirname(cwd);
  return parent === cwd ? undefined : locateSourcesFile({ cwd: parent, env: {} });
}

function refuse(name: string): SecretrunError {
  return new SecretrunError(`${name} already exists in this directory; not overwriting it (check it with "secretrun check")`, { exitCode: 1 });
}

/**
 * Append `entry` to an existing .gitignore unless a line already names it (`/entry` counts too). A project
 * without a .gitignore is left alone: it may not use git at all. A .gitignore that is a symbolic link is never
 * followed (it may point anywhere: a shared file, another user's): it is left as it is and reported.
 * (`secretrun.yaml` is created with `wx`, O_CREAT|O_EXCL, which never follows a link either.)
 */
export function ensureIgnored(gitignorePath: string, entry: string): 'appended' | 'present' | 'absent' | 'symlink' {
  let text: string;
  try {
    text = readNoFollow(gitignorePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'absent';
    if (code === 'ELOOP') return 'symlink';
    throw new SecretrunError(`cannot read .gitignore: ${code ?? 'error'}`, { exitCode: 1 });
  }
  if (hasIgnoreLine(text, entry)) return 'present';
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  let fd: number;
  try {
    fd = openSync(gitignorePath, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'symlink';
    throw new SecretrunError(`cannot append to .gitignore: ${code ?? 'error'}`, { exitCode: 1 });
  }
  try {
    writeSync(fd, `${separator}${entry}\n`);
  } finally {
    closeSync(fd);
  }
  return 'appended';
}

/** Read a file, failing with ELOOP instead of following a symbolic link. */
function readNoFollow(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

export function hasIgnoreLine(text: string, entry: string): boolean {
  return text.split(/\r?\n/).some((line) => {
    const trimmed = line.trim();
    return trimmed === entry || trimmed === `/${entry}`;
  });
}
