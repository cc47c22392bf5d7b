/**
 * The number of a signal, for the 128+n exit status. Its own module so that node:os is loaded (lazily, by
 * `import()`) only when a child was killed by a signal: a plain run that exits normally never needs it.
 */
import { constants } from 'node:os';

export function signalNumber(sig: NodeJS.Signals): number {
  return constants.signals[sig] ?? 0;
}
