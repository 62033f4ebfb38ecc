/**
 * Bad input: raw TCP servers that answer with short, garbled or mismatched frames or plain garbage,
 * and configurations asking for more than the protocol allows. Every case ends in a typed error; the
 * process neither crashes nor leaves an unhandled rejection.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { isEnergyMeshError, type ErrorCode } from '../../../core/errors.ts';
import { ModbusPoller } from '../../../protocols/modbus/driver/modbus-poller.ts';
import { ModbusSession, type ModbusTransport } from '../../../protocols/modbus/session/modbus-session.ts';
import { SampleLog, waitFor } from './helpers.ts';

/** CRC-16/MODBUS. */
function crc16(data: Buffer): number {
  let crc = 0xffff;
  for (const b of data) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** A server whose answer to each request frame is computed by `answer` (undefined = silence). */
async function rawServer(answer: (request: Buffer) => Buffer | undefined): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('data', (d) => {
      const out = answer(d);
      if (out) s.write(out);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function mbap(tid: number, unit: number, pdu: number[], protocolId = 0, length?: number): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(protocolId, 2);
  b.writeUInt16BE(length ?? pdu.length + 1, 4);
  b[6] = unit;
  Buffer.from(pdu).copy(b, 7);
  return b;
}

function rtu(unit: number, pdu: number[], badCrc = false): Buffer {
  const body = Buffer.from([unit, ...pdu]);
  const out = Buffer.alloc(body.length + 2);
  body.copy(out);
  out.writeUInt16LE(crc16(body) ^ (badCrc ? 0xffff : 0), body.length);
  return out;
}

async function expectError(transport: ModbusTransport, code: ErrorCode, run?: (s: ModbusSession) => Promise<unknown>): Promise<void> {
  const session = new ModbusSession({ transport, requestTimeoutMs: 400, reconnect: { initialMs: 50, maxMs: 100 } });
  session.start();
  try {
    await waitFor(() => session.isOpen, 3000, 'open');
    await assert.rejects(run ? run(session) : session.readRegisters(1, 'holding', 0, 2), (e) => {
      assert.ok(isEnergyMeshError(e), String(e));
      assert.equal(e.code, code, e.message);
      return true;
    });
  } finally {
    await session.stop();
  }
}

describe('modbus bad input', function () {
  this.timeout(20_000);
  const problems: unknown[] = [];
  const onProblem = (e: unknown): void => {
    problems.push(e);
  };
  before(() => {
    process.on('unhandledRejection', onProblem);
    process.on('uncaughtException', onProblem);
  });
  after(() => {
    process.off('unhandledRejection', onProblem);
    process.off('uncaughtException', onProblem);
    assert.deepEqual(problems, [], 'no unhandled rejection or exception');
  });

  const tcpCases: [string, (req: Buffer) => Buffer | undefined, ErrorCode][] = [
    ['a short read answer (2 of 4 bytes)', (r) => mbap(r.readUInt16BE(0), r[6]!, [3, 4, 0x12, 0x34]), 'FRAME_MALFORMED'],
    ['a byte count that lies', (r) => mbap(r.readUInt16BE(0), r[6]!, [3, 2, 0x12, 0x34, 0x56, 0x78]), 'FRAME_MALFORMED'],
    ['another unit id', (r) => mbap(r.readUInt16BE(0), 77, [3, 4, 0, 1, 0, 2]), 'UNEXPECTED_RESPONSE'],
    ['another transaction id', (r) => mbap(r.readUInt16BE(0) + 5, r[6]!, [3, 4, 0, 1, 0, 2]), 'UNEXPECTED_RESPONSE'],
    ['another function code', (r) => mbap(r.readUInt16BE(0), r[6]!, [4, 4, 0, 1, 0, 2]), 'UNEXPECTED_RESPONSE'],
    ['an exception for another function', (r) => mbap(r.readUInt16BE(0), r[6]!, [0x84, 2]), 'FRAME_MALFORMED'],
    ['a protocol id other than 0', (r) => mbap(r.readUInt16BE(0), r[6]!, [3, 4, 0, 1, 0, 2], 7), 'FRAME_MALFORMED'],
    ['an MBAP length of 0', (r) => mbap(r.readUInt16BE(0), r[6]!, [], 0, 0), 'FRAME_MALFORMED'],
    ['an MBAP length beyond 254', (r) => mbap(r.readUInt16BE(0), r[6]!, [3, 4], 0, 4000), 'FRAME_MALFORMED'],
    ['plain text', () => Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'), 'FRAME_MALFORMED'],
    ['nothing at all', () => undefined, 'TIMEOUT'],
  ];
  for (const [what, answer, code] of tcpCases) {
    it(`TCP: ${what} → ${code}`, async () => {
      const srv = await rawServer(answer);
      try {
        await expectError({ type: 'tcp', host: '127.0.0.1', port: srv.port }, code);
      } finally {
        await srv.close();
      }
    });
  }

  it('TCP: random garbage from the server never crashes the poller', async () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const srv = await rawServer(() => Buffer.from(Array.from({ length: 1 + (random() % 300) }, () => random() & 0xff)));
    const log = new SampleLog();
    const errors: string[] = [];
    const poller = new ModbusPoller({
      devices: [
        {
          id: 'junk',
          transport: { type: 'tcp', host: '127.0.0.1', port: srv.port },
          timeoutMs: 200,
          connection: { reconnect: { initialMs: 20, maxMs: 50 }, unitBackoff: { initialMs: 1, maxMs: 1 } },
          points: [{ id: 'x', table: 'holding', address: 0, type: 'u32' }],
          pollGroups: [{ name: 'g', intervalMs: 30 }],
        },
      ],
      onSamples: log.push,
      onError: (_d, e) => errors.push(e.code),
      spreadStart: false,
    });
    poller.start();
    try {
      await waitFor(() => log.all.length >= 20, 8000, '20 samples');
      assert.ok(log.all.every((s) => s.quality.status === 'invalid'));
      assert.ok(errors.every((c) => typeof c === 'string'));
      assert.ok(errors.includes('FRAME_MALFORMED') || errors.includes('UNEXPECTED_RESPONSE'), errors.join());
    } finally {
      await poller.stop();
      await srv.close();
    }
  });

  const rtuCases: [string, (req: Buffer) => Buffer | undefined, ErrorCode][] = [
    ['a bad CRC', (r) => rtu(r[0]!, [3, 4, 0, 1, 0, 2], true), 'CRC_MISMATCH'],
    ['garbage', () => Buffer.from('\x00\xff\x13\x37garbage garbage'), 'FRAME_MALFORMED'],
    ['a short answer', (r) => rtu(r[0]!, [3, 4, 0, 1]), 'FRAME_MALFORMED'],
    ['an exception', (r) => rtu(r[0]!, [0x83, 2]), 'DEVICE_EXCEPTION'],
  ];
  for (const [what, answer, code] of rtuCases) {
    it(`RTU over TCP: ${what} → ${code}`, async () => {
      const srv = await rawServer(answer);
      try {
        await expectError({ type: 'rtu-over-tcp', host: '127.0.0.1', port: srv.port }, code);
      } finally {
        await srv.close();
      }
    });
  }

  it('refuses oversize register counts and impossible requests', async () => {
    const transport: ModbusTransport = { type: 'tcp', host: '127.0.0.1', port: 1 };
    const refuse = (devices: ConstructorParameters<typeof ModbusPoller>[0]['devices']): void => {
      assert.throws(
        () => new ModbusPoller({ devices, onSamples: () => undefined }),
        (e) => isEnergyMeshError(e, 'CONFIG_INVALID'),
      );
    };
    refuse([{ id: 'd', transport, maxRegistersPerRead: 200, points: [{ id: 'p', table: 'holding', address: 0 }] }]);
    refuse([{ id: 'd', transport, points: [{ id: 'p', table: 'holding', address: 0, type: 'string', length: 130 }] }]);
    refuse([{ id: 'd', transport, points: [{ id: 'p', table: 'holding', address: 65535, type: 'u32' }] }]);
    refuse([{ id: 'd', transport, points: [{ id: 'p', table: 'input', address: 0, writable: true }] }]);
    refuse([{ id: 'd', transport, points: [{ id: 'p', table: 'holding', address: 0, pollGroup: 'nope' }] }]);
    refuse([{ id: 'd', transport, points: [{ id: 'p', table: 'holding', address: 0, scale: 0 }] }]);
    refuse([{ id: 'd', transport, points: [{ id: 'p', table: 'holding', address: 0, scaleFactorPoint: 'missing' }] }]);
    refuse([
      { id: 'a', transport, unitId: 1 },
      { id: 'b', transport, unitId: 1 },
    ]);
    refuse([{ id: 'd', transport, unitId: 300 }]);
    // a plan never asks for more than 125 registers
    const p = new ModbusPoller({
      devices: [{ id: 'd', transport, points: Array.from({ length: 400 }, (_, i) => ({ id: `r${i}`, table: 'holding' as const, address: i })) }],
      onSamples: () => undefined,
    });
    assert.deepEqual(p.pollStats('d')[0]!.blocks, 4);
    // the session refuses requests beyond the function's limit without sending them
    const srv = await rawServer(() => undefined);
    try {
      await expectError({ type: 'tcp', host: '127.0.0.1', port: srv.port }, 'INVALID_ARGUMENT', (s) => s.readRegisters(1, 'holding', 0, 126));
      await expectError({ type: 'tcp', host: '127.0.0.1', port: srv.port }, 'INVALID_ARGUMENT', (s) => s.readBits(1, 'coil', 0, 2001));
      await expectError({ type: 'tcp', host: '127.0.0.1', port: srv.port }, 'INVALID_ARGUMENT', (s) => s.writeRegisters(1, 0, new Array<number>(124).fill(0)));
      await expectError({ type: 'tcp', host: '127.0.0.1', port: srv.port }, 'INVALID_ARGUMENT', (s) => s.readRegisters(1, 'holding', 65535, 2));
    } finally {
      await srv.close();
    }
  });

  it('reports a refused connection and keeps trying', async () => {
    const srv = await rawServer(() => undefined);
    const port = srv.port;
    await srv.close();
    const session = new ModbusSession({ transport: { type: 'tcp', host: '127.0.0.1', port }, reconnect: { initialMs: 20, maxMs: 40 } });
    const states: string[] = [];
    session.onDidChangeState(({ state, error }) => states.push(`${state}:${error?.code ?? ''}`));
    session.start();
    await waitFor(() => states.filter((s) => s === 'connecting:CONNECTION_REFUSED').length >= 3, 3000, 'retries');
    await assert.rejects(session.readRegisters(1, 'holding', 0, 1), (e) => isEnergyMeshError(e, 'NOT_CONNECTED'));
    await session.stop();
    await assert.rejects(session.readRegisters(1, 'holding', 0, 1), (e) => isEnergyMeshError(e, 'CONNECTION_CLOSED'));
  });
});
