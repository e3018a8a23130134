import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with smelter's package.json (from dist/ or from the sources). */
export const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !readFileSync(join(dir, 'package.json'), 'utf8').includes('"name": "smelter"')) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find smelter's package.json above this script");
    dir = up;
  }
  return dir;
})();
