import { ProjectError, type SourceLocation } from '../errors.js';

/**
 * dbt renders packages.yml with one function only, `env_var()`, so a git URL can carry a token
 * without writing it in the file. The same here: `{{ env_var('NAME') }}` and
 * `{{ env_var('NAME', 'default') }}` inside a string; any other template text is refused.
 */
const ENV_VAR_CALL = /\{\{\s*env_var\(\s*(['"])([^'"]*)\1\s*(?:,\s*(['"])([^'"]*)\3\s*)?\)\s*\}\}/g;

export function renderEnvVars(text: string, env: NodeJS.ProcessEnv, location: SourceLocation, fileAllowsTemplates: boolean): string {
  if (!text.includes('{{') && !text.includes('{%')) return text;
  if (!fileAllowsTemplates) {
    throw new ProjectError(`${location.file} cannot hold templates ({{ ... }}); dbt renders only packages.yml`, { location });
  }
  if (/\{\{|\{%/.test(text.replace(ENV_VAR_CALL, ''))) {
    throw new ProjectError(`only {{ env_var('NAME') }} and {{ env_var('NAME', 'default') }} may appear in ${location.file}`, { location });
  }
  return text.replace(ENV_VAR_CALL, (_all, _q, name: string, _q2, fallback: string | undefined) => {
    const value = env[name] ?? fallback;
    if (value === undefined) throw new ProjectError(`env_var('${name}'): the environment variable is not set and no default is given`, { location });
    return value;
  });
}
