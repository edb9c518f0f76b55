/**
 * The operators' console (`console/`): a Preact app that esbuild bundles into `console.js` and
 * `console.css`, served with `index.html` at `/` of the API. A compiled build (`npm run build`)
 * bundles it once, beside the compiled code; run from the TypeScript sources (`npm start`), it is
 * bundled from the sources the first time a browser asks for it. Either way every byte comes from
 * the repository and npm packages installed with it: no CDN.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface ConsoleAsset {
  contentType: string;
  body: Buffer;
}

/** The console's files by the name they are served under (`index.html`, `console.js`, `console.css`). */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The console's sources: beside `src/` of the repository, one level further from a compiled file. */
const consoleSources = path.resolve(
  __dirname,
  path.extname(__filename) === '.js' ? '../../../console' : '../../console',
);

/** Where `npm run build` puts the bundled console: two levels above this file's build, in `dist/`. */
export const prebuiltConsoleDir = path.resolve(__dirname, '../../console-assets');

export async function consoleAssets(): Promise<ConsoleAssets> {
  const files = existsSync(prebuiltConsoleDir) ? await readPrebuilt() : await bundle();
  return new Map(
    Object.entries(files).map(([name, body]) => [
      name,
      { contentType: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream', body },
    ]),
  );
}

/** Bundles the console where a built otaflow looks for it. */
export async function writeConsoleAssets(): Promise<string> {
  await mkdir(prebuiltConsoleDir, { recursive: true });
  for (const [name, body] of Object.entries(await bundle())) {
    await writeFile(path.join(prebuiltConsoleDir, name), body);
  }
  return prebuiltConsoleDir;
}

const ASSET_NAMES = ['index.html', 'console.js', 'console.css'];

async function readPrebuilt(): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  for (const name of ASSET_NAMES) files[name] = await readFile(path.join(prebuiltConsoleDir, name));
  return files;
}

async function bundle(): Promise<Record<string, Buffer>> {
  const root = consoleSources;
  // esbuild is a development dependency: a compiled build serves what `npm run build` bundled.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(root, 'src/main.tsx')],
    entryNames: 'console',
    outdir: 'out',
    bundle: true,
    write: false,
    minify: true,
    format: 'iife',
    target: 'es2022',
    tsconfig: path.join(root, 'tsconfig.json'),
    logLevel: 'silent',
  });
  const files: Record<string, Buffer> = {
    'index.html': await readFile(path.join(root, 'public/index.html')),
  };
  for (const output of result.outputFiles) files[path.basename(output.path)] = Buffer.from(output.contents);
  return files;
}
