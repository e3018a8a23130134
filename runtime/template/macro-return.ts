/**
 * dbt's `{{ return(value) }}`: a macro hands a value (a list, a dict, a number) to its caller instead
 * of its rendered text. `return` throws this; every macro is wrapped (`returning`, installed by
 * strict-compiler.ts over Nunjucks' makeMacro) to catch it. It carries
 * a `lineno` so that Nunjucks passes it up unwrapped, as it does its own located errors.
 */
export class MacroReturn extends Error {
  readonly lineno = 1;
  constructor(readonly value: unknown) {
    super('return() outside a macro');
  }
}

/** Whether `error` is a `return()` that reached no macro (Nunjucks may have wrapped it). */
export function isStrayReturn(error: unknown): boolean {
  return error instanceof MacroReturn || (error as { cause?: unknown } | null)?.cause instanceof MacroReturn;
}

/** A project macro that answers `return(value)` with the value, and otherwise with its text. */
export function returning(macro: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]) {
    try {
      return macro.apply(this, args);
    } catch (signal) {
      if (signal instanceof MacroReturn) return signal.value;
      throw signal;
    }
  };
}
