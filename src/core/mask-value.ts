/** How a secret value is shown when it is not revealed: `ls`, `diff`, the library's `Secrets` map. */

/**
 * The masked form of a value. It reveals nothing of the value but its length: no prefix, even for long values,
 * because a prefix of a short secret (a PIN, a password) is most of it, and one rule for all lengths is one
 * less thing to get wrong. The length is kept so `diff` can still hint that two values differ.
 */
export function maskValue(value: string): string {
  if (value.length === 0) return '(empty)';
  const chars = [...value].length;
  return `****** (${chars} char${chars === 1 ? '' : 's'})`;
}
