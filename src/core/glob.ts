/** `*` / `?` glob matching for key names (`only`, `decode`, `public`, `diff --only`). */
const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`);
    cache.set(glob, re);
  }
  return re;
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

export function matchesAny(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (isGlob(p) ? globToRegExp(p).test(name) : p === name));
}
