/**
 * What the layers of one session (one CLI run, one watcher, one `loadSecrets` call) share through
 * `context.session`: a credential client, a login, an access token. Never module state.
 */
import type { SourceContext } from './types.js';

/** A session's shared promise (one login for every layer); without a session, a fresh one. A failure is not kept. */
export function sessionValue<T>(context: Pick<SourceContext, 'session'>, key: string, make: () => Promise<T>): Promise<T> {
  const session = context.session;
  if (!session) return make();
  const known = session.get(key) as Promise<T> | undefined;
  if (known) return known;
  const made = make();
  session.set(key, made);
  made.catch(() => session.delete(key));
  return made;
}
