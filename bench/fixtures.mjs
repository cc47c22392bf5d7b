/**
 * The benchmark projects, generated at run time in temp dirs (never committed).
 */
import { dotenvText, keyedObject, tempProject, yamlText } from './lib.mjs';

/** B1: env + dotenv (50 keys) + json layers; the peers read the same `.env`. */
export function startupProject() {
  const p = tempProject('b1');
  p.write('.env', dotenvText('APP', 50));
  p.write('config.json', JSON.stringify({ SERVICE_NAME: 'bench', PORT: 8080, FEATURE_FLAGS: { beta: true } }, null, 2));
  p.write(
    'secretrun.yaml',
    `# B1: what a typical project has
sources:
  - type: env
  - type: dotenv
    path: .env
  - type: json
    path: config.json
`,
  );
  return p;
}

/** B2: 10,000 keys spread over dotenv, json and yaml layers (with some overlap, so merging has work to do). */
export function scaleProject() {
  const p = tempProject('b2');
  p.write('big.env', dotenvText('DOT', 3334));
  p.write('big.json', JSON.stringify(keyedObject('JSN', 3333)));
  p.write('big.yaml', yamlText(keyedObject('YML', 3333)));
  p.write(
    'secretrun.yaml',
    `sources:
  - type: dotenv
    path: big.env
  - type: json
    path: big.json
  - type: yaml
    path: big.yaml
`,
  );
  return p;
}

/**
 * B3: four independent http layers, and a chain of two where the second URL uses a key of the first; one file
 * per delay. The server URL is written literally: a `${NAME}` taken from the process environment would make each
 * layer wait for the earlier remote layers, because an earlier layer's key of the same name would win (contract
 * section 3), and that is a different benchmark.
 */
export function remoteProject(base, delays) {
  const p = tempProject('b3');
  for (const delay of delays) {
    const layer = (path) => `  - type: http\n    url: ${base}/delay/${delay}/${path}\n`;
    p.write(`parallel-${delay}.yaml`, `sources:\n${['alpha', 'beta', 'gamma', 'delta'].map(layer).join('')}`);
    p.write(`chain-${delay}.yaml`, `sources:\n${layer('first')}${layer('${NEXT}')}`);
  }
  return p;
}

/** B4: one ssm layer over 1,000 parameters, and two layers on different paths (parallelism). The endpoint is written literally, as in B3. */
export function ssmProject(endpoint) {
  const p = tempProject('b4');
  const layer = (path) => `  - type: ssm\n    path: ${path}\n    endpoint: ${endpoint}\n    region: us-east-1\n`;
  p.write('one.yaml', `sources:\n${layer('/bench/big')}`);
  p.write('two.yaml', `sources:\n${layer('/bench/left')}${layer('/bench/right')}`);
  return p;
}
