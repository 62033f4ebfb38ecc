/**
 * Renders a compliance report (ComplianceManager.report) as a readable document: Markdown for
 * the CLI and files, self-contained HTML (no scripts, no external assets) for browsers and print.
 */
import type { ComplianceReport } from './compliance-manager.ts';

export function renderReportMarkdown(r: ComplianceReport): string {
  const lines: string[] = [];
  lines.push(`# Compliance report`, '', `Period: ${r.from} to ${r.to}  `, `Generated: ${r.generatedAt}`, '');
  lines.push('## Modules in force', '');
  if (r.modules.length === 0) lines.push('No compliance module was active in this period.', '');
  for (const m of r.modules) {
    lines.push(`### ${m.id} — ${m.title}`, '', `Jurisdiction: ${m.jurisdiction}. Regulation: ${m.regulation}.`, '');
    lines.push(m.active.length > 0 ? `Active: ${m.active.map((a) => `${a.from} → ${a.to}`).join('; ')}` : 'Not active in this period (counts come from the hours it overlapped).', '');
    const c = m.counters;
    lines.push('| records seen | transformed | flagged | rejected | commands allowed | denied | needed approval | trades checked | trades rejected |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    lines.push(`| ${c.records} | ${c.transformed} | ${c.flagged} | ${c.rejected} | ${c.gates.allowed} | ${c.gates.denied} | ${c.gates.approvalRequired} | ${c.trades.checked} | ${c.trades.rejected} |`, '');
    const reasons = Object.entries(c.reasons).sort((a, b) => b[1] - a[1]);
    if (reasons.length > 0) {
      lines.push('| reason | count |', '|---|---:|');
      for (const [k, v] of reasons) lines.push(`| ${mdCell(k)} | ${v} |`);
      lines.push('');
    }
  }
  lines.push('## Changes in the period', '');
  if (r.changes.length === 0) lines.push('None.', '');
  else {
    lines.push('| effective | module | action | by | reason | recorded |', '|---|---|---|---|---|---|');
    for (const c of r.changes) lines.push(`| ${c.at} | ${c.module} | ${c.action} | ${mdCell(c.by)} | ${mdCell(c.reason)} | ${c.recordedAt} |`);
    lines.push('');
  }
  lines.push(`Counts are kept per ${r.counterResolution}: they cover the whole hours that overlap the period.`, '');
  return lines.join('\n');
}

export function renderReportHtml(r: ComplianceReport): string {
  const h = escapeHtml;
  const parts: string[] = [];
  parts.push(
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Compliance report</title>',
    '<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #999;padding:.2em .6em}td.n{text-align:right}</style></head><body>',
    `<h1>Compliance report</h1><p>Period: ${h(r.from)} to ${h(r.to)}<br>Generated: ${h(r.generatedAt)}</p><h2>Modules in force</h2>`,
  );
  if (r.modules.length === 0) parts.push('<p>No compliance module was active in this period.</p>');
  for (const m of r.modules) {
    const c = m.counters;
    parts.push(`<h3>${h(m.id)} — ${h(m.title)}</h3><p>Jurisdiction: ${h(m.jurisdiction)}. Regulation: ${h(m.regulation)}.</p>`);
    parts.push(`<p>${m.active.length > 0 ? `Active: ${m.active.map((a) => `${h(a.from)} → ${h(a.to)}`).join('; ')}` : 'Not active in this period.'}</p>`);
    parts.push(
      '<table><tr><th>records seen</th><th>transformed</th><th>flagged</th><th>rejected</th><th>commands allowed</th><th>denied</th><th>needed approval</th><th>trades checked</th><th>trades rejected</th></tr>',
      `<tr>${[c.records, c.transformed, c.flagged, c.rejected, c.gates.allowed, c.gates.denied, c.gates.approvalRequired, c.trades.checked, c.trades.rejected].map((n) => `<td class="n">${n}</td>`).join('')}</tr></table>`,
    );
    const reasons = Object.entries(c.reasons).sort((a, b) => b[1] - a[1]);
    if (reasons.length > 0) parts.push(`<table><tr><th>reason</th><th>count</th></tr>${reasons.map(([k, v]) => `<tr><td>${h(k)}</td><td class="n">${v}</td></tr>`).join('')}</table>`);
  }
  parts.push('<h2>Changes in the period</h2>');
  if (r.changes.length === 0) parts.push('<p>None.</p>');
  else {
    parts.push('<table><tr><th>effective</th><th>module</th><th>action</th><th>by</th><th>reason</th><th>recorded</th></tr>');
    for (const c of r.changes) parts.push(`<tr><td>${h(c.at)}</td><td>${h(c.module)}</td><td>${h(c.action)}</td><td>${h(c.by)}</td><td>${h(c.reason)}</td><td>${h(c.recordedAt)}</td></tr>`);
    parts.push('</table>');
  }
  parts.push(`<p>Counts are kept per ${h(r.counterResolution)}: they cover the whole hours that overlap the period.</p></body></html>\n`);
  return parts.join('\n');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
