/**
 * "Wrong types for every option" (issue 7), exhaustively: for every source type in schema.json and every
 * option it declares, a value of the wrong type is reported once, at `secretrun.yaml:line:col` of that value,
 * saying what was expected. Driven by the schema itself, so an option added later is covered without a new test.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseSourcesFile, schema } from '../src/core/config.js';
import type { Schema } from '../src/core/validate.js';
import { useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterAll);

function deref(s: Schema): Schema {
  return s.$ref ? { ...schema.$defs![s.$ref.replace('#/$defs/', '')], ...s, $ref: undefined } : s;
}

/** A value the option accepts (used to fill required options). */
function validValue(s: Schema): unknown {
  const d = deref(s);
  if (d.enum) return d.enum[0];
  const t = Array.isArray(d.type) ? d.type[0] : d.type;
  return { string: 'x', boolean: true, number: 1, integer: 1, array: ['A'], object: {} }[t ?? 'string'];
}

/** A value of the wrong type, and the words the message must use. */
function wrongValue(s: Schema): { value: unknown; says: RegExp } | undefined {
  const d = deref(s);
  if (d.const !== undefined) return undefined;
  if (d.enum) return { value: 'no-such-choice', says: /unknown value "no-such-choice" \(expected one of / };
  const t = Array.isArray(d.type) ? d.type[0] : d.type;
  if (t === 'string') return { value: 42, says: /expected a string, got an integer/ };
  if (t === 'boolean') return { value: 'yes', says: /expected a boolean \(true or false\), got a string/ };
  if (t === 'number' || t === 'integer') return { value: 'ten', says: new RegExp(`expected (a|an) ${t}, got a string`) };
  if (t === 'array') return { value: 'A_STRING', says: /expected a list, got a string/ };
  if (t === 'object') return { value: ['a', 'list'], says: /expected a mapping, got a list/ };
  return undefined;
}

const sourceTypes = Object.entries(schema.$defs!).filter(([name]) => name.startsWith('source_'));
const cases = sourceTypes.flatMap(([, def]) => {
  const type = def.properties!.type.const as string;
  return Object.entries(def.properties!).flatMap(([option, optionSchema]) => {
    const wrong = wrongValue(optionSchema);
    return wrong ? [{ type, option, ...wrong, required: (def.required ?? []).filter((r) => r !== 'type' && r !== option), def }] : [];
  });
});

describe('every option of every source type rejects a value of the wrong type, with its location', () => {
  it('covers every source type and a good number of options', () => {
    expect(new Set(cases.map((c) => c.type)).size).toBe(sourceTypes.length);
    expect(cases.length).toBeGreaterThan(80);
  });

  it.each(cases.map((c) => [`${c.type}.${c.option}`, c] as const))('%s', async (_label, c) => {
    const lines = ['sources:', `  - type: ${c.type}`, `    ${c.option}: ${JSON.stringify(c.value)}`];
    for (const r of c.required) lines.push(`    ${r}: ${JSON.stringify(validValue(c.def.properties![r]))}`);
    const { dir } = project({ 'secretrun.yaml': lines.join('\n') + '\n' });
    const { problems } = await parseSourcesFile(join(dir, 'secretrun.yaml'), dir);
    expect(problems.map((p) => p.message)).toEqual([expect.stringMatching(new RegExp(`^secretrun\\.yaml:3:${7 + c.option.length}: sources\\[0\\]\\.${c.option}: ${c.says.source}`))]);
  });
});
