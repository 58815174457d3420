/**
 * Directory watches (fs.watch, one per directory, not recursive: a recursive watch would also walk
 * node_modules) that report the changed paths in batches. Editors save by writing in place or by
 * renaming a temporary file over the original: both are events on the directory, under the file's name.
 */
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, join } from 'node:path';

export interface FileWatch {
  /** Watches exactly these directories from now on (new ones added, dropped ones closed). */
  setDirectories(dirs: Iterable<string>): void;
  close(): void;
}

/** Names that are never a source: editor swap and backup files, hidden files. */
export function ignoredName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || /\.(swp|swx|tmp)$/.test(name) || /^\d+$/.test(name) || name === '4913';
}

/** Every directory under `root` (itself included), node_modules, cdk.out and hidden ones left out. */
export function directoriesUnder(root: string): string[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) return [];
  const out = [root];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'cdk.out' && !e.name.startsWith('.')) out.push(...directoriesUnder(join(root, e.name)));
  }
  return out;
}

export function watchDirectories(onChange: (paths: ReadonlySet<string>) => void, debounceMs = 20): FileWatch {
  const watchers = new Map<string, FSWatcher>();
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    const batch = pending;
    pending = new Set();
    if (batch.size > 0) onChange(batch);
  };
  return {
    setDirectories(dirs) {
      const wanted = new Set(dirs);
      for (const [d, w] of watchers) if (!wanted.has(d)) (w.close(), watchers.delete(d));
      for (const d of wanted) {
        if (watchers.has(d) || !existsSync(d)) continue;
        try {
          const w = watch(d, { persistent: false }, (_event, name) => {
            if (name === null || ignoredName(basename(name))) return;
            pending.add(join(d, name));
            timer ??= setTimeout(flush, debounceMs);
          });
          w.on('error', () => (w.close(), watchers.delete(d)));
          watchers.set(d, w);
        } catch {
          // A directory that went away between listing and watching.
        }
      }
    },
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

