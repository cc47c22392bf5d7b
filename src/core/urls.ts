/**
 * URLs in messages and labels, and which hosts count as loopback. A URL is never shown with its userinfo, query
 * or fragment: a password, a `?token=` or a signed fragment would otherwise reach the terminal. The stripping
 * must hold for text that is not a valid URL too (a password holding `/`, `#`, `?` or `@` breaks URL parsing),
 * so it does not rely on the URL parser alone.
 */

export interface UrlDisplayOptions {
  /** Keep the path (labels do: `http https://vault/v1/secret/data/app`); messages show only the origin. */
  path?: boolean;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*:)?\/\//;
const MAX_SHOWN = 120;

/**
 * `scheme://host[:port][/path]` of `raw`, or of whatever part of it can be shown safely. Everything up to the
 * LAST `@` is userinfo (a password may hold `@`, `/`, `?` or `#`); everything from the first `?` or `#` after
 * that is query or fragment.
 */
export function urlForDisplay(raw: string, options: UrlDisplayOptions = {}): string {
  // A label may start with an unfilled `${ORIGIN}`; any other text without `scheme://` is no URL we can read,
  // and nothing of it is shown.
  const scheme = SCHEME.exec(raw)?.[0] ?? (raw.startsWith('${') ? '' : undefined);
  if (scheme === undefined) return '(invalid URL)';
  let rest = raw.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at >= 0) rest = rest.slice(at + 1);
  rest = rest.replace(/[?#][\s\S]*$/, '');
  const slash = rest.indexOf('/');
  const host = slash < 0 ? rest : rest.slice(0, slash);
  const shown = `${scheme}${host}${options.path && slash >= 0 ? rest.slice(slash) : ''}`;
  return shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}…` : shown;
}

/** Loopback as the transport rule counts it: `localhost`, 127.0.0.0/8 and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Where the userinfo and the query sit in `url` (as the WHATWG parser splits it: the userinfo ends at the last
 * `@` of the authority), as `[start, end)` ranges.
 */
export function urlCredentialParts(url: string): { userinfo?: [number, number]; query?: [number, number] } {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  if (!scheme) return {};
  const authStart = scheme[0].length;
  const authEnd = url.slice(authStart).search(/[/?#\\]/);
  const end = authEnd < 0 ? url.length : authStart + authEnd;
  const at = url.lastIndexOf('@', end - 1);
  const out: { userinfo?: [number, number]; query?: [number, number] } = {};
  if (at >= authStart) out.userinfo = [authStart, at];
  const q = url.indexOf('?', end);
  if (q >= 0) {
    const hash = url.indexOf('#', q);
    out.query = [q + 1, hash < 0 ? url.length : hash];
  }
  return out;
}
