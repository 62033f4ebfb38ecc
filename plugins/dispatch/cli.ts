/**
 * `energymesh dispatch publish | list | status | settle` — an API client of dispatch.incentives, like
 * `energymesh compliance` (--url, --token or $ENERGYMESH_TOKEN; without --url the API address comes from
 * the config). Register it in core/cli/main.ts with `addDispatchCommands(program, io, (c) => (exitCode = c))`.
 */
import type { Command } from 'commander';
import type { CliIo } from '../../core/plugin-api.ts';
import { errorMessage } from '../../core/errors.ts';
import { runApiCommand } from '../../core/cli/api-client.ts';

/** Where the commands write (the core CLI's output). */
export type DispatchCliIo = CliIo;

interface RemoteOptions {
  config?: string;
  url?: string;
  token?: string;
}

const BASE = '/api/v1/plugins/dispatch.incentives';

/** Parses `--setpoint METER,DEVICE,POINT,VALUE[,RESTORE]` (numbers and true/false typed). */
export function parseSetpoint(spec: string): { meter: string; deviceId: string; pointId: string; value: number | boolean | string; restore?: number | boolean | string } {
  const parts = spec.split(',');
  if (parts.length < 4 || parts.length > 5 || parts.some((p) => p.trim() === '')) {
    throw new Error(`--setpoint ${spec}: expected METER,DEVICE,POINT,VALUE[,RESTORE]`);
  }
  const [meter, deviceId, pointId, value, restore] = parts.map((p) => p.trim()) as [string, string, string, string, string | undefined];
  return { meter, deviceId, pointId, value: typed(value), ...(restore !== undefined ? { restore: typed(restore) } : {}) };
}

function typed(v: string): number | boolean | string {
  if (v === 'true') return true;
  if (v === 'false') return false;
  const n = Number(v);
  return v !== '' && Number.isFinite(n) ? n : v;
}

/** Builds the publish request body from the CLI options. */
export function publishBody(opts: {
  area: string;
  start: string;
  end?: string;
  minutes?: string;
  direction: string;
  targetKw: string;
  reward: string;
  pool: string;
  meter?: string[];
  setpoint?: string[];
  deadline?: string;
  reason?: string;
}): Record<string, unknown> {
  const startMs = Date.parse(opts.start);
  if (!Number.isFinite(startMs)) throw new Error(`--start ${opts.start}: not an ISO 8601 time`);
  let end = opts.end;
  if (end === undefined) {
    const minutes = Number(opts.minutes);
    if (!Number.isInteger(minutes) || minutes <= 0) throw new Error('give --end or --minutes');
    end = new Date(startMs + minutes * 60_000).toISOString();
  }
  const meters = new Map<string, { meter: string; setpoints: Record<string, unknown>[] }>();
  for (const m of opts.meter ?? []) meters.set(m, { meter: m, setpoints: [] });
  for (const s of opts.setpoint ?? []) {
    const { meter, ...sp } = parseSetpoint(s);
    const entry = meters.get(meter) ?? { meter, setpoints: [] };
    entry.setpoints.push(sp);
    meters.set(meter, entry);
  }
  const targetKw = Number(opts.targetKw);
  return {
    area: opts.area,
    start: new Date(startMs).toISOString(),
    end,
    direction: opts.direction,
    targetKw: Number.isFinite(targetKw) ? targetKw : opts.targetKw,
    rewardEbPerKwh: opts.reward,
    poolEb: opts.pool,
    meters: [...meters.values()],
    ...(opts.deadline ? { enrolmentDeadline: opts.deadline } : {}),
    ...(opts.reason ? { reason: opts.reason } : {}),
  };
}

/**
 * Adds `dispatch publish|list|status|settle` to `program`. `setExit` receives each command's exit code
 * (0 ok, 1 refused or unreachable).
 */
export function addDispatchCommands(program: Command, io: DispatchCliIo, setExit: (code: number) => void, defaultConfig?: string): Command {
  const dispatch = program.command('dispatch').description('balancing events of a running instance (through its API: --url, --token or ENERGYMESH_TOKEN)');
  const remote = (c: Command): Command =>
    c
      .option('-c, --config <file>', 'config file (gives the API address)', process.env.ENERGYMESH_CONFIG ?? defaultConfig)
      .option('--url <url>', 'API base URL (default: from the config)')
      .option('--token <token>', 'API token (default: $ENERGYMESH_TOKEN)', process.env.ENERGYMESH_TOKEN);
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

  remote(
    dispatch
      .command('publish')
      .description('publish a balancing event (operator role): created and funded on chain, meters enrolled, setpoints sent at window start')
      .requiredOption('--area <area>', 'grid area of the enrolled meters')
      .requiredOption('--start <time>', 'window start, ISO 8601, on an interval boundary')
      .option('--end <time>', 'window end (exclusive), ISO 8601')
      .option('--minutes <n>', 'window length instead of --end')
      .requiredOption('--direction <up|down>', 'up: more export / less import; down: the opposite')
      .requiredOption('--target-kw <kW>', 'target response in kW')
      .requiredOption('--reward <EB per kWh>', 'reward per kWh delivered, in EB (e.g. 0.5)')
      .requiredOption('--pool <EB>', 'reward pool paid in now, in EB')
      .option('--meter <meter>', 'enrol a meter (repeatable)', collect)
      .option('--setpoint <METER,DEVICE,POINT,VALUE[,RESTORE]>', 'a setpoint for an enrolled meter\'s DER (repeatable)', collect)
      .option('--deadline <time>', 'enrolment deadline (default: the window start)')
      .option('--reason <text>', 'why (kept with the event)'),
  ).action(async (opts: RemoteOptions & Parameters<typeof publishBody>[0]) => {
    let body: Record<string, unknown>;
    try {
      body = publishBody(opts);
    } catch (e) {
      io.err(`energymesh: ${errorMessage(e)}`);
      setExit(2);
      return;
    }
    setExit(
      await runApiCommand(opts, io, 'POST', `${BASE}/events`, body, (e) => {
        const ev = e as { id: number; status: string; txHash: string; start: string; end: string };
        io.out(`event ${ev.id} ${ev.status}: ${ev.start} → ${ev.end} (tx ${ev.txHash})`);
      }),
    );
  });

  remote(dispatch.command('list').description('balancing events and their state')).action(async (opts: RemoteOptions) => {
    setExit(
      await runApiCommand(opts, io, 'GET', `${BASE}/events`, undefined, (rows) => {
        for (const e of rows as { id: number; status: string; area: string; start: string; end: string; direction: string; targetKw: number; deliveredKw?: number; paidEb?: string }[]) {
          const extra = e.paidEb !== undefined ? ` paid ${e.paidEb} EB` : e.deliveredKw !== undefined ? ` delivering ${e.deliveredKw.toFixed(2)} kW` : '';
          io.out(`${String(e.id).padEnd(5)} ${e.status.padEnd(9)} ${e.area.padEnd(12)} ${e.start} → ${e.end} ${e.direction} ${e.targetKw} kW${extra}`);
        }
      }),
    );
  });

  remote(dispatch.command('status').argument('<id>', 'event id').description('one event in full (JSON): setpoints, live response, payouts')).action(async (id: string, opts: RemoteOptions) => {
    setExit(await runApiCommand(opts, io, 'GET', `${BASE}/events/${encodeURIComponent(id)}`, undefined, (e) => io.out(JSON.stringify(e, null, 2))));
  });

  remote(dispatch.command('settle').argument('<id>', 'event id').description('settle an ended event now and print the payouts (operator role)')).action(async (id: string, opts: RemoteOptions) => {
    setExit(
      await runApiCommand(opts, io, 'POST', `${BASE}/events/${encodeURIComponent(id)}/settle`, undefined, (e) => {
        const ev = e as { id: number; settlement?: { txHash: string; payouts: { meter: string; deliveredWh: string; rewardEb: string }[] } };
        io.out(`event ${ev.id} settled (tx ${ev.settlement?.txHash ?? '?'})`);
        for (const p of ev.settlement?.payouts ?? []) io.out(`  ${p.meter}: delivered ${p.deliveredWh} Wh, paid ${p.rewardEb} EB`);
      }),
    );
  });
  return dispatch;
}

