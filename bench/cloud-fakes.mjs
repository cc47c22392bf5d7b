// Loopback stand-ins for bench B6's Google and Azure rows: the GCE metadata server with Secret Manager's access
// call (payload and CRC32C), and Key Vault's get with the App Service managed-identity token endpoint. Just enough
// for a layer to resolve; the tests' fakes (test/helpers/fake-gcp.ts, fake-azure.ts) are the faithful ones.
import { createServer } from 'node:http';

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});
const crc32c = (bytes) => {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

function json(res, body, headers = {}) {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function listen(handler) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(new URL(req.url, 'http://127.0.0.1'), req, res));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

/** Metadata server and Secret Manager on one port: each secret's payload is `value-<id>`. */
export function startGoogleFake() {
  return listen((url, req, res) => {
    if (url.pathname.startsWith('/computeMetadata/')) {
      const flavor = { 'metadata-flavor': 'Google' };
      if (url.pathname.endsWith('/token')) return json(res, { access_token: 'ya29.bench', expires_in: 3599, token_type: 'Bearer' }, flavor);
      res.writeHead(url.pathname === '/computeMetadata/v1/instance' ? 200 : 404, flavor);
      return res.end();
    }
    const id = /\/secrets\/([^/]+)\/versions\//.exec(url.pathname)?.[1] ?? '';
    const data = Buffer.from(`value-${id}`);
    json(res, { name: url.pathname, payload: { data: data.toString('base64'), dataCrc32c: String(crc32c(data)) } });
  });
}

/** Key Vault and its managed-identity endpoint (`/msi/token`) on one port: each secret's value is `value-<name>`. */
export function startAzureFake() {
  return listen((url, req, res) => {
    if (url.pathname === '/msi/token') {
      return json(res, { access_token: 'bench-token', expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: url.searchParams.get('resource'), token_type: 'Bearer' });
    }
    const name = url.pathname.split('/')[2] ?? '';
    json(res, { value: `value-${name}`, id: `${url.origin}${url.pathname}`, attributes: { enabled: true } });
  });
}
