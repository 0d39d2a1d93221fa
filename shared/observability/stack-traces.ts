import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';

/**
 * Readable stack traces in a minified bundle without `--enable-source-maps`.
 *
 * With the flag, Node.js reads and parses the bundle's source map while it
 * loads the bundle: every cold start pays for it (about 5% of a function's
 * load, bench: `variant: ..., NODE_OPTIONS='--enable-source-maps'`), for the
 * errors that are the exception. Here the map is read on the first stack
 * trace that is formatted (an error logged, or thrown out of the handler),
 * and each frame of the bundle is given its TypeScript source position:
 * work only the error path needs, so a cut, not a deferral.
 *
 * Installed only when this code runs from a bundle that has its map beside it
 * (`index.js` + `index.js.map`, as the CDK construct deploys it) and Node.js
 * is not already mapping (the flag set): under tsx and jest, which map stacks
 * their own way, it does nothing.
 */
export function installLazySourceMaps(bundleFile: string = __filename): boolean {
  if (process.sourceMapsEnabled || !bundleFile.endsWith('.js') || !existsSync(`${bundleFile}.map`)) return false;
  const maps = new Map<string, SourceMap | null>();
  const mapOf = (file: string): SourceMap | null => {
    let map = maps.get(file);
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        // No map, or an unreadable one: the frame keeps its bundle position.
        map = null;
      }
      maps.set(file, map);
    }
    return map;
  };
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => {
    let header: string;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = 'Error';
    }
    type Entry = { originalSource?: string; originalLine?: number; originalColumn?: number; name?: string };
    const entries = frames.map((frame): Entry | undefined => {
      const file = frame.getFileName();
      const line = frame.getLineNumber();
      const column = frame.getColumnNumber();
      if (file !== bundleFile || !line || !column) return undefined;
      return mapOf(file)?.findEntry(line - 1, column - 1) as Entry | undefined;
    });
    const lines = frames.map((frame, i) => {
      const text = frame.toString();
      const entry = entries[i];
      if (entry?.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return `    at ${text}`;
      // The source as the map names it, relative to the bundle's build directory: the repository path is what reads.
      const location = `${entry.originalSource.replace(/^(?:\.\.\/)+/, '')}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
      // The function's own name is the one its caller called it by (the next frame's position), as Node.js does.
      const name = entries[i + 1]?.name;
      if (name) return `    at ${frame.isAsync() ? 'async ' : ''}${frame.isConstructor() ? 'new ' : ''}${name} (${location})`;
      return `    at ${text.replace(`${frame.getFileName()}:${frame.getLineNumber()}:${frame.getColumnNumber()}`, location)}`;
    });
    return [header, ...lines].join('\n');
  };
  return true;
}
