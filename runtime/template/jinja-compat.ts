import type nunjucksTypes from 'nunjucks';

/**
 * The parts of dbt's Jinja that are the same in every render: filters, tests and globals that do
 * not depend on the model being rendered (those are the scope's, see render/context.ts).
 */
export function installJinjaCompat(env: nunjucksTypes.Environment): void {
  (env as unknown as { addTest(name: string, fn: (v: unknown) => boolean): void }).addTest('none', (v: unknown) => v === null || v === undefined);
  env.addFilter('as_bool', (v: unknown) => v === true || v === 'true' || v === 'True');
  env.addFilter('as_number', (v: unknown) => Number(v));
  env.addFilter('as_text', (v: unknown) => (v === null || v === undefined ? '' : String(v)));
}
