// Preloaded (NODE_OPTIONS=--require) into every CLI a Google or Azure test spawns: any connection to a link-local
// address (169.254.0.0/16: the AWS, Azure and Google metadata services) or to metadata.google.internal ends the
// process at once with exit 97 and a line on stderr, so no test can reach a real metadata service or credentials.
'use strict';
const net = require('node:net');
const dns = require('node:dns');

const FORBIDDEN_HOST = /^(metadata\.google\.internal|metadata)\.?$/i;
const LINK_LOCAL = /^169\.254\.\d{1,3}\.\d{1,3}$/;

function refuse(host) {
  process.stderr.write(`no-metadata guard: connection to ${host} refused in tests\n`);
  process.exit(97);
}

function check(host) {
  if (typeof host !== 'string') return;
  const bare = host.replace(/^\[|\]$/g, '');
  if (FORBIDDEN_HOST.test(bare) || LINK_LOCAL.test(bare) || /^::ffff:169\.254\./i.test(bare)) refuse(bare);
}

/** Run `check(host)` before every socket connection and DNS lookup of this process (loopback-only.cjs adds its own). */
function install(check) {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    // net.connect passes its normalized arguments as one array: [options, callback].
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    if (first && typeof first === 'object') check(first.host);
    else if (typeof args[1] === 'string') check(args[1]);
    return connect.apply(this, args);
  };
  const lookup = dns.lookup;
  dns.lookup = function guardedLookup(host, ...rest) {
    check(host);
    return lookup.call(this, host, ...rest);
  };
  const promisesLookup = dns.promises.lookup;
  dns.promises.lookup = function guardedPromisesLookup(host, ...rest) {
    check(host);
    return promisesLookup.call(this, host, ...rest);
  };
}

install(check);
module.exports = { install };
