/**
 * The registry: every built-in source type, as a list of descriptors (./descriptor.ts), in the order editors,
 * docs and messages list them. Adding a source type is one module exporting its descriptor and one line here
 * (then `node scripts/build.mjs` regenerates schema.json); no core code changes.
 *
 * Descriptor modules are light to import; each loads its heavy dependencies (the AWS SDK, undici, vault crypto)
 * inside `load`, so a run with only local layers never pays for them.
 */
import type { SourceDescriptor } from './descriptor.js';
import env from './env.js';
import dotenv from './dotenv.js';
import json from './json.js';
import yaml from './yaml.js';
import ssm from './ssm.js';
import secretsmanager from './secretsmanager.js';
import doppler from './doppler.js';
import http from './http.js';
import gcpSecretManager from './gcp-secret-manager.js';
import azureKeyVault from './azure-key-vault.js';
import exec from './exec.js';
import module from './module.js';
import ansibleVault from './ansible-vault.js';
import vault from './vault.js';

export type SourceRegistry = readonly SourceDescriptor[];

export const SOURCES: SourceRegistry = [env, dotenv, json, yaml, ssm, secretsmanager, vault, gcpSecretManager, azureKeyVault, doppler, http, exec, module, ansibleVault];
