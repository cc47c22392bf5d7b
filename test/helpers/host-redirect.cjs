// Preloaded (NODE_OPTIONS=--require) into a CLI whose store address is fixed by the contract (a `ref+azurekeyvault://`
// reference names a vault, never a host: https://NAME.vault.azure.net on 443). SECRETRUN_TEST_REDIRECT maps such
// destinations to a loopback fake: `my-vault.vault.azure.net:443=127.0.0.1:41234[,...]`. A connection to a mapped
// host and port goes to the fake instead; TLS still names and verifies the original host (the fake's certificate,
// from a throwaway test CA in NODE_EXTRA_CA_CERTS, must name it). Everything loopback-only.cjs guards stays guarded:
// any other host ends the process (exit 98).
'use strict';
require('./loopback-only.cjs');
const net = require('node:net');

const routes = new Map(
  (process.env.SECRETRUN_TEST_REDIRECT || '')
    .split(',')
    .filter(Boolean)
    .map((pair) => {
      const [from, to] = pair.split('=');
      const colon = to.lastIndexOf(':');
      return [from.toLowerCase(), { host: to.slice(0, colon), port: Number(to.slice(colon + 1)) }];
    }),
);

function rerouted(options) {
  if (!options || typeof options !== 'object' || typeof options.host !== 'string') return options;
  const to = routes.get(`${options.host.toLowerCase()}:${options.port}`);
  return to ? { ...options, host: to.host, port: to.port } : options;
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function redirectedConnect(...args) {
  // net.connect passes its normalized arguments as one array ([options, callback]); tls.connect passes options.
  if (Array.isArray(args[0])) args[0] = [rerouted(args[0][0]), ...args[0].slice(1)];
  else args[0] = rerouted(args[0]);
  return connect.apply(this, args);
};
