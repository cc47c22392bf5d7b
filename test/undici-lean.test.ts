/**
 * A remote layer loads only the part of undici it uses (src/sources/net/undici.ts), not the package's index.js:
 * the CLI is run against a real loopback server, with a preload that reports at exit which undici files loaded.
 */
import { createRequire } from 'node:module';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, CLI_NODE, runCommand, useTmpProjects } from './helpers/cli.js';
import { useServers } from './helpers/http-server.js';

const project = useTmpProjects(afterEach);
const serve = useServers(afterEach);

const REPORT = `process.on('exit', () => process.stderr.write('undici: ' + JSON.stringify(Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/]undici[\\\\/]/.test(f)).map((f) => f.replace(/^.*[\\\\/]node_modules[\\\\/]undici[\\\\/]/, ''))) + '\\nhttp2: ' + process.moduleLoadList.includes('NativeModule http2') + '\\n'))`;

describe('undici, the lean way', () => {
  it('an http layer fetches through undici’s request API without loading the whole package', async () => {
    const s = await serve(() => ({ json: { TOKEN: 'from-server', N: 'x' } }));
    const { dir, write } = project({ 'secretrun.yaml': `sources:\n  - type: http\n    url: ${s.origin}/secrets\n` });
    const preload = write('report.cjs', REPORT);
    const r = await runCommand(CLI_NODE, ['-r', preload, BIN, 'export', '--format', 'json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ TOKEN: 'from-server', N: 'x' });
    expect(s.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['GET /secrets']);
    const loaded: string[] = JSON.parse(/undici: (.*)/.exec(r.stderr)![1]);
    expect(loaded).toContain('lib/api/api-request.js');
    expect(loaded).not.toContain('index.js');
    expect(loaded.filter((f) => f.startsWith('lib/web/'))).toEqual([]);
    // bin/secretrun.cjs hands undici's HTTP/2 client a lazy node:http2: an HTTP/1.1 request never loads it.
    expect(r.stderr).toContain('http2: false');
  });

  it('a run with only local layers loads neither undici nor the AWS SDK, google-auth-library or @azure/* (nor node:http, which they need)', async () => {
    const { dir, write } = project({ 'secretrun.yaml': 'sources:\n  - type: dotenv\n    path: .env\n', '.env': 'A=1\n' });
    const preload = write(
      'report.cjs',
      "process.on('exit', () => process.stderr.write(JSON.stringify({ files: Object.keys(require.cache).filter((f) => /undici|@aws-sdk|vendor[\\\\/]aws|google-auth-library|gcp-metadata|gaxios|@azure/.test(f)), http: process.moduleLoadList.includes('NativeModule http') })))",
    );
    const r = await runCommand(CLI_NODE, ['-r', preload, BIN, '--no-exec', '--', 'true'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stderr)).toEqual({ files: [], http: false });
  });

  it('the HTTP/2 constants undici reads when it loads are node:http2’s own', () => {
    const { HTTP2_CONSTANTS } = createRequire(import.meta.url)('../bin/secretrun.cjs') as { HTTP2_CONSTANTS: Record<string, unknown> };
    const real = http2.constants as unknown as Record<string, unknown>;
    expect(Object.keys(HTTP2_CONSTANTS).length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(HTTP2_CONSTANTS)) expect([name, real[name]]).toEqual([name, value]);
  });
});
