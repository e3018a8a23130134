/**
 * Where the page is, in its hash: `#node/<id>` or `#column/<id>/<column>`. A hash works from
 * file:// (no server to route paths) and gives the back button its history.
 */
export type Route = { readonly kind: 'home' } | { readonly kind: 'node'; readonly id: string } | { readonly kind: 'column'; readonly id: string; readonly column: string };

export function nodeHref(id: string): string {
  return `#node/${encodeURIComponent(id)}`;
}

export function columnHref(id: string, column: string): string {
  return `#column/${encodeURIComponent(id)}/${encodeURIComponent(column)}`;
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'node' && parts.length === 2) return { kind: 'node', id: parts[1] };
  if (parts[0] === 'column' && parts.length === 3) return { kind: 'column', id: parts[1], column: parts[2] };
  return { kind: 'home' };
}
