import { basename } from 'node:path';
import { ProjectError } from '../errors.js';
import type { SeedNode } from '../manifest/types.js';
import { sha256Text } from '../util/sha256-text.js';
import { discoverFiles, splitPath } from './discover.js';
import { readProjectFile, type ParseContext } from './parse-context.js';
import type { ParsedNodes } from './parsed-nodes.js';
import { propertiesKey, type ProjectProperties } from './parse-properties.js';
import type { ParseTemplates } from './parse-templates.js';
import { folderLayers, resolveSeedConfig, type ConfigLayer } from './resolve-config.js';
import { checkSeedCsv } from './seed-csv.js';

/** Seeds: each CSV under a package's seed paths, configured and checked, with its properties. */
export function parseSeeds(ctx: ParseContext, properties: ProjectProperties, templates: ParseTemplates, parsed: ParsedNodes): void {
  const { config, diagnostics, broken, projectFile } = ctx;
  for (const { path, pkg } of ctx.layouts.flatMap((pkg) => discoverFiles(config.dir, pkg.seedPaths, ['.csv']).map((path) => ({ path, pkg })))) {
    const name = basename(path, '.csv');
    const uniqueId = `seed.${pkg.name}.${name}`;
    const { root, folders } = splitPath(path, pkg.seedPaths);
    const props = properties.seeds.get(propertiesKey(pkg, name));
    properties.seeds.delete(propertiesKey(pkg, name));
    if (broken.seedProps.has(name)) {
      broken.names.add(name);
      continue;
    }
    try {
      const layers: ConfigLayer[] = [...folderLayers(pkg.seeds, [...folders, name], () => ({ file: projectFile }))];
      if (props) layers.push({ values: props.config.values, locate: props.config.locate });
      const fqn = [pkg.name, ...folders, name];
      const resolved = resolveSeedConfig(name, layers, uniqueId, config.flavor === 'dbt');
      const relativePath = path.slice(root.length + 1);
      const named = templates.relationName({ resource_type: 'seed', name, unique_id: uniqueId, package_name: pkg.name, original_file_path: path, path: relativePath, fqn, config: resolved }, layers);
      const seedConfig = { ...resolved, ...named };
      const text = readProjectFile(ctx, path);
      checkSeedCsv(text, path, seedConfig.delimiter);
      const seed: SeedNode = {
        resource_type: 'seed',
        unique_id: uniqueId,
        name,
        package_name: pkg.name,
        original_file_path: path,
        path: relativePath,
        fqn,
        tags: seedConfig.tags,
        description: props?.description ?? '',
        columns: props?.columns ?? {},
        checksum: sha256Text(text),
        config: seedConfig,
        relation: { schema: seedConfig.schema, identifier: seedConfig.alias },
        depends_on: { nodes: [], macros: [] },
      };
      const clash = parsed.named(name, pkg.name);
      if (clash && seedConfig.enabled) {
        diagnostics.report(new ProjectError(`two nodes are named '${name}': ${clash.original_file_path} and ${path}`, { code: 'duplicate', location: { file: path } }));
        continue;
      }
      if (seedConfig.enabled) parsed.register(seed);
      parsed.add(seed, seedConfig.enabled);
      if (seedConfig.enabled && props?.tests.length) parsed.testTargets.push({ node: seed, declarations: props.tests });
    } catch (error) {
      diagnostics.report(error);
      broken.names.add(name);
    }
  }
}
