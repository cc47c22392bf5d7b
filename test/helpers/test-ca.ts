/**
 * A throwaway certificate authority made with `openssl` at test time, in a temp directory removed at exit: a CA
 * certificate (for `NODE_EXTRA_CA_CERTS`) and one server key and certificate signed by it for the names asked
 * (IP addresses and DNS names, wildcards allowed). Nothing here is ever committed; every run mints its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  /** Path of the CA certificate (PEM): what a client under test trusts through NODE_EXTRA_CA_CERTS. */
  caPath: string;
  /** The server's key and certificate (PEM), for `startServer(handler, { tls })`. */
  tls: { key: string; cert: string };
}

const made = new Map<string, TestCa>();

/**
 * A CA and a server certificate naming `names` (default: 127.0.0.1, localhost, and every Key Vault of the public
 * cloud, for fakes reached through host-redirect.cjs); made once per process per set.
 */
export function testCa(names: string[] = ['127.0.0.1', 'localhost', '*.vault.azure.net']): TestCa {
  const id = names.join(',');
  const known = made.get(id);
  if (known) return known;
  const dir = mkdtempSync(join(tmpdir(), 'secretrun-ca-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const at = (f: string) => join(dir, f);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=secretrun throwaway test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', ...ec, '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', `/CN=${names[0]}`);
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  writeFileSync(at('server.ext'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '2',
    '-extfile', at('server.ext'), '-out', at('server.pem'));
  const ca: TestCa = { caPath: at('ca.pem'), tls: { key: readFileSync(at('server.key'), 'utf8'), cert: readFileSync(at('server.pem'), 'utf8') } };
  made.set(id, ca);
  return ca;
}
