/**
 * Evaluates `--select` / `--exclude` against a Manifest and its Dag: the set of enabled nodes a
 * command works on. Parsing lives in selector.ts; this file only matches and walks the graph.
 */
import { UsageError } from '../errors.js';
import type { Dag } from '../graph/dag.js';
import type { Manifest, ManifestNode } from '../manifest/types.js';
import { globToRegExp, hasWildcard } from './glob.js';
import { parseSelector } from './selector.js';
import type { SelectorAtom, SelectorIntersection, StateValue } from './selector.js';

/** A checksum as an earlier manifest.json may hold it: dbt's `{ name, checksum }` or a bare hex string. */
export type StateChecksum = string | { readonly name?: string; readonly checksum: string };

/** One node of an earlier manifest.json, as far as `state:` reads it. */
export interface StateNode {
  readonly checksum?: StateChecksum;
  /** The node's resolved config. */
  readonly config?: unknown;
  /** Sources have no checksum: their external location stands in for the body. */
  readonly external_location?: string | null;
  /** Macro unique_ids (`macro.<project>.<name>`). */
  readonly depends_on?: { readonly macros?: readonly string[] };
}

/** The minimal shape of the target/manifest.json of an earlier run (`--state DIR`). */
export interface StateManifest {
  readonly nodes: Readonly<Record<string, StateNode>>;
  /** dbt keeps sources and unit tests apart from nodes in manifest.json. */
  readonly sources?: Readonly<Record<string, StateNode>>;
  readonly unit_tests?: Readonly<Record<string, StateNode>>;
  readonly macros?: Readonly<Record<string, { readonly checksum?: StateChecksum }>>;
}

export interface SelectionOptions {
  /** Each element may hold several space-separated expressions (union). Empty: every node. */
  readonly select: readonly string[];
  readonly exclude: readonly string[];
  /** The manifest from --state DIR (parsed target/manifest.json of an earlier run), needed by state:* */
  readonly stateManifest?: StateManifest;
  /** Resource types a command works on; nodes of other types are dropped after selection. Default: all. */
  readonly resourceTypes?: readonly string[];
  /** Which tests the selected nodes bring with them (dbt's `--indirect-selection`). Default: `eager`. */
  readonly indirectSelection?: IndirectSelection;
}

/**
 * dbt's `--indirect-selection`: when a test not selected itself goes with the selected nodes.
 * `eager`: any of its parents is selected. `cautious`: all of them are. `buildable`: all of them
 * are selected, ancestors of selected nodes, or sources (and one of them is selected or downstream
 * of a selected node). `empty`: never; only tests selected directly.
 */
export const INDIRECT_SELECTION_MODES = ['eager', 'cautious', 'buildable', 'empty'] as const;
export type IndirectSelection = (typeof INDIRECT_SELECTION_MODES)[number];

export interface Selection {
  /** unique_ids of the selected enabled nodes. */
  readonly selected: ReadonlySet<string>;
  /** One per expression that matched nothing (not an error, as in dbt). */
  readonly warnings: readonly string[];
}

/**
 * The nodes chosen by `options`: union(select) minus union(exclude) (a test goes out with any of
 * its parents), plus the tests they bring by `indirectSelection`, then only `resourceTypes`.
 * Throws a UsageError (code `selector`) for a malformed expression or an unknown method, and one
 * (code `usage`) for `state:` without a state manifest.
 */
export function selectNodes(manifest: Manifest, graph: Dag | (() => Dag), options: SelectionOptions): Selection {
  // A function when the caller builds the graph on demand: most selections never walk it.
  let built: Dag | undefined = typeof graph === 'function' ? undefined : graph;
  const dag = () => (built ??= (graph as () => Dag)());
  const selects = options.select.flatMap((text) => parseSelector(text).parts);
  const excludes = options.exclude.flatMap((text) => parseSelector(text).parts);
  if (options.stateManifest === undefined) {
    const stateAtom = [...selects, ...excludes].flatMap((e) => e.parts).find((a) => a.method === 'state');
    if (stateAtom !== undefined) {
      throw new UsageError(`state:${stateAtom.value} needs --state DIR with a manifest.json`);
    }
  }

  const matcher = new Matcher(manifest, dag, options.stateManifest);
  const warnings: string[] = [];
  const unionOf = (expressions: readonly SelectorIntersection[]): Set<string> => {
    const union = new Set<string>();
    for (const expression of expressions) {
      const ids = matcher.intersection(expression);
      if (ids.size === 0) {
        warnings.push(`The selection criterion '${expression.text}' does not match any enabled nodes`);
      }
      for (const id of ids) union.add(id);
    }
    return union;
  };

  const included = selects.length === 0 ? new Set(Object.keys(manifest.nodes)) : unionOf(selects);
  const excluded = unionOf(excludes);
  const tests = Object.values(manifest.nodes).filter((n) => n.resource_type === 'test' || n.resource_type === 'unit_test');
  const parentsOf = (node: ManifestNode) => (node.resource_type === 'unit_test' ? [node.model] : node.depends_on.nodes);
  // A test goes out with any of its parents, whatever the indirect selection mode.
  for (const test of tests) if (parentsOf(test).some((id) => excluded.has(id))) excluded.add(test.unique_id);
  const chosen = new Set([...included].filter((id) => !excluded.has(id)));
  const withTests = new Set(chosen);
  const mode = options.indirectSelection ?? 'eager';
  if (mode !== 'empty') {
    const upstream = mode === 'buildable' ? reach(dag(), chosen, Infinity, 'in') : undefined;
    const downstream = mode === 'buildable' ? reach(dag(), chosen, Infinity, 'out') : undefined;
    const isSource = (id: string) => manifest.nodes[id]?.resource_type === 'source';
    for (const test of tests) {
      const parents = parentsOf(test);
      if (chosen.has(test.unique_id) || excluded.has(test.unique_id) || parents.length === 0) continue;
      const goes =
        mode === 'eager'
          ? parents.some((id) => chosen.has(id))
          : mode === 'cautious'
            ? parents.every((id) => chosen.has(id))
            : parents.every((id) => upstream!.has(id) || isSource(id)) && parents.some((id) => downstream!.has(id));
      if (goes) withTests.add(test.unique_id);
    }
  }
  const types = options.resourceTypes === undefined ? undefined : new Set(options.resourceTypes);
  const selected = new Set<string>();
  for (const id of withTests) {
    const node = manifest.nodes[id];
    if (node === undefined) continue;
    if (types !== undefined && !types.has(node.resource_type)) continue;
    selected.add(id);
  }
  return { selected, warnings };
}

type NodePredicate = (node: ManifestNode) => boolean;

/**
 * Matches atoms against one manifest. Holds the indexes built lazily for one selectNodes call;
 * knows nothing of how expressions combine beyond intersection.
 */
class Matcher {
  private readonly nodes: readonly ManifestNode[];
  private readonly indexes = new Map<'fqn' | 'path', Map<string, string[]>>();
  private readonly flatFqns = new Map<string, string[]>();
  private macrosById: Map<string, Manifest['macros'][string]> | undefined;
  private readonly macroChanged = new Map<string, boolean>();

  constructor(
    private readonly manifest: Manifest,
    private readonly graph: () => Dag,
    private readonly state: StateManifest | undefined,
  ) {
    this.nodes = Object.values(manifest.nodes);
  }

  intersection(expression: SelectorIntersection): Set<string> {
    const sets = expression.parts.map((atom) => this.atom(atom)).sort((a, b) => a.size - b.size);
    const [smallest, ...others] = sets;
    const result = new Set<string>();
    for (const id of smallest) if (others.every((set) => set.has(id))) result.add(id);
    return result;
  }

  private atom(atom: SelectorAtom): Set<string> {
    const matched = this.match(atom);
    if (atom.at) return reach(this.graph(), reach(this.graph(), matched, Infinity, 'out'), Infinity, 'in');
    const result = new Set(matched);
    // `+x+` is ancestors ∪ x ∪ descendants, not the ancestors of the descendants.
    if (atom.parents !== undefined) for (const id of reach(this.graph(), matched, atom.parents, 'in')) result.add(id);
    if (atom.children !== undefined) for (const id of reach(this.graph(), matched, atom.children, 'out')) result.add(id);
    return result;
  }

  private match(atom: SelectorAtom): Set<string> {
    if (atom.method === 'fqn' && !hasWildcard(atom.value)) return new Set(this.lookup('fqn').get(atom.value));
    if (atom.method === 'path' && !hasWildcard(atom.value)) {
      const target = normalizePath(atom.value);
      if (target !== '') return new Set(this.lookup('path').get(target));
    }
    const predicate = this.predicate(atom);
    const ids = new Set<string>();
    for (const node of this.nodes) if (predicate(node)) ids.add(node.unique_id);
    return ids;
  }

  private predicate(atom: SelectorAtom): NodePredicate {
    const { value } = atom;
    const matches = valueMatcher(value);
    switch (atom.method) {
      case 'fqn': {
        const parts = value.split('.').map((part) => (part === '*' ? undefined : valueMatcher(part)));
        return (node) => {
          const fqn = this.flatFqn(node);
          return matches(node.name) || fqnPrefixMatch(parts, fqn, 0) || fqnPrefixMatch(parts, fqn, 1);
        };
      }
      case 'path':
        return pathPredicate(value);
      case 'file':
        return (node) => {
          const name = node.original_file_path.slice(node.original_file_path.lastIndexOf('/') + 1);
          const dot = name.lastIndexOf('.');
          return matches(name) || (dot > 0 && matches(name.slice(0, dot)));
        };
      case 'tag':
        return (node) => node.tags.some(matches) || node.config.tags.some(matches);
      case 'source': {
        const parts = value.split('.');
        const [pkg, source, table] =
          parts.length === 3 ? parts : parts.length === 2 ? ['*', ...parts] : ['*', parts[0], '*'];
        const [pkgMatches, sourceMatches, tableMatches] = [pkg, source, table].map(valueMatcher);
        return (node) =>
          node.resource_type === 'source' &&
          pkgMatches(node.package_name) &&
          sourceMatches(node.source_name) &&
          tableMatches(node.name);
      }
      case 'resource_type':
        // A dbt snapshot is built as a model (runtime/materializations/scd2.ts) but selected as dbt names it.
        return (node) => (node.resource_type === 'model' && node.snapshot ? value === 'snapshot' : node.resource_type === value);
      case 'test_type':
        // dbt's `data` means every data test (generic and singular); `unit` tests are not built yet.
        return (node) => (node.resource_type === 'unit_test' ? value === 'unit' : node.resource_type === 'test' && (value === node.test_type || value === 'data'));
      case 'package': {
        const packageMatches = valueMatcher(value === 'this' ? this.manifest.project_name : value);
        return (node) => packageMatches(node.package_name);
      }
      case 'config':
        return configPredicate(atom.key ?? [], value);
      case 'state':
        return this.statePredicate(value as StateValue);
    }
  }

  /**
   * Exact-value lookups, so many wildcard-free atoms cost one pass over the nodes, not one each.
   * fqn: the name and every dot-joined fqn prefix, with and without the project. path: the file
   * and every folder above it.
   */
  private lookup(kind: 'fqn' | 'path'): Map<string, string[]> {
    let index = this.indexes.get(kind);
    if (index !== undefined) return index;
    index = new Map();
    for (const node of this.nodes) {
      const keys = new Set<string>();
      if (kind === 'fqn') {
        const fqn = this.flatFqn(node);
        keys.add(node.name);
        for (let start = 0; start <= 1; start++) {
          for (let end = start + 1; end <= fqn.length; end++) keys.add(fqn.slice(start, end).join('.'));
        }
      } else {
        const file = node.original_file_path;
        keys.add(file);
        for (let slash = file.indexOf('/'); slash > 0; slash = file.indexOf('/', slash + 1)) {
          keys.add(file.slice(0, slash));
        }
      }
      for (const key of keys) {
        const ids = index.get(key);
        if (ids === undefined) index.set(key, [node.unique_id]);
        else ids.push(node.unique_id);
      }
    }
    this.indexes.set(kind, index);
    return index;
  }

  /** The fqn with dots inside segments treated as separators, as dbt does. */
  private flatFqn(node: ManifestNode): string[] {
    let fqn = this.flatFqns.get(node.unique_id);
    if (fqn === undefined) {
      fqn = node.fqn.flatMap((segment) => segment.split('.'));
      this.flatFqns.set(node.unique_id, fqn);
    }
    return fqn;
  }

  private statePredicate(value: StateValue): NodePredicate {
    const state = this.state!;
    // Each kind is looked up where manifest.json keeps it: a unit test missing from `nodes` is not new.
    const old = (node: ManifestNode): StateNode | undefined => {
      const found: unknown = state.nodes[node.unique_id] ?? state.sources?.[node.unique_id] ?? state.unit_tests?.[node.unique_id];
      // An entry that is not an object (a hand-edited file) says nothing about the node: it is new.
      return found !== null && typeof found === 'object' ? (found as StateNode) : undefined;
    };
    const isNew = (node: ManifestNode) => old(node) === undefined;
    const body = (node: ManifestNode) => isNew(node) || bodyChanged(node, old(node)!);
    const configs = (node: ManifestNode) => isNew(node) || canonicalJson(node.config) !== canonicalJson(old(node)!.config);
    const macros = (node: ManifestNode) => node.depends_on.macros.some((id) => this.macroModified(id));
    const modified = (node: ManifestNode) => body(node) || configs(node) || macros(node);
    switch (value) {
      case 'new':
        return isNew;
      case 'old':
        return (node) => !isNew(node);
      case 'modified':
        return modified;
      case 'unmodified':
        return (node) => !modified(node);
      case 'modified.body':
        return body;
      case 'modified.configs':
        return configs;
      case 'modified.macros':
        return macros;
    }
  }

  /** A macro is modified when its checksum differs or it is new, or a macro it calls is modified. */
  private macroModified(id: string): boolean {
    const known = this.macroChanged.get(id);
    if (known !== undefined) return known;
    this.macrosById ??= new Map(Object.values(this.manifest.macros).map((m) => [m.unique_id, m]));
    const macro = this.macrosById.get(id);
    if (macro === undefined) return false;
    // Provisional answer, so mutually recursive macros terminate.
    this.macroChanged.set(id, false);
    const old = this.state!.macros?.[id];
    const changed =
      old === undefined ||
      checksumOf(old.checksum) !== macro.checksum ||
      macro.depends_on.macros.some((called) => this.macroModified(called));
    this.macroChanged.set(id, changed);
    return changed;
  }
}

/** Exact comparison, or an anchored fnmatch when the value holds a wildcard. */
function valueMatcher(value: string): (text: string) => boolean {
  if (!hasWildcard(value)) return (text) => text === value;
  const pattern = globToRegExp(value);
  return (text) => pattern.test(text);
}

/**
 * dbt's `is_selected_node`: each selector part matches the fqn part at its place; a part that is
 * just `*` (undefined here) matches the rest.
 */
function fqnPrefixMatch(
  parts: ReadonlyArray<((text: string) => boolean) | undefined>,
  fqn: readonly string[],
  from: number,
): boolean {
  if (fqn.length - from < parts.length) return false;
  for (let i = 0; i < parts.length; i++) {
    const matches = parts[i];
    if (matches === undefined) return true;
    if (!matches(fqn[from + i])) return false;
  }
  return true;
}

/** A file, or every file under a folder, relative to the project directory. */
function pathPredicate(value: string): NodePredicate {
  const target = normalizePath(value);
  if (target === '') return () => true;
  const pattern = globToRegExp(target, { path: true });
  return (node) => {
    const file = node.original_file_path;
    if (pattern.test(file)) return true;
    for (let slash = file.indexOf('/'); slash > 0; slash = file.indexOf('/', slash + 1)) {
      if (pattern.test(file.slice(0, slash))) return true;
    }
    return false;
  };
}

/** A selector path relative to the project directory: no `./` in front, no `/` behind; `''` for the root. */
function normalizePath(value: string): string {
  const path = value.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return path === '.' ? '' : path;
}

/** `config.a.b:value`; a list matches when any item does; booleans as `true`/`false`. */
function configPredicate(key: readonly string[], value: string): NodePredicate {
  const matches = valueMatcher(value);
  const scalarMatches = (item: unknown): boolean => {
    if (typeof item === 'string') return matches(item);
    if (typeof item === 'boolean') return matches(String(item)) || value.toLowerCase() === String(item);
    if (typeof item === 'number' || typeof item === 'bigint') return matches(String(item));
    return false;
  };
  return (node) => {
    let current: unknown = node.config;
    for (const part of key) {
      if (current === null || typeof current !== 'object' || Array.isArray(current)) return false;
      if (!Object.hasOwn(current, part)) return false;
      current = (current as Record<string, unknown>)[part];
    }
    return Array.isArray(current) ? current.some(scalarMatches) : scalarMatches(current);
  };
}

function bodyChanged(node: ManifestNode, old: StateNode): boolean {
  if (node.resource_type === 'source') return (node.external_location ?? null) !== (old.external_location ?? null);
  return checksumOf(old.checksum) !== node.checksum;
}

function checksumOf(checksum: StateChecksum | undefined): string | undefined {
  return typeof checksum === 'string' ? checksum : checksum?.checksum;
}

/** JSON with sorted keys and without undefined members, so key order and absent optionals compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) => {
    if (member === null || typeof member !== 'object' || Array.isArray(member)) return member;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(member).sort()) sorted[key] = (member as Record<string, unknown>)[key];
    return sorted;
  }) ?? 'undefined';
}

/** `seeds` plus every node within `depth` generations of them, walking in one direction. */
function reach(dag: Dag, seeds: Iterable<string>, depth: number, direction: 'in' | 'out'): Set<string> {
  const seen = new Set(seeds);
  let frontier = [...seen].filter((id) => dag.hasNode(id));
  for (let level = 0; level < depth && frontier.length > 0; level++) {
    const next: string[] = [];
    const visit = (neighbour: string) => {
      if (!seen.has(neighbour)) {
        seen.add(neighbour);
        next.push(neighbour);
      }
    };
    for (const id of frontier) {
      if (direction === 'in') dag.forEachInNeighbor(id, visit);
      else dag.forEachOutNeighbor(id, visit);
    }
    frontier = next;
  }
  return seen;
}
