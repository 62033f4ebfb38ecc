/**
 * Compliance officers' API: list modules, status, enable/disable (now or at a stated time, with a
 * mandatory reason), the compliance report, module exports, and the audit log (verify, export).
 * Every change is audited by the ComplianceManager; reads need viewer, changes compliance-officer.
 */
import type { FastifyInstance } from 'fastify';
import type { JsonSchema } from '../config/json-schema.ts';
import { EnergyMeshError } from '../errors.ts';
import type { Kernel } from '../kernel.ts';

const moduleParams: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9.-]*$' } },
};
const toggleBody: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: {
    reason: { type: 'string', minLength: 3, maxLength: 1000, description: 'Why (mandatory; kept in the audit log).' },
    at: { type: 'string', maxLength: 64, description: 'When it takes effect: an ISO 8601 time with a zone; now if left out.' },
  },
};
const period: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', maxLength: 64, description: 'ISO 8601 start (default: 24 h ago)' },
    to: { type: 'string', maxLength: 64, description: 'ISO 8601 end (default: now)' },
    format: { enum: ['json', 'markdown', 'html'], default: 'json' },
  },
};

function parsePeriod(q: { from?: string; to?: string }): { from: number; to: number } {
  const to = q.to ? Date.parse(q.to) : Date.now();
  const from = q.from ? Date.parse(q.from) : to - 24 * 3600_000;
  if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) {
    throw new EnergyMeshError('INVALID_ARGUMENT', `from/to must be ISO 8601 times with from <= to (got ${q.from ?? '-'} .. ${q.to ?? '-'})`);
  }
  return { from, to };
}

export function registerComplianceRoutes(app: FastifyInstance, kernel: Kernel): void {
  const officer = { role: 'compliance-officer' as const };

  app.get('/api/v1/compliance/modules', { schema: { summary: 'Compliance modules available, and which are active', tags: ['compliance'] } }, () =>
    kernel.compliance.list(),
  );
  app.get('/api/v1/compliance/status', { schema: { summary: 'Active modules, scheduled changes, market parameters, counters', tags: ['compliance'] } }, () =>
    kernel.compliance.status(),
  );
  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: { id: string }; Body: { reason: string; at?: string } }>(
      `/api/v1/compliance/modules/:id/${action}`,
      { config: officer, schema: { summary: `${action === 'enable' ? 'Enable' : 'Disable'} a compliance module now or at a stated time`, tags: ['compliance'], params: moduleParams, body: toggleBody } },
      (request) => {
        const options = { by: `${request.principal.name} (${request.principal.id})`, reason: request.body.reason, ...(request.body.at ? { at: request.body.at } : {}) };
        return action === 'enable' ? kernel.compliance.enable(request.params.id, options) : kernel.compliance.disable(request.params.id, options);
      },
    );
  }
  app.get<{ Querystring: { from?: string; to?: string; format: 'json' | 'markdown' | 'html' } }>(
    '/api/v1/compliance/report',
    { config: officer, schema: { summary: 'What was active over a period and what each module did', tags: ['compliance'], querystring: period } },
    async (request, reply) => {
      const { from, to } = parsePeriod(request.query);
      if (request.query.format === 'markdown') return reply.type('text/markdown; charset=utf-8').send(kernel.compliance.reportMarkdown(from, to));
      if (request.query.format === 'html') return reply.type('text/html; charset=utf-8').send(kernel.compliance.reportHtml(from, to));
      return kernel.compliance.report(from, to);
    },
  );
  app.get<{ Params: { id: string; exportId: string }; Querystring: { from?: string; to?: string } }>(
    '/api/v1/compliance/modules/:id/exports/:exportId',
    {
      config: officer,
      schema: {
        summary: "A module's market export (e.g. NEM12) over a period, from the latest values and the records given",
        tags: ['compliance'],
        params: { type: 'object', required: ['id', 'exportId'], properties: { id: { type: 'string', maxLength: 64 }, exportId: { type: 'string', maxLength: 64 } } },
        querystring: { type: 'object', additionalProperties: false, properties: { from: { type: 'string', maxLength: 64 }, to: { type: 'string', maxLength: 64 } } },
      },
    },
    async (request, reply) => {
      const { from, to } = parsePeriod(request.query);
      const records = kernel.latest.deviceIds().flatMap((d) => kernel.latest.device(d));
      const out = kernel.compliance.exportData(request.params.id, request.params.exportId, { records, from, to });
      return reply.type(out.mediaType).header('content-disposition', `attachment; filename="${out.fileName}"`).send(out.content);
    },
  );
  app.get('/api/v1/audit/verify', { config: officer, schema: { summary: 'Verify the hash chain of the audit log', tags: ['audit'] } }, () => kernel.audit.verify());
  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/api/v1/audit',
    {
      config: officer,
      schema: {
        summary: 'Audit records of a period, with the chain hashes an auditor needs to check them',
        tags: ['audit'],
        querystring: { type: 'object', additionalProperties: false, properties: { from: { type: 'string', maxLength: 64 }, to: { type: 'string', maxLength: 64 } } },
      },
    },
    (request) => {
      const { from, to } = parsePeriod(request.query);
      return kernel.audit.export(from, to);
    },
  );
}
