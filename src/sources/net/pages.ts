/**
 * Paged listings (SSM GetParametersByPath and BatchGetSecretValue, Secret Manager's list, Key Vault's list): every
 * page, each next one asked with the token or link the previous page gave.
 */
import { SourceError } from '../../core/errors.js';

/**
 * A page may be empty while its token is still set, so only a missing token ends the listing. A token handed out
 * twice is an error worded by `repeated` (given the pages read so far), never followed: a server that gives back a
 * token it already gave would otherwise loop forever. `tokenOf` may throw to refuse a token (a link elsewhere).
 */
export async function everyPage<P>(page: (token: string | undefined) => Promise<P>, tokenOf: (page: P) => string | undefined, repeated: (pages: number) => string): Promise<P[]> {
  const pages: P[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const answer = await page(token);
    pages.push(answer);
    token = tokenOf(answer) || undefined;
    if (token !== undefined) {
      if (seen.has(token)) throw new SourceError(repeated(pages.length));
      seen.add(token);
    }
  } while (token !== undefined);
  return pages;
}
