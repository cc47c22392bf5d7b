/**
 * schema.json, generated from the source descriptors (scripts/schema.mjs writes it at build time; a test fails
 * when the checked-in file differs). It is for editors (yaml-language-server): completion, hover descriptions and
 * red squiggles. secretrun itself never reads it: the same specs drive ./validate.ts.
 */
import {
  COMMON_OPTIONS,
  ENVIRONMENT_OPTIONS,
  FILE_DESCRIPTIONS,
  TOP_LEVEL_OPTIONS,
  type OptionSpec,
  type OptionSpecs,
  type TypedShape,
} from './validate.js';

type Json = Record<string, unknown>;

export interface SchemaSource extends TypedShape {
  readonly description: string;
}

/** The JSON Schema of the sources file for these source types. */
export function generateSchema(sources: readonly SchemaSource[]): Json {
  const defs: Json = {
    require: optionSchema(TOP_LEVEL_OPTIONS.require),
    sources: { type: 'array', items: { $ref: '#/$defs/source' } },
    environment: {
      type: 'object',
      additionalProperties: false,
      properties: {
        vars: optionSchema(ENVIRONMENT_OPTIONS.vars),
        sources: { $ref: '#/$defs/sources', description: FILE_DESCRIPTIONS.environmentSources },
        require: { $ref: '#/$defs/require' },
        as_file: optionSchema(ENVIRONMENT_OPTIONS.as_file),
        file_kind: optionSchema(ENVIRONMENT_OPTIONS.file_kind),
      },
    },
    source: {
      type: 'object',
      required: ['type'],
      oneOf: sources.map((s) => ({ $ref: `#/$defs/source_${s.type}` })),
      discriminator: { propertyName: 'type' },
    },
  };
  for (const s of sources) defs[`source_${s.type}`] = sourceSchema(s);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://secretrun.dev/schema.json',
    title: FILE_DESCRIPTIONS.title,
    type: 'object',
    additionalProperties: false,
    properties: {
      default_environment: optionSchema(TOP_LEVEL_OPTIONS.default_environment),
      sources: { $ref: '#/$defs/sources', description: FILE_DESCRIPTIONS.sources },
      environments: { type: 'object', additionalProperties: { $ref: '#/$defs/environment' }, description: FILE_DESCRIPTIONS.environments },
      require: { $ref: '#/$defs/require' },
      as_file: optionSchema(TOP_LEVEL_OPTIONS.as_file),
      file_kind: optionSchema(TOP_LEVEL_OPTIONS.file_kind),
    },
    $defs: defs,
  };
}

function sourceSchema(s: SchemaSource): Json {
  const properties: Json = { type: { const: s.type } };
  for (const [key, spec] of Object.entries(COMMON_OPTIONS as OptionSpecs)) properties[key] = optionSchema(spec, true);
  for (const [key, spec] of Object.entries(s.options)) properties[key] = optionSchema(spec, true);
  const required = ['type', ...Object.keys(s.options).filter((k) => s.options[k].required)];
  return { type: 'object', description: s.description, properties, required, additionalProperties: s.openOptions === true };
}

/**
 * One option. `interpolated`: a layer option's string may be a `${...}` template, which a pattern must let
 * through (the value is only known after interpolation).
 */
function optionSchema(spec: OptionSpec, interpolated = false, withDescription = true): Json {
  const out: Json = {};
  switch (spec.type) {
    case 'string':
      out.type = spec.scalars ? ['string', 'number', 'boolean'] : 'string';
      if (spec.nonEmpty) out.minLength = 1;
      if (spec.pattern) out.pattern = interpolated ? `${spec.pattern.regex}|\\$\\{` : spec.pattern.regex;
      break;
    case 'boolean':
      out.type = 'boolean';
      break;
    case 'number':
    case 'integer':
      out.type = spec.type;
      if (spec.exclusiveMinimum !== undefined) out.exclusiveMinimum = spec.exclusiveMinimum;
      if (spec.minimum !== undefined) out.minimum = spec.minimum;
      if (spec.maximum !== undefined) out.maximum = spec.maximum;
      break;
    case 'enum':
      out.enum = [...spec.values];
      break;
    case 'list':
      out.type = 'array';
      out.items = optionSchema(spec.items, interpolated, false);
      if (spec.minItems !== undefined) out.minItems = spec.minItems;
      break;
    case 'map':
      out.type = 'object';
      out.additionalProperties = optionSchema(spec.values, interpolated, false);
      break;
  }
  if ('default' in spec && spec.default !== undefined) out.default = spec.default;
  if (withDescription) out.description = spec.description;
  return out;
}
