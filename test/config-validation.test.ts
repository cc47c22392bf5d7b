/**
 * Every option of every source type rejects a bad value, reported once at `secretrun.yaml:line:col` of that
 * value, naming the option, with the message its descriptor gives. Driven by the registry itself, so an option
 * (or a source type) added later is covered without a new test: through the config loader for every kind of bad
 * value, and through the built CLI's `check` for every descriptor.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseSourcesFile } from '../src/core/config.js';
import { COMMON_OPTIONS, layerIssues, type OptionSpec, type OptionSpecs } from '../src/core/validate.js';
import { SOURCES } from '../src/sources/index.js';
import type { SourceDescriptor } from '../src/sources/descriptor.js';
import { runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterAll);

/** A value the option accepts (used to fill the other required options). */
function validValue(spec: OptionSpec): unknown {
  switch (spec.type) {
    case 'string':
      return spec.pattern ? undefined : 'x';
    case 'boolean':
      return true;
    case 'number':
    case 'integer':
      return spec.default ?? 1;
    case 'enum':
      return spec.values[0];
    case 'list':
      return ['A'];
    case 'map':
      return {};
  }
}

interface Bad {
  value: unknown;
  /** What the message says after `sources[0].<option>`. */
  says: string;
  /** Where the problem is below the option (a list item, a map key). */
  sub?: string;
}

/** Bad values for a spec: always a wrong type, plus each constraint the spec declares. */
function badValues(spec: OptionSpec): Bad[] {
  switch (spec.type) {
    case 'string': {
      const bad: Bad[] = [spec.scalars ? { value: ['x'], says: 'expected a string, a number or a boolean, got a list' } : { value: 42, says: 'expected a string, got an integer' }];
      if (spec.nonEmpty) bad.push({ value: '', says: 'must not be empty' });
      if (spec.pattern) bad.push({ value: 'not matching!', says: `"not matching!" is not ${spec.pattern.is}` });
      return bad;
    }
    case 'boolean':
      return [{ value: 'yes', says: 'expected a boolean (true or false), got a string' }];
    case 'number':
    case 'integer': {
      const what = `${spec.type === 'integer' ? 'an integer' : 'a number'}${spec.is ? ` (${spec.is})` : ''}`;
      const bad: Bad[] = [{ value: 'ten', says: `expected ${what}, got a string` }];
      if (spec.exclusiveMinimum !== undefined) bad.push({ value: spec.exclusiveMinimum, says: `must be greater than ${spec.exclusiveMinimum}` });
      if (spec.minimum !== undefined) bad.push({ value: spec.minimum - 1, says: `must be at least ${spec.minimum}` });
      if (spec.maximum !== undefined) bad.push({ value: spec.maximum + 1, says: `must be at most ${spec.maximum}` });
      if (spec.type === 'integer') bad.push({ value: 1.5, says: `expected ${what}, got a fraction` });
      return bad;
    }
    case 'enum':
      return [{ value: 'no-such-choice', says: `unknown value "no-such-choice" (expected one of ${spec.values.join(', ')})` }];
    case 'list': {
      const bad: Bad[] = [{ value: 'A_STRING', says: 'expected a list, got a string' }];
      if (spec.minItems) bad.push({ value: [], says: `must list at least ${spec.minItems} item${spec.minItems === 1 ? '' : 's'}` });
      for (const item of badValues(spec.items).filter((b) => b.value !== '')) bad.push({ value: [item.value], says: item.says, sub: '[0]' });
      return bad;
    }
    case 'map': {
      const bad: Bad[] = [{ value: ['a', 'list'], says: 'expected a mapping, got a list' }];
      for (const v of badValues(spec.values)) bad.push({ value: { K: v.value }, says: v.says, sub: '.K' });
      return bad;
    }
  }
}

function allOptions(d: SourceDescriptor): [string, OptionSpec][] {
  return [...Object.entries(COMMON_OPTIONS as OptionSpecs), ...Object.entries(d.options)];
}

/** The other options a layer needs so that the only problem is the one under test. */
function requiredOthers(d: SourceDescriptor, option: string): string[] {
  const lines: string[] = [];
  for (const [key, spec] of Object.entries(d.options)) {
    if (key !== option && spec.required) lines.push(`    ${key}: ${JSON.stringify(validValue(spec))}`);
  }
  for (const group of d.exclusive ?? []) {
    if (group.exactlyOne && !group.keys.includes(option)) lines.push(`    ${group.keys[0]}: ${JSON.stringify(validValue(d.options[group.keys[0]]))}`);
  }
  return lines;
}

const cases = SOURCES.flatMap((d) => allOptions(d).flatMap(([option, spec]) => badValues(spec).map((bad) => ({ type: d.type, d, option, ...bad }))));

describe('every option of every source type rejects a bad value, with its location (config loader)', () => {
  it('covers every source type and every option', () => {
    expect(new Set(cases.map((c) => c.type))).toEqual(new Set(SOURCES.map((d) => d.type)));
    const covered = new Set(cases.map((c) => `${c.type}.${c.option}`));
    for (const d of SOURCES) for (const [option] of allOptions(d)) expect(covered).toContain(`${d.type}.${option}`);
    expect(cases.length).toBeGreaterThan(150);
  });

  it.each(cases.map((c) => [`${c.type}.${c.option} = ${JSON.stringify(c.value)}`, c] as const))('%s', async (_label, c) => {
    const lines = ['sources:', `  - type: ${c.type}`, `    ${c.option}: ${JSON.stringify(c.value)}`, ...requiredOthers(c.d, c.option)];
    const { dir } = project({ 'secretrun.yaml': lines.join('\n') + '\n' });
    const { problems } = await parseSourcesFile(join(dir, 'secretrun.yaml'), dir, SOURCES);
    const col = 7 + c.option.length;
    expect(problems).toHaveLength(1);
    const [, at, message] = /^secretrun\.yaml:3:(\d+): (.*)$/.exec(problems[0].message) ?? [];
    expect(message).toBe(`sources[0].${c.option}${c.sub ?? ''}: ${c.says}`);
    // At the value itself; a bad list item or map value further right on the same line.
    if (c.sub) expect(Number(at)).toBeGreaterThan(col);
    else expect(Number(at)).toBe(col);
  });
});

describe('`secretrun check` names every bad option of every source type at its line (built CLI)', () => {
  it.each(SOURCES.map((d) => [d.type, d] as const))('%s', async (_type, d) => {
    const options = allOptions(d);
    const lines = ['sources:', `  - type: ${d.type}`, ...options.map(([option, spec]) => `    ${option}: ${JSON.stringify(badValues(spec)[0].value)}`)];
    const { dir } = project({ 'secretrun.yaml': lines.join('\n') + '\n' });
    const r = await runCli(['check'], { cwd: dir });
    expect(r.code).toBe(1);
    options.forEach(([option, spec], i) => {
      expect(r.stderr).toContain(`secretrun.yaml:${3 + i}:${7 + option.length}: sources[0].${option}: ${badValues(spec)[0].says}\n`);
    });
  });
});

describe('exclusive options (exactly one of ssm path/names, ansible-vault password/password_file), from the descriptors', () => {
  const groups = SOURCES.flatMap((d) => (d.exclusive ?? []).filter((group) => group.exactlyOne).map((group) => ({ d, group })));

  it('covers the groups the descriptors declare', () => {
    expect(groups.map(({ d, group }) => `${d.type}: ${group.keys.join('/')}`)).toEqual(expect.arrayContaining(['ssm: path/names', 'ansible-vault: password/password_file']));
  });

  it.each(groups.map((g) => [`${g.d.type} ${g.group.keys.join('/')}`, g] as const))('%s: both given is an error at the second; none given is an error at the layer', async (_type, { d, group }) => {
    const others = Object.entries(d.options).filter(([key, spec]) => spec.required && !group.keys.includes(key)).map(([key, spec]) => `    ${key}: ${JSON.stringify(validValue(spec))}`);
    const [first, second] = group.keys;
    const both = ['sources:', `  - type: ${d.type}`, ...others, `    ${first}: ${JSON.stringify(validValue(d.options[first]))}`, `    ${second}: ${JSON.stringify(validValue(d.options[second]))}`];
    const { dir } = project({ 'secretrun.yaml': both.join('\n') + '\n', 'none.yaml': ['sources:', `  - type: ${d.type}`, ...others].join('\n') + '\n' });
    const twice = await parseSourcesFile(join(dir, 'secretrun.yaml'), dir, SOURCES);
    expect(twice.problems.map((p) => p.message)).toEqual([`secretrun.yaml:${both.length}:5: sources[0].${second}: give exactly one of "${first}" or "${second}", not both`]);
    const none = await parseSourcesFile(join(dir, 'none.yaml'), dir, SOURCES);
    expect(none.problems.map((p) => p.message)).toEqual([`none.yaml:2:5: sources[0]: missing required key: give one of "${first}" or "${second}"`]);
  });
});

describe('an exclusive group may say why (the descriptor words the message)', () => {
  it('uses `why` when both are given', () => {
    const shape = {
      options: { key: { type: 'string', description: 'k' }, many: { type: 'list', items: { type: 'string', description: 'i' }, description: 'm' } },
      exclusive: [{ keys: ['key', 'many'], why: '`key` takes one whole secret, so it needs a single id, not `many`' }],
    } as const;
    expect(layerIssues(shape, { key: 'A', many: ['x'] })).toEqual([{ path: ['many'], atKey: true, message: '`key` takes one whole secret, so it needs a single id, not `many`' }]);
    expect(layerIssues(shape, { key: 'A' })).toEqual([]);
  });
});
