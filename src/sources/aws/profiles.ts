/**
 * Is the profile the SDK was told to use (`AWS_PROFILE`, the layer's `profile`) defined at all? A mistyped name
 * otherwise surfaces as "no region" or "no credentials", which sends the user looking in the wrong place. Only
 * section names are read from the shared files, never a value.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { suggest } from '../../core/validate.js';

export interface SharedFiles {
  config: string;
  credentials: string;
  /** As messages show them: `~/.aws/config` unless AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE say otherwise. */
  configShown: string;
  credentialsShown: string;
}

/** Where the SDK looks, as it finds them: AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/ (HOME). */
export function sharedFiles(env: Readonly<Record<string, string | undefined>>): SharedFiles {
  const home = env.HOME || homedir();
  return {
    config: env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config'),
    credentials: env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials'),
    configShown: env.AWS_CONFIG_FILE ?? '~/.aws/config',
    credentialsShown: env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials',
  };
}

/** The profile names the two files define: `[profile NAME]` or `[NAME]` in config (`[default]`), `[NAME]` in credentials. */
export function definedProfiles(files: Pick<SharedFiles, 'config' | 'credentials'>): string[] {
  const names = new Set<string>();
  for (const [path, isConfig] of [[files.config, true], [files.credentials, false]] as const) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split(/\r?\n/)) {
      const section = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line)?.[1];
      if (!section) continue;
      const profile = isConfig ? /^profile\s+(.+)$/.exec(section)?.[1]?.trim() ?? (section.includes(' ') ? undefined : section) : section;
      if (profile) names.add(profile);
    }
  }
  return [...names];
}

/**
 * `profile "prdo" not found in ~/.aws/config or ~/.aws/credentials (did you mean "prod"?)`, or undefined when
 * no profile was named or it is defined. `default` needs no section (environment credentials may serve it).
 */
export function missingProfileMessage(profile: string | undefined, from: string, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (profile === undefined || profile === 'default') return undefined;
  const files = sharedFiles(env);
  const defined = definedProfiles(files);
  if (defined.includes(profile)) return undefined;
  return `profile "${profile}" (${from}) not found in ${files.configShown} or ${files.credentialsShown}${suggest(profile, defined)}`;
}
