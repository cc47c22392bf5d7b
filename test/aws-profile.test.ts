/**
 * A mistyped AWS profile (AWS_PROFILE or the layer's `profile:`) is named as the cause, with a did-you-mean from
 * the profiles the shared files define, instead of "no region" or "no credentials" (issue 25, item 4). The CLI
 * runs with a temp HOME holding a real ~/.aws/config; nothing is sent anywhere (the endpoint is never reached).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, useTmpProjects } from './helpers/cli.js';
import { definedProfiles, missingProfileMessage } from '../src/sources/aws/profiles.js';

const project = useTmpProjects(afterEach);

function home(): string {
  const { dir } = project({});
  mkdirSync(join(dir, '.aws'));
  writeFileSync(join(dir, '.aws', 'config'), '[default]\nregion = us-east-1\n\n[profile production]\nregion = eu-west-1\n[ profile  staging ]\nregion = eu-west-1\n');
  writeFileSync(join(dir, '.aws', 'credentials'), '[ci-deploy]\naws_access_key_id = AKIAEXAMPLEEXAMPLE\naws_secret_access_key = not-a-real-secret-key\n');
  return dir;
}

const SOURCES = 'sources:\n  - type: ssm\n    path: /app\n    endpoint: http://127.0.0.1:9\n';

describe('a profile the shared files do not define', () => {
  it('reads the profile names of ~/.aws/config and ~/.aws/credentials, never a value', () => {
    const dir = home();
    expect(definedProfiles({ config: join(dir, '.aws/config'), credentials: join(dir, '.aws/credentials') }).sort()).toEqual(['ci-deploy', 'default', 'production', 'staging']);
    expect(missingProfileMessage('production', 'AWS_PROFILE', { HOME: dir })).toBeUndefined();
    expect(missingProfileMessage('ci-deploy', 'AWS_PROFILE', { HOME: dir })).toBeUndefined();
    expect(missingProfileMessage(undefined, 'AWS_PROFILE', { HOME: dir })).toBeUndefined();
    expect(missingProfileMessage('default', 'AWS_PROFILE', { HOME: '/nonexistent' })).toBeUndefined();
    expect(missingProfileMessage('stagin', 'AWS_PROFILE', { HOME: dir })).toBe('profile "stagin" (AWS_PROFILE) not found in ~/.aws/config or ~/.aws/credentials (did you mean "staging"?)');
  });

  it('AWS_PROFILE mistyped, no region anywhere else: the profile is named, not "no region"', async () => {
    const dir = home();
    const { dir: cwd } = project({ 'secretrun.yaml': SOURCES });
    const r = await runCli(['export'], { cwd, env: { HOME: dir, AWS_PROFILE: 'prodution' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('secretrun: layer "ssm /app" (secretrun.yaml:2:5): profile "prodution" (AWS_PROFILE) not found in ~/.aws/config or ~/.aws/credentials (did you mean "production"?)\n');
  });

  it('with a region from AWS_REGION, the same profile is named instead of "no credentials"; `profile:` on the layer too', async () => {
    const dir = home();
    const { dir: cwd } = project({ 'secretrun.yaml': SOURCES });
    const r = await runCli(['export'], { cwd, env: { HOME: dir, AWS_PROFILE: 'prodution', AWS_REGION: 'eu-west-1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('profile "prodution" (AWS_PROFILE) not found in ~/.aws/config or ~/.aws/credentials (did you mean "production"?)');
    const { dir: cwd2 } = project({ 'secretrun.yaml': `${SOURCES}    profile: ci-deplyo\n    region: eu-west-1\n` });
    const r2 = await runCli(['export'], { cwd: cwd2, env: { HOME: dir } });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('profile "ci-deplyo" (layer option `profile`) not found in ~/.aws/config or ~/.aws/credentials (did you mean "ci-deploy"?)');
    expect(r.stderr + r2.stderr).not.toContain('not-a-real-secret-key');
  });
});
