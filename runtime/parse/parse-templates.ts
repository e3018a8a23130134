import { CompileError } from '../errors.js';
import { buildRenderScope } from '../render/context.js';
import { DBT_BUILTIN_MACRO_FILES } from '../template/dbt-builtin-macros.js';
import { TemplateLocatedError } from '../template/strict-compiler.js';
import { INTERNAL_PACKAGE, TemplateEngine, type RenderScope } from '../template/template-engine.js';
import { readMacroDefinitions } from './macros.js';
import { NAMING_MACROS, nameRelation } from './naming-macros.js';
import type { ParseContext } from './parse-context.js';
import { locateNodeError } from './parse-errors.js';
import type { ProjectMacros } from './parse-macros.js';
import type { ConfigLayer } from './resolve-config.js';

/**
 * The template engine as parse uses it: made on first use (`ls` on a project whose models need
 * no render never compiles macros), the scope parse renders in (no refs), and the relation names
 * a project's naming macros give.
 */
export class ParseTemplates {
  private made: TemplateEngine | undefined;
  /** The project's generate_schema_name / generate_alias_name, if it defines them. */
  private readonly namingMacros: ReadonlySet<string>;

  constructor(
    private readonly ctx: ParseContext,
    private readonly macros: ProjectMacros,
  ) {
    this.namingMacros = new Set(NAMING_MACROS.filter((m) => macros.byName[m] !== undefined));
  }

  /** A function, not a method: the parse result and nameRelation hold it. */
  readonly engine = (): TemplateEngine => {
    const { ctx, macros } = this;
    const { config } = ctx;
    return (this.made ??= new TemplateEngine([...DBT_BUILTIN_MACRO_FILES.map((f) => ({ ...f, package: INTERNAL_PACKAGE })), ...macros.files], {
      rootPackage: config.name,
      dispatch: config.dispatch,
      packageDirs: Object.fromEntries(config.packages.map((pkg) => [pkg.name, pkg.dir])),
      onBrokenFile: (file, error) => {
        ctx.diagnostics.report(locateNodeError(error, undefined, file.path));
        for (const def of readMacroDefinitions(file, file.package ?? config.name)) macros.broken.add(def.name);
      },
    }));
  };

  readonly scope = (): RenderScope =>
    buildRenderScope({
      resolver: noRefs,
      varValues: this.ctx.project.varValues,
      env: this.ctx.env,
      target: this.ctx.config.target,
      runStartedAt: this.ctx.now ?? new Date(),
      invocationId: '',
    });

  /** A string of a properties file (`var()`, `env_var()`), rendered. */
  readonly renderString = (text: string): string => this.engine().render('<properties>', text, this.scope());

  /** The schema and alias a model or seed is built as. */
  relationName(node: Parameters<typeof nameRelation>[3], layers: readonly ConfigLayer[]): { schema: string; alias: string } {
    const { config } = this.ctx;
    try {
      return nameRelation(this.engine, this.namingMacros, this.scope, node, layers, config.flavor === 'dbt' ? config.target.schema : undefined);
    } catch (error) {
      // The call is ours, not a line of the node's file: an error in it names the file only.
      if (error instanceof TemplateLocatedError && (error.templateFile || node.original_file_path) === node.original_file_path) {
        throw new CompileError(error.message, { code: 'template', location: { file: node.original_file_path }, hint: error.hint, node: node.unique_id, cause: error });
      }
      throw locateNodeError(error, node.unique_id, node.original_file_path);
    }
  }
}

const noRefs = {
  ref: () => {
    throw new Error('ref() is not available here');
  },
  source: () => {
    throw new Error('source() is not available here');
  },
  config: () => undefined,
  isIncremental: () => false,
  watermark: () => 'NULL',
};
