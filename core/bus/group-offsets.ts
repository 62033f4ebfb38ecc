/**
 * Committed positions of consumer groups for one topic of the durable bus: one small JSON file per group
 * in `<topic dir>/groups/`, replaced atomically (write a temp file, rename it over the old one), so a crash
 * leaves either the old or the new position, never a mix.
 *
 * fsync follows the log's policy: 'always' fsyncs the temp file before the rename and the directory after
 * it, so a resolved commit survives a power loss; 'interval' renames at once (survives kill -9) and
 * {@link GroupOffsetStore.flush} — called on the bus's fsync tick and at stop — fsyncs what changed;
 * 'never' only renames (survives kill -9, not a power loss).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { EnergyMeshError } from '../errors.ts';
import type { FsyncPolicy } from './durable-log.ts';
import { fsyncDirectory } from './durable-log.ts';

const SUFFIX = '.offset.json';

interface OffsetFile {
  group: string;
  offset: number;
  committedAt: string;
}

export class GroupOffsetStore {
  private readonly dir: string;
  private readonly dirtyGroups = new Set<string>();

  constructor(
    topicDir: string,
    private readonly fsync: FsyncPolicy,
  ) {
    this.dir = path.join(topicDir, 'groups');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** Reads every group's committed offset. A file that does not parse is reported as LOG_CORRUPT. */
  load(): Map<string, number> {
    const out = new Map<string, number>();
    for (const f of fs.readdirSync(this.dir)) {
      const full = path.join(this.dir, f);
      if (f.endsWith('.tmp')) {
        fs.rmSync(full, { force: true }); // a commit interrupted before its rename
        continue;
      }
      if (!f.endsWith(SUFFIX)) continue;
      let parsed: Partial<OffsetFile>;
      try {
        parsed = JSON.parse(fs.readFileSync(full, 'utf8')) as Partial<OffsetFile>;
      } catch (e) {
        throw new EnergyMeshError('LOG_CORRUPT', `bus group offset file ${full} does not parse`, { details: { file: full, position: 0 }, cause: e });
      }
      if (typeof parsed.group !== 'string' || typeof parsed.offset !== 'number' || !Number.isInteger(parsed.offset) || parsed.offset < 0) {
        throw new EnergyMeshError('LOG_CORRUPT', `bus group offset file ${full} has no valid group and offset`, { details: { file: full, position: 0 } });
      }
      out.set(parsed.group, parsed.offset);
    }
    return out;
  }

  /** Persists `offset` (the next offset the group will read) for `group`. */
  async commit(group: string, offset: number): Promise<void> {
    const file = this.fileOf(group);
    const tmp = `${file}.tmp`;
    const body: OffsetFile = { group, offset, committedAt: new Date().toISOString() };
    const text = JSON.stringify(body);
    if (this.fsync === 'always') {
      const fh = await fs.promises.open(tmp, 'w');
      try {
        await fh.writeFile(text);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
      await fsyncDirectory(this.dir);
      return;
    }
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
    if (this.fsync === 'interval') this.dirtyGroups.add(group);
  }

  /** Fsyncs the files of groups committed since the last flush, then the directory. */
  async flush(): Promise<void> {
    if (this.dirtyGroups.size === 0) return;
    const groups = [...this.dirtyGroups];
    this.dirtyGroups.clear();
    for (const g of groups) {
      const fh = await fs.promises.open(this.fileOf(g), 'r');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    await fsyncDirectory(this.dir);
  }

  private fileOf(group: string): string {
    return path.join(this.dir, encodeURIComponent(group) + SUFFIX);
  }
}
