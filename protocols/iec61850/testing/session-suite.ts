/**
 * The MMS association/session suite, run over an in-memory channel pair (unit) and over TCP (integration).
 */
import { strict as assert } from 'node:assert';
import { isEnergyMeshError } from '../../../core/errors.ts';
import type { MmsClient } from '../client/mms-client.ts';
import type { MmsClientOptions } from '../client/mms-client.ts';
import type { ConfirmedRequest, ConfirmedResponse, InformationReport } from '../codec/mms-pdu.ts';
import { MmsServer, MmsServiceError } from '../server/mms-server.ts';
import type { MmsServerConnection, MmsServerOptions } from '../server/mms-server.ts';

export type Connector = (server: MmsServer, o: MmsClientOptions) => Promise<MmsClient>;

class ToyHandler {
  private readonly timers = new Set<NodeJS.Timeout>();
  outstanding = 0;
  maxOutstanding = 0;
  lastConnection: MmsServerConnection | undefined;
  onConnect(c: MmsServerConnection): void {
    this.lastConnection = c;
  }
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  /** Clears pending timers (the promises they would resolve are abandoned with the server). */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  async handle(req: ConfirmedRequest): Promise<ConfirmedResponse> {
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    try {
      await this.sleep(5);
      if (req.service === 'identify') return { service: 'identify', vendor: 'EnergyMesh', model: 'toy', revision: '1' };
      if (req.service === 'read' && req.spec.type === 'list') {
        const item = req.spec.variables[0]?.item ?? '';
        if (item === 'hang') await this.sleep(400);
        if (item === 'error') throw new MmsServiceError({ errorClass: 7, code: 2 });
        if (item === 'big') return { service: 'read', results: [{ type: 'octet-string', value: new Uint8Array(20000).fill(7) }] };
        return { service: 'read', results: req.spec.variables.map((v) => ({ type: 'visible-string' as const, value: v.item })) };
      }
      throw new MmsServiceError({ errorClass: 4, code: 0 });
    } finally {
      this.outstanding--;
    }
  }
}

export function sessionSuite(name: string, connect: Connector): void {
  describe(`MMS session over ${name}`, () => {
    let server: MmsServer;
    let handler: ToyHandler;
    const clients: MmsClient[] = [];
    const started: { server: MmsServer; handler: ToyHandler }[] = [];
    const open = async (o: MmsClientOptions = {}, so: MmsServerOptions = {}): Promise<MmsClient> => {
      handler = new ToyHandler();
      server = new MmsServer(handler, so);
      started.push({ server, handler });
      const c = await connect(server, { requestTimeoutMs: 2000, ...o });
      clients.push(c);
      return c;
    };
    afterEach(async () => {
      for (const c of clients.splice(0)) c.abort();
      for (const s of started.splice(0)) {
        s.handler.dispose();
        await s.server.close();
      }
    });

    it('associates and negotiates the smaller PDU size and outstanding calls', async () => {
      const c = await open({ maxPduSize: 1000, maxServOutstanding: 3 }, { maxPduSize: 4000 });
      assert.equal(c.negotiated.maxPduSize, 1000);
      assert.equal(c.negotiated.maxServOutstandingCalling, 3);
      assert.equal(handler.lastConnection?.maxPduSize, 1000);
      assert.deepEqual(await c.identify(), { vendor: 'EnergyMesh', model: 'toy', revision: '1' });
    });

    it('pipelines concurrent requests up to the negotiated limit and matches invoke ids', async () => {
      const c = await open({ maxServOutstanding: 2 });
      const names = Array.from({ length: 8 }, (_, i) => `v${i}`);
      const results = await Promise.all(names.map((n) => c.readOne({ scope: 'vmd', item: n })));
      assert.deepEqual(results.map((r) => r.type === 'visible-string' && r.value), names);
      assert.equal(handler.maxOutstanding, 2);
    });

    it('times out a request without losing the association', async () => {
      const c = await open({ requestTimeoutMs: 100 });
      await assert.rejects(c.readOne({ scope: 'vmd', item: 'hang' }), (e: unknown) => isEnergyMeshError(e, 'TIMEOUT') && e.retriable);
      const ok = await c.readOne({ scope: 'vmd', item: 'after' }, );
      assert.equal(ok.type === 'visible-string' && ok.value, 'after');
    });

    it('maps a confirmed-ErrorPDU to DEVICE_EXCEPTION with the service error in details', async () => {
      const c = await open();
      await assert.rejects(c.readOne({ scope: 'vmd', item: 'error' }), (e: unknown) => isEnergyMeshError(e, 'DEVICE_EXCEPTION') && e.details['errorClass'] === 7 && e.details['code'] === 2);
    });

    it('reassembles responses larger than the TPDU size and refuses requests over the PDU size', async () => {
      const c = await open({ tpduSize: 128 });
      assert.equal(c.negotiated.tpduSize, 128);
      const big = await c.readOne({ scope: 'vmd', item: 'big' });
      assert.ok(big.type === 'octet-string' && big.value.length === 20000 && big.value[19999] === 7);
      const limited = await open({ maxPduSize: 10000 });
      await assert.rejects(limited.readOne({ scope: 'vmd', item: 'big' }), (e: unknown) => isEnergyMeshError(e, 'DEVICE_EXCEPTION') && e.details['errorClass'] === 3);
      const small = await open({ maxPduSize: 200 });
      await assert.rejects(small.read(Array.from({ length: 20 }, (_, i) => ({ scope: 'vmd' as const, item: `long-variable-name-${i}` }))), (e: unknown) => isEnergyMeshError(e, 'FRAME_TOO_LONG'));
    });

    it('delivers InformationReports and concludes/releases cleanly', async () => {
      const c = await open();
      const got = new Promise<InformationReport>((resolve) => c.onInformationReport(resolve));
      await c.identify();
      handler.lastConnection?.sendInformationReport({ spec: { type: 'named', name: { scope: 'vmd', item: 'RPT' } }, results: [{ type: 'boolean', value: true }] });
      const r = await got;
      assert.deepEqual(r.results, [{ type: 'boolean', value: true }]);
      await c.close();
      assert.equal(c.isOpen, false);
      await assert.rejects(c.identify(), (e: unknown) => isEnergyMeshError(e));
    });

    it('fails pending requests with CONNECTION_CLOSED when the server drops', async () => {
      const c = await open();
      const p = c.readOne({ scope: 'vmd', item: 'hang' });
      await new Promise((r) => setTimeout(r, 30));
      handler.lastConnection?.drop();
      await assert.rejects(p, (e: unknown) => isEnergyMeshError(e, 'CONNECTION_CLOSED'));
    });
  });
}
