/**
 * Where a credential came from, in words for a message, never its value: a 401 or 403 then says which token was
 * used when several could have been (`DOPPLER_TOKEN` in `.env` and another in the shell: the `.env` one wins).
 *
 *   credentialOrigin(context, ['token'], 'token')
 *     → `token DOPPLER_TOKEN from layer "dotenv .env"` | `token DOPPLER_TOKEN from the environment`
 *     | `token from the sources file` | `token VAULT_TOKEN from the sources file's vars`
 *
 * A source calls it with the option path that holds the credential (`['token']`, `['headers', 'X-Vault-Token']`,
 * `['auth', 'secret_id']`); the resolver records, per string option, where each `${NAME}` was filled from
 * (`SourceContext.origins`). A credential a source finds itself (`~/.vault-token`, a credential chain) is named
 * by the source: `credentialFound('token', '~/.vault-token')`.
 */
import { shown } from '../../core/errors.js';
import type { FilledFrom, SourceContext } from '../types.js';

export function credentialOrigin(context: Pick<SourceContext, 'origins'>, path: (string | number)[], what: string): string | undefined {
  // Without the resolver's record (a caller that builds its own context), say nothing rather than guess.
  if (!context.origins) return undefined;
  const origins = context.origins(path);
  if (origins.length === 0) return `${what} from the sources file`;
  const described = [...new Set(origins.map(describeOrigin))];
  return `${what} ${described.join(' and ')}`;
}

/** A credential a source found itself, e.g. `token from ~/.vault-token`. */
export function credentialFound(what: string, where: string): string {
  return `${what} from ${where}`;
}

function describeOrigin(origin: FilledFrom): string {
  switch (origin.from) {
    case 'layer':
      return `${origin.name} from layer "${shown(origin.layer)}"`;
    case 'env':
      return `${origin.name} from the environment`;
    case 'vars':
      return `${origin.name} from the sources file's vars`;
  }
}
