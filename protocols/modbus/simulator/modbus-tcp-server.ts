/**
 * A small Modbus TCP server (slave) for simulators and tests.
 *
 * Wire grammar (Modbus Messaging on TCP/IP Implementation Guide V1.0b §3.1.3, MBAP header):
 *   transaction id u16 | protocol id u16 (= 0) | length u16 (unit id + PDU) | unit id u8 | PDU
 * PDUs (Modbus Application Protocol V1.1b3 §6): FC1/FC2 read bits, FC3/FC4 read registers, FC5 write
 * coil, FC6 write register, FC15 write coils, FC16 write registers; an exception answer is
 * FC | 0x80 followed by the exception code (§7).
 *
 * Chosen over modbus-serial's ServerTCP after measuring (see README): it answers from register pages
 * without a callback per register, keeps per-connection state, and lets tests make a unit silent,
 * slow or failing. Policy: a stream that is not MBAP (protocol id ≠ 0, length out of 2..254) is closed.
 */
import net from 'node:net';
import { EXCEPTION_ILLEGAL_FUNCTION, EXCEPTION_ILLEGAL_VALUE, type RegisterBank } from './register-bank.ts';

/** How a unit id answers: normally, never, with a fixed exception, or late. */
export type UnitBehaviour = { mode: 'normal' } | { mode: 'silent' } | { mode: 'exception'; code: number } | { mode: 'delay'; ms: number };

export interface ModbusTcpServerOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** What a unit id without a bank gets: GATEWAY TARGET DEVICE FAILED TO RESPOND (11, default) or silence. */
  unknownUnit?: 'exception' | 'silent';
}

export class ModbusTcpServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly units = new Map<number, RegisterBank>();
  private readonly behaviours = new Map<number, UnitBehaviour>();
  private readonly options: ModbusTcpServerOptions;
  private portValue = 0;
  readonly stats = { requests: 0, connections: 0, exceptions: 0 };

  constructor(options: ModbusTcpServerOptions = {}) {
    this.options = options;
    this.server = net.createServer((socket) => this.onConnection(socket));
    this.server.on('error', () => {
      /* reported by listen() */
    });
  }

  get port(): number {
    return this.portValue;
  }

  setUnit(unitId: number, bank: RegisterBank): void {
    this.units.set(unitId, bank);
  }

  unit(unitId: number): RegisterBank | undefined {
    return this.units.get(unitId);
  }

  setBehaviour(unitId: number, behaviour: UnitBehaviour): void {
    this.behaviours.set(unitId, behaviour);
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        this.portValue = typeof addr === 'object' && addr ? addr.port : 0;
        resolve(this.portValue);
      });
    });
  }

  /** Stops listening and drops every connection. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
  }

  private onConnection(socket: net.Socket): void {
    this.stats.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      let pos = 0;
      while (buffer.length - pos >= 7) {
        const protocolId = buffer.readUInt16BE(pos + 2);
        const length = buffer.readUInt16BE(pos + 4);
        if (protocolId !== 0 || length < 2 || length > 254) {
          socket.destroy();
          return;
        }
        if (buffer.length - pos < 6 + length) break;
        const frame = buffer.subarray(pos, pos + 6 + length);
        pos += 6 + length;
        this.onFrame(socket, frame);
      }
      buffer = pos === buffer.length ? Buffer.alloc(0) : buffer.subarray(pos);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private onFrame(socket: net.Socket, frame: Buffer): void {
    this.stats.requests++;
    const tid = frame.readUInt16BE(0);
    const unitId = frame[6]!;
    const pdu = frame.subarray(7);
    const behaviour = this.behaviours.get(unitId) ?? { mode: 'normal' };
    if (behaviour.mode === 'silent') return;
    const bank = this.units.get(unitId);
    let answer: Buffer;
    if (behaviour.mode === 'exception') answer = exception(pdu[0] ?? 0, behaviour.code);
    else if (!bank) {
      if (this.options.unknownUnit === 'silent') return;
      answer = exception(pdu[0] ?? 0, 11);
    } else answer = handlePdu(bank, pdu);
    if (answer[0]! & 0x80) this.stats.exceptions++;
    const out = Buffer.allocUnsafe(7 + answer.length);
    out.writeUInt16BE(tid, 0);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(answer.length + 1, 4);
    out[6] = unitId;
    answer.copy(out, 7);
    if (behaviour.mode === 'delay') {
      setTimeout(() => {
        if (!socket.destroyed) socket.write(out);
      }, behaviour.ms);
    } else socket.write(out);
  }
}

function exception(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

/** Executes one request PDU on a bank and returns the response PDU. */
export function handlePdu(bank: RegisterBank, pdu: Buffer): Buffer {
  const fc = pdu[0] ?? 0;
  if (pdu.length < 5) return exception(fc, EXCEPTION_ILLEGAL_VALUE);
  const address = pdu.readUInt16BE(1);
  switch (fc) {
    case 1:
    case 2: {
      const count = pdu.readUInt16BE(3);
      if (count < 1 || count > 2000) return exception(fc, EXCEPTION_ILLEGAL_VALUE);
      const r = bank.read(fc === 1 ? 'coil' : 'discrete', address, count);
      if (typeof r === 'number') return exception(fc, r);
      const bytes = (count + 7) >> 3;
      const out = Buffer.alloc(2 + bytes);
      out[0] = fc;
      out[1] = bytes;
      for (let i = 0; i < count; i++) if (r[i]) out[2 + (i >> 3)]! |= 1 << (i & 7);
      return out;
    }
    case 3:
    case 4: {
      const count = pdu.readUInt16BE(3);
      if (count < 1 || count > 125) return exception(fc, EXCEPTION_ILLEGAL_VALUE);
      const out = Buffer.allocUnsafe(2 + 2 * count);
      const e = bank.readInto(fc === 3 ? 'holding' : 'input', address, count, out, 2);
      if (e !== undefined) return exception(fc, e);
      out[0] = fc;
      out[1] = 2 * count;
      return out;
    }
    case 5: {
      const v = pdu.readUInt16BE(3);
      if (v !== 0 && v !== 0xff00) return exception(fc, EXCEPTION_ILLEGAL_VALUE);
      const e = bank.write('coil', address, [v === 0xff00 ? 1 : 0]);
      return e === undefined ? Buffer.from(pdu.subarray(0, 5)) : exception(fc, e);
    }
    case 6: {
      const e = bank.write('holding', address, [pdu.readUInt16BE(3)]);
      return e === undefined ? Buffer.from(pdu.subarray(0, 5)) : exception(fc, e);
    }
    case 15: {
      const count = pdu.readUInt16BE(3);
      const bytes = pdu[5] ?? 0;
      if (count < 1 || count > 1968 || bytes !== (count + 7) >> 3 || pdu.length < 6 + bytes) return exception(fc, EXCEPTION_ILLEGAL_VALUE);
      const values: number[] = [];
      for (let i = 0; i < count; i++) values.push((pdu[6 + (i >> 3)]! >> (i & 7)) & 1);
      const e = bank.write('coil', address, values);
      return e === undefined ? Buffer.from(pdu.subarray(0, 5)) : exception(fc, e);
    }
    case 16: {
      const count = pdu.readUInt16BE(3);
      const bytes = pdu[5] ?? 0;
      if (count < 1 || count > 123 || bytes !== 2 * count || pdu.length < 6 + bytes) return exception(fc, EXCEPTION_ILLEGAL_VALUE);
      const values: number[] = [];
      for (let i = 0; i < count; i++) values.push(pdu.readUInt16BE(6 + 2 * i));
      const e = bank.write('holding', address, values);
      return e === undefined ? Buffer.from(pdu.subarray(0, 5)) : exception(fc, e);
    }
    default:
      return exception(fc, EXCEPTION_ILLEGAL_FUNCTION);
  }
}

