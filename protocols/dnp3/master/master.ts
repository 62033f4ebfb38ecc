/**
 * A DNP3 master process: many outstation sessions, each with its own channel, queue and timers, so a
 * slow or silent outstation never delays the others.
 */
import { EnergyMeshError } from '../../../core/errors.ts';
import { connectTcp } from '../session/channel.ts';
import type { ChannelConnector, MasterSessionOptions } from './master-session.ts';
import { MasterSession } from './master-session.ts';

export interface TcpOutstationOptions extends MasterSessionOptions {
  id: string;
  host: string;
  port: number;
  connectTimeoutMs?: number;
}

export class Dnp3Master {
  private readonly sessions = new Map<string, MasterSession>();

  /** Adds an outstation reached over TCP and starts its session. */
  addTcpOutstation(options: TcpOutstationOptions): MasterSession {
    const { host, port, connectTimeoutMs, ...rest } = options;
    return this.addOutstation(options.id, (signal) => connectTcp(host, port, connectTimeoutMs ?? 5000, signal), rest);
  }

  /** Adds an outstation reached through any connector and starts its session. */
  addOutstation(id: string, connector: ChannelConnector, options: MasterSessionOptions = {}): MasterSession {
    if (this.sessions.has(id)) throw new EnergyMeshError('DUPLICATE_ID', `DNP3 master: outstation ${id} already added`);
    const s = new MasterSession(connector, { ...options, id });
    this.sessions.set(id, s);
    s.start();
    return s;
  }

  get(id: string): MasterSession | undefined {
    return this.sessions.get(id);
  }

  list(): MasterSession[] {
    return [...this.sessions.values()];
  }

  async remove(id: string): Promise<void> {
    const s = this.sessions.get(id);
    this.sessions.delete(id);
    await s?.stop();
  }

  async stop(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.stop()));
  }
}
