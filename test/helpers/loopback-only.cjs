// Preloaded (NODE_OPTIONS=--require) into a CLI that must talk to loopback fakes and nothing else: no-metadata.cjs's
// guard, tightened. Any DNS lookup of, or connection to, a host other than 127.0.0.0/8, ::1 or localhost (a
// metadata service, or MSAL's instance discovery at login.microsoftonline.com) ends the process at once with exit 98
// and a line on stderr naming the host, whatever the caller would have done with the failure.
'use strict';
const { install } = require('./no-metadata.cjs');

function loopback(host) {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

install((host) => {
  if (typeof host !== 'string' || host === '' || loopback(host)) return;
  process.stderr.write(`loopback-only guard: connection to ${host} refused in tests\n`);
  process.exit(98);
});
