import { ProjectError } from '../errors.js';
import type { MacroDef } from '../manifest/types.js';
import { CONTEXT_NAMES, checkTemplateSyntax, type MacroFile } from '../template/template-engine.js';
import { translateTestBlocks } from './data-tests.js';
import { discoverFiles } from './discover.js';
import { readMacroDefinitions } from './macros.js';
import { genericTestRoots, readProjectFile, type ParseContext } from './parse-context.js';
import { locateNodeError, rejectSnapshot } from './parse-errors.js';
import { scanTemplate } from './jinja-scan.js';

/** The project's macros as parse found them, and what models need to know about them. */
export interface ProjectMacros {
  /** The macro files that parse, root project's and packages', for the template engine. */
  readonly files: readonly MacroFile[];
  /** The root project's macros by name (what its models call), each with the macros it calls. */
  readonly byName: Readonly<Record<string, MacroDef>>;
  /** Every package's macros by unique_id. */
  readonly ofPackages: Readonly<Record<string, MacroDef>>;
  /** Macros of files that do not parse: their file's error is reported, not each call's. */
  readonly broken: Set<string>;
  /** The root project's macros that a root macro calls, directly or through others. */
  readonly closure: (name: string) => ReadonlySet<string>;
  /** A model that calls such a macro depends on what the macro refers to: parse renders it. */
  readonly refersThroughMacro: ReadonlySet<string>;
}

/** Macros, and generic test definitions ({% test %} blocks: in macro files or <data-test-path>/generic/). */
export function parseMacros(ctx: ParseContext): ProjectMacros {
  const { config, diagnostics } = ctx;
  const root = ctx.layouts[0];
  const files: MacroFile[] = [];
  const broken = new Set<string>();
  const macroFilePaths = ctx.layouts.flatMap((pkg) =>
    discoverFiles(config.dir, [...pkg.macroPaths, ...genericTestRoots(pkg)], ['.sql']).map((path) => ({ path, pkg })),
  );
  for (const { path, pkg } of macroFilePaths) {
    const file = { path, text: translateTestBlocks(readProjectFile(ctx, path)), ...(pkg === root ? {} : { package: pkg.name }) };
    const scan = scanTemplate(file.text);
    try {
      rejectSnapshot(path, scan);
      if (scan.suspect) checkTemplateSyntax(path, file.text, scan.suspect);
      files.push(file);
    } catch (error) {
      diagnostics.report(locateNodeError(error, undefined, path));
      for (const def of readMacroDefinitions(file, pkg.name)) broken.add(def.name);
    }
  }
  // The root project's macros by name (what its models call); every package's go to the manifest by id.
  const macros: Record<string, MacroDef> = {};
  const packageMacros: Record<string, MacroDef> = {};
  const macroCalls = new Map<string, ReadonlySet<string>>();
  for (const file of files) {
    if (file.package !== undefined) {
      for (const { calls: _, ...macro } of readMacroDefinitions(file, file.package)) {
        if (packageMacros[macro.unique_id]) {
          diagnostics.report(new ProjectError(`macro '${macro.name}' is defined twice in package ${file.package} (also in ${packageMacros[macro.unique_id].original_file_path}:${packageMacros[macro.unique_id].line})`, { code: 'duplicate', location: { file: file.path, line: macro.line } }));
          continue;
        }
        packageMacros[macro.unique_id] = macro;
      }
      continue;
    }
    for (const def of readMacroDefinitions(file, config.name)) {
      const { calls, ...macro } = def;
      const earlier = macros[macro.name];
      if (earlier) {
        diagnostics.report(
          new ProjectError(`macro '${macro.name}' is defined twice (also in ${earlier.original_file_path}:${earlier.line})`, {
            code: 'duplicate',
            location: { file: file.path, line: macro.line },
          }),
        );
        continue;
      }
      if ((CONTEXT_NAMES as readonly string[]).includes(macro.name)) {
        diagnostics.report(new ProjectError(`macro '${macro.name}' would hide smelter's own ${macro.name}()`, { code: 'duplicate', location: { file: file.path, line: macro.line } }));
        continue;
      }
      macros[macro.name] = macro;
      macroCalls.set(macro.name, calls);
    }
  }
  const closure = memoizedClosure(macroCalls, macros);
  for (const name of Object.keys(macros)) {
    macros[name] = { ...macros[name], depends_on: { macros: [...closure(name)].map((m) => macros[m].unique_id) } };
  }

  const refersThroughMacro = new Set(
    Object.keys(macros).filter((name) =>
      [name, ...closure(name)].some((m) => {
        const calls = macroCalls.get(m);
        return calls !== undefined && (calls.has('ref') || calls.has('source'));
      }),
    ),
  );
  return { files, byName: macros, ofPackages: packageMacros, broken, closure, refersThroughMacro };
}

/** The manifest's macros by unique_id: the packages', then the root project's. */
export function manifestMacros(macros: ProjectMacros): Record<string, MacroDef> {
  const out: Record<string, MacroDef> = { ...macros.ofPackages };
  for (const macro of Object.values(macros.byName)) out[macro.unique_id] = macro;
  return out;
}

function memoizedClosure(calls: Map<string, ReadonlySet<string>>, macros: Record<string, MacroDef>) {
  const memo = new Map<string, Set<string>>();
  const visit = (name: string, seen: Set<string>): Set<string> => {
    const cached = memo.get(name);
    if (cached) return cached;
    const out = new Set<string>();
    for (const c of calls.get(name) ?? []) {
      if (!macros[c] || seen.has(c)) continue;
      out.add(c);
      seen.add(c);
      for (const d of visit(c, seen)) out.add(d);
    }
    memo.set(name, out);
    return out;
  };
  return (name: string) => visit(name, new Set([name]));
}
