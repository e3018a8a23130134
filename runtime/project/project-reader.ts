import { ProjectError } from '../errors.js';
import { TemplateEngine, type RenderScope } from '../template/template-engine.js';
import { TemplateLocatedError, TemplateUserError } from '../template/strict-compiler.js';
import type { YamlFile } from '../util/yaml-file.js';
import { didYouMean } from '../util/did-you-mean.js';

/**
 * Reads and checks one project file (project.yml, dbt_project.yml): values as their types, errors
 * at the file, line and key, and Jinja in values rendered with what the file may call.
 */
export class ProjectReader {
  protected engine: TemplateEngine | undefined;
  constructor(
    protected readonly yaml: YamlFile,
    protected readonly env: NodeJS.ProcessEnv,
  ) {}

  protected error(path: readonly (string | number)[], message: string, hint?: string): ProjectError {
    return new ProjectError(message, { code: 'config', location: this.yaml.locate(path), hint });
  }

  protected keyName(path: readonly (string | number)[]): string {
    return path.join('.');
  }

  /** What a value in this file may call when it renders: project.yml has env_var() alone. */
  protected renderScope(): RenderScope {
    return { functions: { env_var: (name: unknown, fallback?: unknown) => envVar(this.env, name, fallback) }, values: {} };
  }

  /** A rendered value as it is used: text, for project.yml. */
  protected renderedValue(text: string): unknown {
    return text;
  }

  /** Render `{{ env_var(...) }}` in strings (recursively); other values pass through. */
  protected renderDeep(value: unknown, path: readonly (string | number)[]): unknown {
    if (typeof value === 'string') {
      if (!value.includes('{{') && !value.includes('{%')) return value;
      try {
        this.engine ??= new TemplateEngine([]);
        return this.renderedValue(this.engine.render(this.yaml.file, value, this.renderScope()));
      } catch (error) {
        const message = error instanceof TemplateLocatedError ? error.message : String(error);
        const hint = (error as { hint?: string }).hint;
        throw this.error(path, `${this.keyName(path)}: ${message}`, hint);
      }
    }
    if (Array.isArray(value)) return value.map((v, i) => this.renderDeep(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.renderDeep(v, [...path, k])]));
    }
    return value;
  }

  protected checkKeys(m: Record<string, unknown>, allowed: readonly string[], at: string[], what: string): void {
    for (const key of Object.keys(m)) {
      if (!allowed.includes(key)) {
        const where = at.length ? ` in ${this.keyName(at)}` : '';
        throw this.error([...at, key], `unknown ${what} '${key}'${where}`, didYouMean(key, allowed));
      }
    }
  }

  protected map(value: unknown, path: readonly (string | number)[]): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw this.error(path, `${this.keyName(path) || this.yaml.file} must be a mapping`);
    }
    return value as Record<string, unknown>;
  }

  protected string(value: unknown, path: readonly (string | number)[], required = false): string | undefined {
    if (value === undefined || value === null) {
      if (required) throw this.error(path, `${this.keyName(path)} is required`);
      return undefined;
    }
    if (typeof value !== 'string') throw this.error(path, `${this.keyName(path)} must be a string, got ${JSON.stringify(value)}`);
    return value;
  }

  protected stringList(value: unknown, path: readonly (string | number)[]): string[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return [value];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw this.error(path, `${this.keyName(path)} must be a string or a list of strings`);
    }
    return value;
  }

  protected positiveInt(value: unknown, path: readonly (string | number)[]): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw this.error(path, `${this.keyName(path)} must be a positive integer`);
    }
    return value;
  }
}

/** `env_var('NAME', 'default')`, shared by project.yml, YAML properties and templates. */
export function envVar(env: NodeJS.ProcessEnv, name: unknown, fallback?: unknown): unknown {
  if (typeof name !== 'string') throw new TemplateUserError(`env_var() needs a variable name, got ${JSON.stringify(name)}`);
  const value = env[name];
  if (value !== undefined) return value;
  if (fallback !== undefined) return fallback;
  throw new TemplateUserError(`environment variable ${name} is not set`, `set it, or give a default: env_var('${name}', '...')`);
}
