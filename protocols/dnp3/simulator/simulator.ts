/** The outstation simulator: an Outstation on TCP with optional self-changing points. */
import type { TcpListener } from '../session/channel.ts';
import { listenTcp } from '../session/channel.ts';
import { Outstation } from '../outstation/outstation.ts';
import type { SimulatorConfig } from './simulator-config.ts';

export class Dnp3Simulator {
  readonly outstation: Outstation;
  private listener: TcpListener | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly config: SimulatorConfig, private readonly random: () => number = Math.random) {
    this.outstation = new Outstation(config.database, {
      localAddress: config.localAddress,
      remoteAddress: config.remoteAddress,
      allowUnsolicited: config.allowUnsolicited,
      needTime: config.needTime,
      maxTxFragmentSize: config.maxFragmentSize,
    });
  }

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    this.listener = await listenTcp(this.config.listen.host, this.config.listen.port, (c) => this.outstation.attach(c));
    const sim = this.config.simulation;
    if (sim) this.timer = setInterval(() => this.step(), sim.periodMs);
    return this.listener.port;
  }

  /** One simulation step: random walk of analogs, counters counting, binaries toggling now and then. */
  step(): void {
    const sim = this.config.simulation;
    if (!sim) return;
    const db = this.outstation.database;
    for (const p of db.list('analogInput')) {
      this.outstation.update('analogInput', p.index, Number(p.value) + (this.random() * 2 - 1) * (sim.analogStep ?? 1));
    }
    for (const p of db.list('counter')) {
      this.outstation.update('counter', p.index, (Number(p.value) + Math.floor(this.random() * ((sim.counterStep ?? 10) + 1))) % 0x1_0000_0000);
    }
    for (const p of db.list('binaryInput')) {
      if (this.random() < (sim.binaryToggleProbability ?? 0)) this.outstation.update('binaryInput', p.index, !p.value);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.outstation.dispose();
    await this.listener?.close();
  }
}
