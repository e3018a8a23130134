/** Split Nunjucks call arguments into positional and keyword arguments. */
export function splitArgs(args: unknown[]): { positional: unknown[]; kwargs: Record<string, unknown> } {
  const last = args[args.length - 1] as Record<string, unknown> | undefined;
  if (last !== null && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords) {
    const { __keywords: _, ...kwargs } = last;
    return { positional: args.slice(0, -1), kwargs };
  }
  return { positional: args, kwargs: {} };
}
