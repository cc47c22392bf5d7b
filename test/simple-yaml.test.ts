/**
 * The sources-file fast path (src/formats/simple-yaml.ts) against the real `yaml` package. Differential: whatever
 * the fast path accepts must have exactly yaml's value and node positions; what it declines is the caller's
 * business (it falls back to yaml). Each snippet also pins down WHETHER it is accepted, so the fast path cannot
 * quietly decline everything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Document, LineCounter, parse, parseDocument, stringify, isMap, isSeq, isPair, isScalar, type Node as YamlNode } from 'yaml';
import { parseSimpleYaml, parseSimpleYamlValue } from '../src/formats/simple-yaml.js';

type Path = (string | number)[];

/** Accepted → same value as yaml, yaml has no error, and every map key / value / seq item is at yaml's position. */
function same(text: string): boolean {
  const r = parseSimpleYaml(text);
  // The data-file variant (no positions) accepts and declines exactly the same documents, with the same value.
  const valueOnly = parseSimpleYamlValue(text);
  expect(valueOnly === undefined, 'parseSimpleYamlValue accepts what parseSimpleYaml accepts').toBe(r === undefined);
  if (r) expect(valueOnly!.value).toStrictEqual(r.value);
  if (!r) return false;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  expect(doc.errors.map((e) => e.code), 'the fast path accepted a document yaml rejects').toEqual([]);
  expect(r.value).toEqual(doc.toJS());
  const at = (node: unknown) => lineCounter.linePos((node as { range: [number, number, number] }).range[0]);
  let checked = 0;
  const walk = (node: YamlNode | null, path: Path): void => {
    expect(r.position(path), `position of ${JSON.stringify(path)}`).toEqual(at(node));
    checked++;
    if (isMap(node)) {
      for (const pair of node.items) {
        expect(isPair(pair) && isScalar(pair.key)).toBe(true);
        const key = String((pair.key as { value: unknown }).value);
        expect(r.position([...path, key], true), `key position of ${JSON.stringify([...path, key])}`).toEqual(at(pair.key));
        walk(pair.value as YamlNode, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item as YamlNode, [...path, i]));
    }
  };
  walk(doc.contents as YamlNode, []);
  expect(checked).toBeGreaterThan(0);
  return true;
}

const README_EXAMPLE = `# yaml-language-server: $schema=./node_modules/secretrun/schema.json
default_environment: dev          # used when neither --env nor SECRETRUN_ENV is given

sources:                          # layers shared by every environment, in order; later layers win
  - type: dotenv
    path: .env
    optional: true                # a missing file gives an empty layer instead of an error
  - type: ssm
    path: /\${STAGE}/WebServer     # \${...} is interpolated
    recursive: true

environments:
  dev:
    vars: { STAGE: Dev }          # names visible to \${...} in this environment only
    sources:                      # appended after the shared layers
      - type: json
        path: config/dev.json
  prod:
    vars: { STAGE: Production }
    sources:
      - type: doppler
        project: openedx
        config: prd
        token: \${DOPPLER_TOKEN}   # may come from the process env or from an earlier layer

require: [SECRET_KEY, DATABASE_URL]   # missing after resolution -> error before the child starts
`;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

describe('realistic sources files are accepted and equal yaml', () => {
  it('the README example', () => {
    expect(same(README_EXAMPLE)).toBe(true);
    const r = parseSimpleYaml(README_EXAMPLE)!;
    expect(r.position(['sources', 1, 'path'])).toEqual({ line: 9, col: 11 });
    expect(r.position(['environments', 'prod', 'sources', 0], false)).toEqual({ line: 21, col: 9 });
    expect(r.position(['environments', 'prod', 'sources', 0, 'token'], true)).toEqual({ line: 24, col: 9 });
    expect(r.position(['require', 1])).toEqual({ line: 26, col: 23 });
    expect(r.position(['nope'])).toBeUndefined();
    expect(r.position(['sources', 7])).toBeUndefined();
    expect(r.position(['sources', 'type'])).toBeUndefined();
  });

  it('the demo and inspect sources files', () => {
    for (const f of ['fixtures/demo/secretrun.yaml', 'fixtures/inspect/secretrun.yaml']) expect(same(readFileSync(f, 'utf8')), f).toBe(true);
  });

  it('every yaml file under fixtures/ (accepted or not, what is accepted equals yaml)', () => {
    const files = yamlFiles('fixtures');
    expect(files.length).toBeGreaterThanOrEqual(4);
    const accepted = files.filter((f) => same(readFileSync(f, 'utf8')));
    expect(accepted).toContain(join('fixtures', 'demo', 'config', 'settings.yaml'));
    expect(accepted).not.toContain(join('fixtures', 'vault', 'inline.yml')); // tags and block scalars
  });
});

/** [snippet, accepted?] */
const SNIPPETS: [string, boolean][] = [
  // comments
  ['# only a comment\na: 1\n', true],
  ['a: 1 # trailing\n', true],
  ['a: 1    # many spaces\n', true],
  ['a: b#c\n', true],
  ['a: b #c\n', true],
  ['a: "b" # c\n', true],
  ["a: 'b'   # c\n", true],
  ['a: "b"# c\n', false],
  ['a: "#notcomment"\n', true],
  ["a: '# neither'\n", true],
  ['a: "x # y"\n', true],
  ['a:\n  # comment inside\n  b: 1\n# outdented comment\n  c: 2\n', true],
  ['a: 1\n   # over-indented comment\nb: 2\n', true],
  ['a: [x, y] # c\n', true],
  ['a: [x, y]# c\n', false],
  ['a: [x #c\n  , y]\n', false],
  // quotes
  ["key: 'it''s'\n", true],
  ["key: ''''\n", true],
  ['a: "x: y"\n', true],
  ['a: "say \\"hi\\" \\\\ \\/ \\n \\t \\r \\u00e9 \\u263A"\n', true],
  ['a: "\\x41"\n', false],
  ['a: "\\0"\n', false],
  ['a: "\\ud83d\\ude00"\n', true],
  ['a: "unterminated\n  b"\n', false],
  ["a: 'multi\n  line'\n", false],
  ['a: "x" trailing\n', false],
  ['a: ""\nb: \'\'\n', true],
  ['a: "x" \nb: \'y\'  \n', true],
  ['a: "x\\"y"\nb: "\\\\"\n', true],
  ['a: \'x\'\'\'\nb: \'\'\'y\'\n', true],
  ['a: "x" "y"\n', false],
  ['a: \'x\' \'y\'\n', false],
  ['"k\\"x": 1\n\'k\'\'y\': 2\n', true],
  ['a: 12   \nb: x   # c\nc: -1\n', true],
  ['a: x #\nb: y  #c\n', true],
  ['"quoted key": 1\n\'single key\': 2\n"": 3\n', true],
  ['"a": 1\na: 2\n', false],
  ['"a":1\n', false],
  ['"a" : 1\n', false],
  ['"true": 1\n"1": 2\n"null": 3\n', true],
  // plain values
  ['a: x:y\n', true],
  ['a: http://example.com:8080/x?y=1&z=2\n', true],
  ['a: x: y\n', false],
  ['a: b:\n', false],
  ['a: x, y\n', true],
  ['a: ${STAGE}/x\n', true],
  ['a: /${STAGE}/WebServer\n', true],
  ['a: x]\n', true],
  ['a: x}\n', true],
  ['a: -x\n', true],
  ['a: - x\n', false],
  ['a: -\n', false],
  ['a: &anchor x\n', false],
  ['a: *alias\n', false],
  ['a: !tag x\n', false],
  ['a: |\n  block\n', false],
  ['a: >\n  folded\n', false],
  ['a: @x\n', false],
  ['a: `x\n', false],
  ['a: %x\n', false],
  ['a: ? x\n', false],
  ['a: :x\n', false],
  ['a: x\n  continued\n', false],
  ['- x\n  continued\n', false],
  ['a: trailing spaces   \nb: 2   \n', true],
  ['a: caf\u00e9 \u00a0x\u00a0\n', true],
  ['a: 1\nb: 2', true],
  ['a:', true],
  // scalars resolved by the core schema
  ['n: [null, Null, NULL, ~, nULL, none]\n', true],
  ['b: [true, True, TRUE, false, False, FALSE, tRUE, yes, no, on, off, y, n]\n', true],
  ['i: [0, 1, -1, +1, 007, -0, 123456789012345678901234567890]\n', true],
  ['f: [1.5, -1.5, +.5, .5, 1., 1e3, 1E-3, -2.5e+10, 1.e2, .5e1]\n', true],
  ['s: [1_000, 1.2.3, 1e, e3, +, ., -.]\n', true],
  ['x: 0x1F\n', false],
  ['x: 0o17\n', false],
  ['x: .inf\n', false],
  ['x: -.Inf\n', false],
  ['x: .nan\n', false],
  ['version: 1.10\nport: 08080\nempty_str: ""\n', true],
  // keys
  ['a.b: 1\nc-d: 2\ne/f: 3\n$schema: 4\n_x: 5\nA1: 6\n', true],
  ['true: 1\n', false],
  ['null: 1\n', false],
  ['1: a\n', false],
  ['1.5: a\n', false],
  ['~: a\n', false],
  ['a b: 1\n', false],
  ['a: 1\na: 2\n', false],
  ['__proto__: 1\n', false],
  ['<<: *x\n', false],
  ['? complex\n: value\n', false],
  ['a:1\n', false],
  // empty values
  ['a:\nb:\n', true],
  ['a:    \nb: # comment\nc:  # comment\n', true],
  ['a:\n  b:\n  c:\n', true],
  ['- a:\n  b:\n', true],
  ['- a:\n- b\n', true],
  ['-\n', false],
  ['- \n- a\n', false],
  ['- # comment\n', false],
  // nested collections
  ['a:\n  b:\n    c:\n      d: 1\n', true],
  ['a:\n    b: 1\n    c: 2\nd: 3\n', true],
  ['a:\n    b: 1\n  c: 2\n', false],
  ['a:\n  - x\n  - y\n', true],
  ['a:\n- x\n- y\nb: 1\n', true],
  ['sources:\n- type: env\n  only: [A]\n- type: dotenv\n  path: .env\n', true],
  ['a:\n  - b: 1\n    c: 2\n  - d: 3\n', true],
  ['a:\n  -   key: v\n      other: w\n  -  x\n', true],
  ['-   key: v\n    other: w\n', true],
  ['-   key: v\n  other: w\n', false],
  ['- key: v\n   other: w\n', false],
  ['- a:\n  - x\n', true],
  ['- a:\n    - x\n', true],
  ['- a:\n    b: 1\n', true],
  ['- a:\n   b: 1\n', true],
  ['- - a\n  - b\n', false],
  ['- -1\n- -x\n- --\n', true],
  ['- a\n- [b, c]\n- {d: 1}\n', true],
  ['a:\n  - x\n  y: 1\n', false],
  ['a: 1\n- x\n', false],
  ['- x\na: 1\n', false],
  ['x:\n  a:\n  b:\n- 1\n', false],
  ['  a: 1\n  b: 2\n', true],
  ['  a: 1\nb: 2\n', false],
  ['a:\n  b: 1\n c: 2\n', false],
  ['a:\n\n\n  b: 1\n', true],
  // flow collections
  ['a: [a, b]\n', true],
  ['a: [a, "b, c", \'d]\']\n', true],
  ['a: []\nb: {}\nc: [ ]\nd: {  }\n', true],
  ['a: { A: 1 }\nb: {A: x, B: "y", C: \'z\'}\n', true],
  ['a: {A: 1, A: 2}\n', false],
  ['a: [a, b,]\n', false],
  ['a: [a, , b]\n', false],
  ['a: [[a]]\n', false],
  ['a: [{b: 1}]\n', false],
  ['a: {b: [1]}\n', false],
  ['a: [a: 1]\n', false],
  ['a: {b:1}\n', false],
  ['a: {b}\n', false],
  ['a: {b: }\n', false],
  ['a: [a b, c]\n', true],
  ['a: [a\n  , b]\n', false],
  ['a: [1, -1, 1.5, true, null, ~]\n', true],
  ['a: [-]\n', false],
  ['a: [x#y]\n', false],
  ['a: [x] y\n', false],
  ['[a, b]\n', false],
  // documents and whitespace
  ['---\na: 1\n', false],
  ['a: 1\n...\n', false],
  ['%YAML 1.2\n---\na: 1\n', false],
  ['a: 1\n---\nb: 2\n', false],
  ['a: 1\r\nb: 2\r\n', false],
  ['a:\n\tb: 1\n', false],
  ['a: x\ty\n', false],
  ['\ufeffa: 1\n', false],
  ['a: x\u2028y\n', false],
  ['a: x\u0085y\n', false],
  ['', false],
  ['# nothing\n\n', false],
  ['scalar\n', false],
  ['"scalar"\n', false],
];

describe('snippets: acceptance and equality with yaml', () => {
  it.each(SNIPPETS)('%j (accepted: %s)', (text, accepted) => {
    expect(same(text)).toBe(accepted);
  });

  it('an empty value sits where yaml puts its null node (after the colon and any spaces)', () => {
    const r = parseSimpleYaml('a:\nb:   \nc:  # x\n')!;
    expect(r.position(['a'])).toEqual({ line: 1, col: 3 });
    expect(r.position(['b'])).toEqual({ line: 2, col: 6 });
    expect(r.position(['c'])).toEqual({ line: 3, col: 5 });
  });

  it('a block collection starts at its first key or dash, not after the parent key', () => {
    const r = parseSimpleYaml('a:\n\n  # c\n  b: 1\nc:\n- x\n-   y: 2\n')!;
    expect(r.position(['a'])).toEqual({ line: 4, col: 3 });
    expect(r.position(['c'])).toEqual({ line: 6, col: 1 });
    expect(r.position(['c', 1])).toEqual({ line: 7, col: 5 });
    expect(r.position(['c', 1, 'y'], true)).toEqual({ line: 7, col: 5 });
    expect(r.position([], true)).toBeUndefined();
  });
});

describe('property: yaml.stringify output is declined or parsed exactly like yaml.parse', () => {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/) },
    fc.constantFrom('a.b', 'x-y', 'true', 'null', '1', '~', 'a b', 'k: v', '#h', "it's", '"q"', ''),
  );
  const text = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[a-z$/.][a-z0-9 ._/:{}$-]{0,12}$/) },
    fc.string({ maxLength: 12 }),
    fc.constantFrom('', ' ', 'a: b', 'a #b', '#x', '- x', '[a]', '{a}', '${X}', "it's", 'say "hi"', 'true', 'Null', '1.5', '0x1F', '.inf', '007', '1e3', 'é', '\t', '\n', 'a\nb', ' lead', 'trail '),
    fc.string({ unit: fc.constantFrom('a', ' ', ':', '#', '-', "'", '"', '\\', ',', '[', '{', '}', '&', '*', '!', '|', '>', '?', '%', '@', '\n', '\t', 'é', '\u2028'), maxLength: 10 }),
  );
  const scalar = fc.oneof(text, fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null));
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small', maxDepth: 4 }, scalar, tie('map'), tie('list')),
    map: fc.dictionary(key, tie('tree'), { maxKeys: 5 }),
    list: fc.array(fc.oneof(tie('map'), scalar), { maxLength: 4 }),
  }));
  const root = fc.dictionary(key, tree, { minKeys: 1, maxKeys: 6 });
  const VARIANTS = [{}, { defaultStringType: 'QUOTE_DOUBLE' as const }, { defaultStringType: 'QUOTE_SINGLE' as const }, { collectionStyle: 'flow' as const }, { indentSeq: false }, { indent: 4 }];

  it('random documents in several stringify styles', () => {
    let accepted = 0;
    fc.assert(
      fc.property(root, fc.constantFrom(...VARIANTS), (value, options) => {
        const doc = stringify(value, options);
        const r = parseSimpleYaml(doc);
        expect(parseSimpleYamlValue(doc)?.value).toStrictEqual(r?.value);
        if (r) {
          accepted++;
          expect(r.value).toEqual(parse(doc));
          same(doc);
        }
      }),
      { numRuns: Number(process.env.SIMPLE_YAML_RUNS ?? 500) },
    );
    expect(accepted).toBeGreaterThan(100); // the property must not pass by declining everything
  });

  it('flow leaves: maps of scalar arrays and scalar maps written in flow style', () => {
    let accepted = 0;
    const leafMap = fc.dictionary(key, fc.oneof(fc.array(scalar, { maxLength: 4 }), fc.dictionary(key, scalar, { maxKeys: 3 }), scalar), { minKeys: 1, maxKeys: 5 });
    fc.assert(
      fc.property(leafMap, (value) => {
        const doc = new Document(value);
        if (!isMap(doc.contents)) return;
        for (const pair of doc.contents.items) {
          if (isMap(pair.value) || isSeq(pair.value)) pair.value.flow = true;
        }
        if (same(doc.toString())) accepted++;
      }),
      { numRuns: Number(process.env.SIMPLE_YAML_RUNS ?? 300) },
    );
    expect(accepted).toBeGreaterThan(60);
  });
});

describe('property: random lines of YAML-ish pieces are declined or parsed exactly like yaml', () => {
  const piece = fc.constantFrom('a', 'K_1', 'x.y', ':', ': ', '- ', '-', ' ', '#', ' #c', '"', "'", '"q"', "'s'", "''", '\\n', '\\', '[', ']', '{', '}', ', ', ',', '1', '-1', '1.5', 'true', 'null', '~', '0x1', '1e3', '${A}', 'é', '?', '&', '*', '!', '|', '>', '%', '@', '.env', '.5', '.inf', '.NaN', '-.inf', '.', './x', '.e3', '$', '/p', '-x', '-]');
  const key = fc.constantFrom('a', 'b', 'K_1', 'x.y', 'a-b', '"q"', "'s'", '"a b"', 'true', '1', 'a b', '"a"', 'é', '$x', '-a', 'a:b', '"x":');
  const value = fc.oneof(
    fc.constantFrom('', ' ', 'x', '[a, b]', '{ A: 1 }', '[]', '{}', '"s"', "'it''s'", 'a: b', 'x:y', '1', '-', '- x', '[a, [b]]', '{A: 1, A: 2}', '"\\u00e9"'),
    fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join('')),
  );
  const line = fc
    .tuple(fc.constantFrom(0, 0, 2, 2, 4, 3), fc.constantFrom('', '', '- ', '-  ', '- - ', '-'), fc.option(key), fc.constantFrom(': ', ':', ':  '), value, fc.constantFrom('', '', ' # c', '# c', ' #'))
    .map(([indent, dash, k, colon, v, comment]) => ' '.repeat(indent) + dash + (k === null ? v : k + colon + v) + comment);
  const doc = fc.array(line, { minLength: 1, maxLength: 6 }).map((lines) => lines.join('\n') + '\n');

  it('structured noise', () => {
    let accepted = 0;
    fc.assert(
      fc.property(doc, (text) => {
        if (same(text)) accepted++;
      }),
      { numRuns: Number(process.env.SIMPLE_YAML_RUNS ?? 3000) },
    );
    expect(accepted).toBeGreaterThan(30);
  });
});
