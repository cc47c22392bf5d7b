/**
 * The source registry is the one definition of the source types: schema.json is generated from it (and the
 * checked-in file must be the generated one), and a new descriptor added to an in-memory registry shows up in
 * `check`, the generated schema, completion and the resolver without any other file changing.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../src/cli/commands/check.js';
import { sourceCompletions } from '../src/cli/commands/completion.js';
import { ConfigErrors } from '../src/core/errors.js';
import { generateSchema } from '../src/core/schema.js';
import { resolveSecrets } from '../src/core/pipeline.js';
import { COMMON_OPTION_NAMES } from '../src/core/validate.js';
import { deferredSource, defineSource } from '../src/sources/descriptor.js';
import { SOURCES } from '../src/sources/index.js';
// @ts-expect-error: a plain .mjs build script without type declarations
import { generatedSchemaText } from '../scripts/schema.mjs';
import { runCli, useTmpProjects } from './helpers/cli.js';

const project = useTmpProjects(afterAll);
const ROOT = join(import.meta.dirname, '..');

describe('schema.json is generated from the descriptors', () => {
  it('the checked-in schema.json is exactly what the descriptors generate (run `node scripts/schema.mjs` after changing a source)', async () => {
    const generated: string = await generatedSchemaText();
    expect(readFileSync(join(ROOT, 'schema.json'), 'utf8')).toBe(generated);
  });

  it('lists every source type once, with the common keys and its own options, descriptions included', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema.json'), 'utf8'));
    const oneOf = schema.$defs.source.oneOf.map((r: { $ref: string }) => r.$ref);
    expect(oneOf).toEqual(SOURCES.map((d) => `#/$defs/source_${d.type}`));
    for (const d of SOURCES) {
      const def = schema.$defs[`source_${d.type}`];
      expect(def.description).toBe(d.description);
      expect(Object.keys(def.properties)).toEqual([...COMMON_OPTION_NAMES, ...Object.keys(d.options)]);
      for (const [key, spec] of Object.entries(d.options)) expect(def.properties[key].description).toBe(spec.description);
    }
    // The template default lives in the doppler descriptor only, and editors see it.
    expect(schema.$defs.source_doppler.properties.token.default).toBe('${DOPPLER_TOKEN}');
  });
});

describe('a throwaway source type, added to an in-memory registry only', () => {
  const load = vi.fn(async (options: { item: string; uppercase: boolean }) => ({ [options.uppercase ? 'ITEM' : 'item_value']: `from ${options.item}` }));
  const throwaway = defineSource({
    type: 'throwaway',
    description: 'A source that exists only in this test.',
    options: {
      item: { type: 'string', required: true, pattern: { regex: '^[a-z]+$', is: 'a lower-case item name' }, description: 'The item to read.' },
      uppercase: { type: 'boolean', default: true, description: 'Upper-case the key.' },
    },
    label: (o) => (typeof o.item === 'string' ? o.item : undefined),
    load,
  });
  const registry = [...SOURCES, throwaway];

  it('is checked by `check`, with located errors whose message comes from its descriptor', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: throwaway\n    item: Not-Lower\n    uppercas: true\n' });
    const config = join(dir, 'secretrun.yaml');
    const err = await check({ config, sources: registry, quiet: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigErrors);
    // check shows the path relative to the current directory, here the absolute one.
    expect((err as ConfigErrors).errors.map((e) => e.message.replace(`${dir}/`, ''))).toEqual([
      'secretrun.yaml:3:11: sources[0].item: "Not-Lower" is not a lower-case item name',
      'secretrun.yaml:4:5: sources[0].uppercas: unknown key "uppercas" (did you mean "uppercase"?)',
      'secretrun.yaml: 2 problems',
    ]);
    // The built-in registry does not know it.
    const builtin = await check({ config, quiet: true }).catch((e: unknown) => e);
    expect((builtin as ConfigErrors).errors[0].message.replace(`${dir}/`, '')).toMatch(/^secretrun\.yaml:2:11: sources\[0\]\.type: unknown source type "throwaway"/);
  });

  it('is loaded by `check --resolve` and the resolver, labelled and defaulted by its descriptor', async () => {
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: throwaway\n    item: books\n' });
    await expect(check({ config: join(dir, 'secretrun.yaml'), sources: registry, resolve: true, quiet: true })).resolves.toBe(0);
    const { resolution } = await resolveSecrets({ cwd: dir, processEnv: {}, sources: registry });
    expect(Object.fromEntries([...resolution.entries].map(([k, e]) => [k, [e.value, e.layer]]))).toEqual({ ITEM: ['from books', 'throwaway books'] });
    expect(load).toHaveBeenLastCalledWith({ type: 'throwaway', item: 'books', uppercase: true }, expect.anything());
  });

  it('its risky names are findings unless its descriptor says it passes the parent environment through (as `env` does)', async () => {
    const parentLike = (passesParentEnvironment: boolean) =>
      defineSource({ type: 'parentlike', description: 'Repeats a PATH.', options: {}, passesParentEnvironment, load: async () => ({ PATH: '/opt/bin' }) });
    const { dir } = project({ 'secretrun.yaml': 'sources:\n  - type: parentlike\n' });
    const risky = async (passes: boolean) => (await resolveSecrets({ cwd: dir, processEnv: {}, sources: [...SOURCES, parentLike(passes)] })).findings.riskyNames;
    expect(await risky(false)).toEqual([{ key: 'PATH', layer: 'parentlike' }]);
    expect(await risky(true)).toEqual([]);
    expect(SOURCES.filter((d) => d.passesParentEnvironment).map((d) => d.type)).toEqual(['env']);
  });

  it('appears in the generated schema', () => {
    const schema = generateSchema(registry) as { $defs: Record<string, { properties: Record<string, { description?: string; default?: unknown }>; required: string[] }> };
    const def = schema.$defs.source_throwaway;
    expect(def.required).toEqual(['type', 'item']);
    expect(def.properties.item.description).toBe('The item to read.');
    expect(def.properties.uppercase.default).toBe(true);
    expect(generateSchema(SOURCES).$defs).not.toHaveProperty('source_throwaway');
  });

  it('appears in completion, with its options after the common ones', () => {
    const entry = sourceCompletions(registry).find((s) => s.type === 'throwaway');
    expect(entry).toEqual({ type: 'throwaway', description: 'A source that exists only in this test.', options: [...COMMON_OPTION_NAMES, 'item', 'uppercase'] });
    expect(sourceCompletions().map((s) => s.type)).not.toContain('throwaway');
  });

  it('the built CLI lists the built-in registry for editor plug-ins: `completion --list-sources`', async () => {
    const r = await runCli(['completion', '--list-sources']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(SOURCES.map((d) => `${d.type}\t${[...COMMON_OPTION_NAMES, ...Object.keys(d.options)].join(' ')}\n`).join(''));
  });
});

// The CLI bundle defers every source type a run of local layers does not use (scripts/cli-bundles.mjs,
// `deferredSource`): its entry knows only the type until another property is read.
describe('deferred registry entries', () => {
  const vault = SOURCES.find((d) => d.type === 'vault')!;

  it('answer `type` without loading, and load once on the first other read', () => {
    const get = vi.fn(() => vault);
    const entry = deferredSource('vault', get);
    expect(entry.type).toBe('vault');
    expect(get).not.toHaveBeenCalled();
    expect(entry.reference?.scheme).toBe('vault');
    expect(entry.options).toBe(vault.options);
    expect(entry.load).toBe(vault.load);
    expect(get).toHaveBeenCalledTimes(1);
    expect(Object.isFrozen(entry)).toBe(true);
  });

  it('have every property a descriptor has, so nothing reads past them', () => {
    for (const d of SOURCES) expect(Object.keys(deferredSource(d.type, () => d)).sort()).toEqual(expect.arrayContaining(Object.keys(d).sort()));
  });

  it('refuse a module that describes another type than the one the registry names', () => {
    expect(() => deferredSource('vualt', () => vault).options).toThrow('registry: module for type "vualt" describes "vault"');
  });

  it('the bundle names each type after its module file, as the registry does: ./TYPE.js exports the descriptor of TYPE', () => {
    const text = readFileSync(join(ROOT, 'src/sources/index.ts'), 'utf8');
    const files = [...text.matchAll(/^import \w+ from '\.\/([\w-]+)\.js';$/gm)].map(([, file]) => file);
    expect(files.sort()).toEqual(SOURCES.map((d) => d.type).sort());
  });
});
