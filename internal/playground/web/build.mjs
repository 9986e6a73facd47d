// Builds the playground into ../dist/assets (embedded by the Go package, which
// writes the HTML naming them): one minified script and one stylesheet,
// content-hashed, and the third-party licence notices.
// Run through `make playground` (npm ci, then this).
import { build } from 'esbuild';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const assets = path.join(dist, 'assets');

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });
const result = await build({
  entryPoints: [path.join(here, 'src', 'main.jsx')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  outdir: assets,
  entryNames: 'playground-[hash]',
  // Third-party licence texts in one file next to the bundle, not in it.
  legalComments: 'external',
  metafile: true,
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
console.log(`playground: ${path.relative(process.cwd(), assets)}: ${outputs.join(', ')}`);
