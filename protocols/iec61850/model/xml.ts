/**
 * A small, strict-enough XML parser for SCL files (elements, attributes, text, comments, CDATA, processing
 * instructions, DOCTYPE skipped, the five predefined entities and numeric character references).
 * Namespace prefixes are dropped from element and attribute names (SCL uses one default namespace).
 *
 * Error policy: throws EnergyMeshError CONFIG_INVALID with the line of the problem.
 */
import { EnergyMeshError } from '../../../core/errors.ts';

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
  line: number;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

const local = (n: string): string => {
  const i = n.indexOf(':');
  return i >= 0 ? n.slice(i + 1) : n;
};

/** Parses a document and returns its root element. */
export function parseXml(src: string, maxDepth = 64): XmlElement {
  let p = 0;
  let line = 1;
  const fail = (msg: string): never => {
    throw new EnergyMeshError('CONFIG_INVALID', `XML: ${msg} at line ${line}`, { details: { line } });
  };
  const advance = (to: number): void => {
    for (let i = p; i < to; i++) if (src.charCodeAt(i) === 10) line++;
    p = to;
  };
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (p < src.length) {
    const lt = src.indexOf('<', p);
    if (lt < 0) {
      if (src.slice(p).trim() !== '' && stack.length > 0) fail('unclosed element');
      break;
    }
    if (lt > p) {
      const text = src.slice(p, lt);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(text);
      else if (text.trim() !== '') fail('text outside the root element');
      advance(lt);
    }
    if (src.startsWith('<!--', p)) {
      const end = src.indexOf('-->', p + 4);
      if (end < 0) fail('unterminated comment');
      advance(end + 3);
    } else if (src.startsWith('<![CDATA[', p)) {
      const end = src.indexOf(']]>', p + 9);
      if (end < 0) fail('unterminated CDATA');
      const top = stack[stack.length - 1];
      if (top) top.text += src.slice(p + 9, end);
      advance(end + 3);
    } else if (src.startsWith('<?', p)) {
      const end = src.indexOf('?>', p + 2);
      if (end < 0) fail('unterminated processing instruction');
      advance(end + 2);
    } else if (src.startsWith('<!', p)) {
      const end = src.indexOf('>', p + 2);
      if (end < 0) fail('unterminated declaration');
      advance(end + 1);
    } else if (src.startsWith('</', p)) {
      const end = src.indexOf('>', p + 2);
      if (end < 0) fail('unterminated end tag');
      const name = local(src.slice(p + 2, end).trim());
      const top = stack.pop();
      if (!top || top.name !== name) fail(`mismatched end tag </${name}>`);
      advance(end + 1);
    } else {
      const m = /^<([A-Za-z_][\w.:-]*)/.exec(src.slice(p, p + 256));
      if (!m) fail('bad start tag');
      const el: XmlElement = { name: local((m as RegExpExecArray)[1] as string), attributes: {}, children: [], text: '', line };
      let q = p + (m as RegExpExecArray)[0].length;
      let selfClosing = false;
      for (;;) {
        while (q < src.length && /\s/.test(src[q] as string)) q++;
        if (q >= src.length) fail('unterminated start tag');
        if (src[q] === '>') {
          q++;
          break;
        }
        if (src.startsWith('/>', q)) {
          q += 2;
          selfClosing = true;
          break;
        }
        const am = /^([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(src.slice(q, q + 4096));
        if (!am) fail('bad attribute');
        const a = am as RegExpExecArray;
        el.attributes[local(a[1] as string)] = decodeEntities(a[3] ?? a[4] ?? '');
        q += a[0].length;
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) fail('more than one root element');
      else root = el;
      if (!selfClosing) {
        stack.push(el);
        if (stack.length > maxDepth) fail('elements nested too deeply');
      }
      advance(q);
    }
  }
  if (stack.length > 0) fail(`unclosed element <${stack[stack.length - 1]?.name}>`);
  if (!root) return fail('no root element');
  return root;
}

export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

export function childNamed(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}
