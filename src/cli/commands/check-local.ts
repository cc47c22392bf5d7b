/**
 * What offline `check` can know about the layers' local facts before `run` fails on them (issue 25, item 6):
 *
 * - a layer file that is missing and not `optional` (a problem in the selected environment, a note in another);
 * - a literal URL option (`httpUrl` in its descriptor: http's `url`, doppler's `api_host`) that is not http(s) (the same);
 * - a layer's own files, through its descriptor's `lintFile` (dotenv: lines dotenv ignores, an unquoted `#` that
 *   cuts a value, a UTF-16 file; warnings, `--strict` fails on them). The run's parse stays dotenv's.
 *
 * Only paths and URLs whose `${...}` the environment's `vars` fill are looked at: anything else depends on the
 * parent environment or an earlier layer, which `check --resolve` loads. Findings are built from positions,
 * labels, paths and key names, never a value.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { selectEnvironment, type EnvironmentPlan, type SourcesFile } from '../../core/config.js';
import { ConfigError, formatLocation } from '../../core/errors.js';
import { interpolate, mapStrings, references } from '../../core/interpolate.js';
import { layerName } from '../../core/resolve.js';
import { withDefaults } from '../../core/validate.js';
import { statOrUndefined } from '../../core/files.js';
import type { ExtraDotenv } from '../../core/config.js';

export interface LocalFindings {
  /** Of the selected environment (or shared by every environment): `check` fails. */
  problems: ConfigError[];
  /** Of another environment: shown, never a failure. */
  notes: string[];
  /** Dotenv findings: warnings, errors with `--strict`. */
  warnings: ConfigError[];
}

interface Scope {
  processEnv: Readonly<Record<string, string | undefined>>;
  names: Parameters<typeof selectEnvironment>[1]['names'];
  dotenv?: readonly ExtraDotenv[];
  cwd: string;
  /** `-e`, else SECRETRUN_ENV, else default_environment; undefined when none is selected. */
  selected?: string;
}

export function localFindings(file: SourcesFile, scope: Scope): LocalFindings {
  const defined = file.data.environments ? Object.keys(file.data.environments) : ['default'];
  const out: LocalFindings = { problems: [], notes: [], warnings: [] };
  const seen = new Set<string>();
  const linted = new Set<string>();
  // The selected environment first: a layer it shares with others is its problem, not a note.
  const order = scope.selected !== undefined && defined.includes(scope.selected) ? [scope.selected, ...defined.filter((n) => n !== scope.selected)] : defined;
  for (const name of order) {
    let plan: EnvironmentPlan;
    try {
      plan = selectEnvironment(file, { env: name, processEnv: scope.processEnv, names: scope.names, dotenv: scope.dotenv, cwd: scope.cwd });
    } catch {
      continue; // a problem of the sources file, reported as such
    }
    const isSelected = name === scope.selected || (!file.data.environments && scope.selected === undefined);
    for (const spec of plan.layers) {
      const { options, open } = fillFromVars(withDefaults(spec.source, spec.options), plan.vars);
      const label = layerName(spec, plan.vars, plan.varsFilled);
      const found = (id: string, detail: string) => {
        if (seen.has(id)) return;
        seen.add(id);
        if (isSelected) out.problems.push(new ConfigError(`layer "${label}": ${detail}`, spec.location));
        else out.notes.push(`note: environment "${name}": ${formatLocation(spec.location)}layer "${label}": ${detail}`);
      };
      const dir = spec.dir ?? plan.file.dir;
      // The local files a layer reads, from its descriptor (the same hook watch mode uses).
      const pathsKnown = ![...open].some((k) => k === 'path' || k.endsWith('file'));
      const files = pathsKnown && spec.source.watchPaths ? safe(() => spec.source.watchPaths!(options, { configDir: dir })) : [];
      for (const abs of files) {
        if (options.optional === true) continue;
        const st = statOrUndefined(abs);
        if (!st) found(`missing|${abs}|${spec.location ? formatLocation(spec.location) : label}`, `${shownPath(abs, dir)}: file not found (looked for ${abs}; \`optional: true\` makes it an empty layer)`);
      }
      for (const [key, optionSpec] of Object.entries(spec.source.options)) {
        if (optionSpec.type === 'string' && optionSpec.httpUrl) {
          const url = open.has(key) ? undefined : options[key];
          if (typeof url === 'string' && url !== '' && !/^https?:\/\//i.test(url)) {
            found(`url|${key}|${label}|${spec.location ? formatLocation(spec.location) : ''}`, `\`${key}\` is not an http:// or https:// URL`);
          }
        }
      }
      if (spec.source.lintFile) {
        for (const abs of files) {
          if (linted.has(abs)) continue;
          linted.add(abs);
          let bytes: Buffer;
          try {
            bytes = readFileSync(abs);
          } catch {
            continue;
          }
          const shown = shownPath(abs, scope.cwd);
          for (const finding of spec.source.lintFile(bytes)) out.warnings.push(new ConfigError(finding.text, { file: shown, line: finding.line, col: 1 }));
        }
      }
    }
  }
  return out;
}

/**
 * The options with `${...}` filled from `vars` alone, and the top-level options that name anything else (the
 * parent environment or an earlier layer decides them at run time), left as written.
 */
function fillFromVars(options: Record<string, unknown>, vars: Record<string, string>): { options: Record<string, unknown>; open: Set<string> } {
  const open = new Set<string>();
  const filled = mapStrings(options, (s, path) => {
    try {
      if (!references(s).some((n) => vars[n] === undefined)) return interpolate(s, (n) => vars[n]);
    } catch {
      // malformed: the file's problem, reported as such
    }
    open.add(String(path[0]));
    return s;
  }) as Record<string, unknown>;
  return { options: filled, open };
}

function safe<T>(f: () => T[]): T[] {
  try {
    return f();
  } catch {
    return [];
  }
}

function shownPath(abs: string, from: string): string {
  const rel = relative(from, abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}
