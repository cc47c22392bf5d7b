/** `everyPage` (src/sources/net/pages.ts): the one page-following loop of the SSM, Secret Manager and Key Vault listings. */
import { describe, expect, it } from 'vitest';
import { everyPage } from '../src/sources/net/pages.js';

type Page = { items: number[]; next?: string };

function server(pages: Record<string, Page>) {
  const asked: (string | undefined)[] = [];
  return { asked, page: async (token: string | undefined) => (asked.push(token), pages[token ?? 'first']) };
}

describe('everyPage', () => {
  it('follows each token until a page has none, an empty page with a token included', async () => {
    const s = server({ first: { items: [1], next: 'b' }, b: { items: [], next: 'c' }, c: { items: [2, 3] } });
    const pages = await everyPage(s.page, (p) => p.next, () => 'looped');
    expect(pages.flatMap((p) => p.items)).toEqual([1, 2, 3]);
    expect(s.asked).toEqual([undefined, 'b', 'c']);
  });

  it('an empty token ends the listing like a missing one', async () => {
    const s = server({ first: { items: [1], next: '' } });
    expect(await everyPage(s.page, (p) => p.next, () => 'looped')).toHaveLength(1);
  });

  it('a token handed out twice is an error worded by the caller with the pages read, never followed again', async () => {
    const s = server({ first: { items: [1], next: 'b' }, b: { items: [2], next: 'c' }, c: { items: [3], next: 'b' } });
    await expect(everyPage(s.page, (p) => p.next, (n) => `repeated after ${n} pages`)).rejects.toThrow('repeated after 3 pages');
    expect(s.asked).toEqual([undefined, 'b', 'c']);
  });

  it('a token the caller refuses (a link elsewhere) stops the listing with the caller\'s error', async () => {
    const s = server({ first: { items: [1], next: 'https://elsewhere.example/secrets' } });
    const refuse = (p: Page) => {
      if (p.next?.startsWith('https://elsewhere')) throw new Error('points outside');
      return p.next;
    };
    await expect(everyPage(s.page, refuse, () => 'looped')).rejects.toThrow('points outside');
    expect(s.asked).toEqual([undefined]);
  });
});
