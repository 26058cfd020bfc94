/**
 * The walk over a command line shared by the daemon mode (cli.ts) and the native messaging modes
 * (native/command.ts): `--name=value` or `--name value`, flags that take no value, and a peek at the next argument for
 * options whose value is optional.
 */

export interface ArgOption {
  /** The argument as given. */
  arg: string;
  /** The option's name: the argument up to `=` for `--name=value`, else the whole argument. */
  name: string;
  /** The value after `=`, if given that way. */
  inline: string | undefined;
  /** The option's value: after `=`, else the next argument (taken), which must not look like an option. */
  value: () => string;
  /** For an option that takes no value: throws if one was given with `=`. */
  flag: () => true;
  /** Takes the next argument when `accept` says it is this option's (an optional value), else leaves it. */
  optional: (accept: (next: string) => boolean) => string | undefined;
}

/** Calls `each` for every argument of argv in order; `usage` makes the error thrown for a missing or extra value. */
export function walkArgs(
  argv: readonly string[],
  usage: (message: string) => Error,
  each: (option: ArgOption) => void,
): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    each({
      arg,
      name,
      inline,
      value: () => {
        if (inline !== undefined) return inline;
        const next = argv[i + 1];
        // `-` alone is a value (a conventional name for stdin/stdout), not an option.
        if (next === undefined || (next.startsWith('-') && next !== '-')) throw usage(`${name} needs a value`);
        i++;
        return next;
      },
      flag: () => {
        if (inline !== undefined) throw usage(`${name} takes no value`);
        return true;
      },
      optional: (accept) => {
        const next = argv[i + 1];
        if (inline !== undefined || next === undefined || !accept(next)) return undefined;
        i++;
        return next;
      },
    });
  }
}
