/**
 * Id patterns in module configs: globs where `*` matches any run of characters and `?` one
 * character (`meter-*`, `energy-*-kwh`). A Matcher memoises its answers per id, since the same few
 * thousand device and point ids come by on every batch.
 */

export class Matcher {
  private readonly regex: RegExp | undefined;
  private readonly memo = new Map<string, boolean>();

  constructor(patterns: readonly string[], private readonly maxMemo = 100_000) {
    this.regex = patterns.length > 0 ? new RegExp(`^(?:${patterns.map(globToRegex).join('|')})$`) : undefined;
  }

  /** Whether any pattern matches (never, with no patterns). */
  matches(id: string): boolean {
    if (!this.regex) return false;
    let m = this.memo.get(id);
    if (m === undefined) {
      m = this.regex.test(id);
      if (this.memo.size >= this.maxMemo) this.memo.clear();
      this.memo.set(id, m);
    }
    return m;
  }

  get empty(): boolean {
    return this.regex === undefined;
  }
}

function globToRegex(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}
