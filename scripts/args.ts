/**
 * Command-line helpers shared by the npm scripts (admin, catalogue, kofi):
 * a usage error (the script prints it with its help and exits 1) and the
 * `--name value` option reader.
 */
export class UsageError extends Error {}

/** The value after `name` in `args`; undefined when absent; a UsageError when the value is missing. */
export function option(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
  return value;
}
