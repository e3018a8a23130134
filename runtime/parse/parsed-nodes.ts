import type { ManifestNode, ModelNode, SeedNode, SourceNode } from '../manifest/types.js';
import type { PackageLayout } from '../project/project-config.js';
import type { TestTarget } from './data-tests.js';

/** The nodes parsed so far, each step adding its own, and the lookups later steps resolve against. */
export class ParsedNodes {
  /** The manifest's enabled nodes, in the order parse added them. */
  readonly nodes: Record<string, ManifestNode> = {};
  readonly disabled: Record<string, ManifestNode> = {};
  /** Enabled models and seeds by package, then name. */
  readonly byPackage: Map<string, Map<string, ModelNode | SeedNode>>;
  /** Enabled source tables by `source.table`. */
  readonly sourceTables = new Map<string, SourceNode>();
  /** Enabled nodes that declare data tests, for the data tests step. */
  readonly testTargets: TestTarget[] = [];

  constructor(
    layouts: readonly PackageLayout[],
    private readonly rootProject: string,
  ) {
    this.byPackage = new Map(layouts.map((pkg) => [pkg.name, new Map()]));
  }

  add(node: ManifestNode, enabled: boolean): void {
    if (enabled) this.nodes[node.unique_id] = node;
    else this.disabled[node.unique_id] = node;
  }

  /** An enabled model or seed of the package, by name (what a later one of the same name clashes with). */
  named(name: string, pkg: string): ModelNode | SeedNode | undefined {
    return this.byPackage.get(pkg)?.get(name);
  }

  /** Makes an enabled model or seed resolvable by ref(). */
  register(node: ModelNode | SeedNode): void {
    this.byPackage.get(node.package_name)!.set(node.name, node);
  }

  /** dbt's ref(): the root project first, then the referring node's package, then any package. */
  resolveRef(name: string, fromPackage: string, targetPackage?: string): ModelNode | SeedNode | undefined {
    if (targetPackage !== undefined) return this.byPackage.get(targetPackage)?.get(name);
    for (const pkg of [this.rootProject, fromPackage]) {
      const found = this.byPackage.get(pkg)?.get(name);
      if (found) return found;
    }
    for (const nodesOfPackage of this.byPackage.values()) {
      const found = nodesOfPackage.get(name);
      if (found) return found;
    }
    return undefined;
  }

  /** Every enabled model's and seed's name, for "did you mean". */
  allNames(): string[] {
    return [...this.byPackage.values()].flatMap((m) => [...m.keys()]);
  }
}
