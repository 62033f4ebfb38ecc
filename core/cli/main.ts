/**
 * `energymesh` — the command line. Core commands: start, validate-config, plugins list, plugin new.
 * Plugins add commands through CliCommandsContribution (loaded from the config given by --config or
 * ENERGYMESH_CONFIG).
 */
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config/config-loader.ts';
import { readConfigFile, redactSecrets } from '../config/config-file.ts';
import { errorMessage, isEnergyMeshError } from '../errors.ts';
import { startInstance, tokensFile } from '../instance.ts';
import { TokenStore } from '../auth/token-store.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { isRole } from '../auth/roles.ts';
import { Kernel } from '../kernel.ts';
import { createLogger, silentLogger } from '../logging/logger.ts';
import { PACKAGE_ROOT } from '../paths.ts';
import { builtinPlugins } from '../plugins/plugin-resolver.ts';
import { chainCommand } from '../../chain/cli/chain-cli.ts';
import { runApiCommand } from './api-client.ts';

/** The config `start` uses when none is given. */
export const DEFAULT_CONFIG = join(PACKAGE_ROOT, 'examples', 'demo', 'energymesh.yaml');

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdio: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

/** Runs the CLI with `argv` (as process.argv); resolves to the exit code. */
export async function main(argv: readonly string[], io: Io = stdio, waitForSignal = true): Promise<number> {
  let exitCode = 0;
  const program = new Command('energymesh')
    .description('Connect grid field devices to an energy market')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('start')
    .description('start EnergyMesh (with no --config: the demo microgrid in examples/demo)')
    .option('-c, --config <file>', 'config file (YAML or JSON)', process.env.ENERGYMESH_CONFIG)
    .action(async (opts: { config?: string }) => {
      exitCode = await start(opts.config ?? DEFAULT_CONFIG, io, waitForSignal);
    });

  program
    .command('validate-config')
    .argument('<file>', 'config file (YAML or JSON)')
    .description('check a config file, its plugins and their configs; lists every problem with file:line:column and JSON path')
    .action(async (file: string) => {
      exitCode = await validate(file, io);
    });

  program.addCommand(adopt(program, chainCommand(io)));

  const plugins = program.command('plugins').description('plugins');
  plugins
    .command('list')
    .description('list built-in plugins, and with --config the ones a config enables')
    .option('-c, --config <file>', 'config file', process.env.ENERGYMESH_CONFIG)
    .option('--json', 'machine-readable output')
    .action((opts: { config?: string; json?: boolean }) => {
      exitCode = listPlugins(opts, io);
    });

  const tokens = program.command('tokens').description('API tokens (run on the EnergyMesh machine: it edits the token file directly)');
  tokens
    .command('create')
    .requiredOption('--name <name>', 'who or what the token is for')
    .requiredOption('--role <role>', 'viewer | operator | compliance-officer | admin')
    .option('-c, --config <file>', 'config file', process.env.ENERGYMESH_CONFIG ?? DEFAULT_CONFIG)
    .description('create a token; it is printed once')
    .action((opts: { name: string; role: string; config: string }) => {
      exitCode = withTokens(opts.config, io, (store) => {
        if (!isRole(opts.role)) throw new Error(`unknown role ${opts.role}; roles are viewer, operator, compliance-officer, admin`);
        const c = store.create(opts.name, opts.role);
        io.out(c.token);
        io.err(`created token ${c.record.id} (${c.record.role}) for ${c.record.name}; it is shown only now`);
      });
    });
  tokens
    .command('list')
    .option('-c, --config <file>', 'config file', process.env.ENERGYMESH_CONFIG ?? DEFAULT_CONFIG)
    .description('list tokens (never their secrets)')
    .action((opts: { config: string }) => {
      exitCode = withTokens(opts.config, io, (store) => {
        for (const t of store.list()) io.out(`${t.id}  ${t.role.padEnd(18)} ${t.revokedAt ? `revoked ${t.revokedAt}` : 'active'.padEnd(32)}  ${t.name}`);
      });
    });
  tokens
    .command('revoke')
    .argument('<id>', 'token id (from tokens list)')
    .option('-c, --config <file>', 'config file', process.env.ENERGYMESH_CONFIG ?? DEFAULT_CONFIG)
    .description('revoke a token (takes effect at once, also for a running instance)')
    .action((id: string, opts: { config: string }) => {
      exitCode = withTokens(opts.config, io, (store) => {
        store.revoke(id);
        io.out(`revoked ${id}`);
      });
    });

  const compliance = program
    .command('compliance')
    .description('compliance modules of a running instance (through its API: --url, --token or ENERGYMESH_TOKEN)');
  const remote = (c: Command): Command =>
    c
      .option('-c, --config <file>', 'config file (gives the API address)', process.env.ENERGYMESH_CONFIG ?? DEFAULT_CONFIG)
      .option('--url <url>', 'API base URL (default: from the config)')
      .option('--token <token>', 'API token (default: $ENERGYMESH_TOKEN)', process.env.ENERGYMESH_TOKEN);
  remote(compliance.command('list').description('modules available and which are active')).action(async (opts: RemoteOptions) => {
    exitCode = await runApiCommand(opts, io, 'GET', '/api/v1/compliance/modules', undefined, (rows) => {
      for (const m of rows as { id: string; active: boolean; jurisdiction: string; title: string; regulation: string }[]) {
        io.out(`${m.id.padEnd(14)} ${(m.active ? 'active' : '-').padEnd(7)} ${m.jurisdiction.padEnd(4)} ${m.title} — ${m.regulation}`);
      }
    });
  });
  remote(compliance.command('status').description('active modules, scheduled changes, counters (JSON)')).action(async (opts: RemoteOptions) => {
    exitCode = await runApiCommand(opts, io, 'GET', '/api/v1/compliance/status', undefined, (s) => io.out(JSON.stringify(s, null, 2)));
  });
  for (const action of ['enable', 'disable'] as const) {
    remote(
      compliance
        .command(action)
        .argument('<id>', 'module id, e.g. eu-gdpr')
        .requiredOption('--reason <text>', 'why (mandatory; kept in the audit log)')
        .option('--at <time>', 'when it takes effect (ISO 8601 with a zone); now if left out')
        .description(`${action} a module (compliance-officer role)`),
    ).action(async (id: string, opts: RemoteOptions & { reason: string; at?: string }) => {
      exitCode = await runApiCommand(opts, io, 'POST', `/api/v1/compliance/modules/${encodeURIComponent(id)}/${action}`, { reason: opts.reason, ...(opts.at ? { at: opts.at } : {}) }, (c) => {
        const change = c as { module: string; action: string; at: number };
        io.out(`${change.action} ${change.module} at ${new Date(change.at).toISOString()}`);
      });
    });
  }
  remote(
    compliance
      .command('report')
      .option('--from <time>', 'ISO 8601 start (default 24 h ago)')
      .option('--to <time>', 'ISO 8601 end (default now)')
      .option('--format <format>', 'json | markdown (md) | html', 'markdown')
      .description('what was active over a period and what each module did'),
  ).action(async (opts: RemoteOptions & { from?: string; to?: string; format: string }) => {
    const format = opts.format === 'md' ? 'markdown' : opts.format;
    const q = new URLSearchParams({ format, ...(opts.from ? { from: opts.from } : {}), ...(opts.to ? { to: opts.to } : {}) });
    exitCode = await runApiCommand(opts, io, 'GET', `/api/v1/compliance/report?${q.toString()}`, undefined, (r) => io.out(typeof r === 'string' ? r : JSON.stringify(r, null, 2)));
  });

  const audit = program.command('audit').description('the hash-chained audit log (read directly from the data dir)');
  audit
    .command('verify')
    .option('-c, --config <file>', 'config file (gives the data dir)', process.env.ENERGYMESH_CONFIG ?? DEFAULT_CONFIG)
    .description('check every record of the audit log; exit 1 and name the first bad record on any tampering')
    .action((opts: { config: string }) => {
      exitCode = withAudit(opts.config, io, (log) => {
        const v = log.verify();
        if (v.ok) {
          io.out(`audit log OK: ${v.records} records, head ${v.head?.hash ?? '(empty)'} (${log.file})`);
          return 0;
        }
        io.err(`audit log TAMPERED: record ${v.badRecord}: ${v.reason} (${v.records} records before it check out) — ${log.file}`);
        return 1;
      });
    });
  audit
    .command('export')
    .option('-c, --config <file>', 'config file (gives the data dir)', process.env.ENERGYMESH_CONFIG ?? DEFAULT_CONFIG)
    .option('--from <time>', 'ISO 8601 start (default: the beginning)')
    .option('--to <time>', 'ISO 8601 end (default: now)')
    .description('records of a period with their chain hashes, as JSON for auditors')
    .action((opts: { config: string; from?: string; to?: string }) => {
      exitCode = withAudit(opts.config, io, (log) => {
        const from = opts.from ? Date.parse(opts.from) : 0;
        const to = opts.to ? Date.parse(opts.to) : Date.now();
        if (!Number.isFinite(from) || !Number.isFinite(to)) throw new Error('--from/--to must be ISO 8601 times');
        io.out(JSON.stringify(log.export(from, to), null, 2));
        return 0;
      });
    });

  const plugin = program.command('plugin').description('plugin development');
  plugin
    .command('new')
    .argument('<dir>', 'folder to create')
    .option('--id <id>', 'plugin id (dotted, e.g. protocol.acme)')
    .description('create a protocol plugin from the template in examples/plugin-template')
    .action((dir: string, opts: { id?: string }) => {
      exitCode = newPlugin(dir, opts.id, io);
    });

  // plugin-contributed commands: only when the first word is not a core command
  const first = argv[2];
  const coreNames = new Set(program.commands.map((c) => c.name()).concat(['help', '--help', '-h', '--version', '-V']));
  if (first && !coreNames.has(first)) await addPluginCommands(program, argv, io, (c) => (exitCode = c));

  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    io.err(`energymesh: ${errorMessage(e)}`);
    return 1;
  }
  return exitCode;
}

/** Gives a command built elsewhere (and its subcommands) the program's output and exit handling. */
function adopt(program: Command, cmd: Command): Command {
  cmd.copyInheritedSettings(program);
  for (const sub of cmd.commands) adopt(cmd, sub);
  return cmd;
}

interface RemoteOptions {
  config: string;
  url?: string;
  token?: string;
}

function withAudit(configFile: string, io: Io, fn: (log: AuditLog) => number): number {
  try {
    const config = loadConfig(readConfigFile(configFile));
    return fn(new AuditLog({ dir: join(config.core.dataDir, 'audit') }));
  } catch (e) {
    io.err(`energymesh: ${errorMessage(e)}`);
    return 1;
  }
}

function withTokens(configFile: string, io: Io, fn: (store: TokenStore) => void): number {
  try {
    fn(new TokenStore(tokensFile(loadConfig(readConfigFile(configFile)))));
    return 0;
  } catch (e) {
    io.err(`energymesh: ${errorMessage(e)}`);
    return 1;
  }
}

async function start(file: string, io: Io, waitForSignal: boolean): Promise<number> {
  let instance;
  try {
    const source = readConfigFile(file);
    const config = loadConfig(source);
    const logger = createLogger({ level: config.core.log.level });
    logger.info({ config: redactSecrets(source.data, source.secretPaths), file: source.file }, 'configuration loaded');
    installProcessHandlers(logger);
    instance = await startInstance(config, { logger });
  } catch (e) {
    io.err(`energymesh: cannot start: ${errorMessage(e)}`);
    return 1;
  }
  const k = instance.kernel;
  const lines = [
    '',
    `EnergyMesh is running (${k.config.source.file})`,
    `  plugins: ${k.plugins.map((p) => `${p.id} [${p.health.current().state}]`).join(', ') || 'none'}`,
    `  devices: ${k.drivers.all().reduce((n, d) => n + d.driver.devices().length, 0)}`,
  ];
  if (instance.url) {
    lines.push(
      `  health:      ${instance.url}/api/v1/health`,
      `  devices:     ${instance.url}/api/v1/devices`,
      `  live values: ${instance.url}/api/v1/points`,
      `  live stream: ${instance.url.replace('http', 'ws')}/api/v1/stream`,
      `  OpenAPI:     ${instance.url}/api/v1/openapi.json`,
      `  metrics:     ${instance.url}/metrics`,
    );
  }
  if (instance.initialAdminToken) {
    lines.push(
      `  first admin API token (shown once; also in ${instance.initialAdminToken.file}):`,
      `      ${instance.initialAdminToken.token}`,
      '  create more with: energymesh tokens create --name NAME --role viewer|operator|compliance-officer|admin',
    );
  }
  lines.push('  stop with Ctrl-C', '');
  io.err(lines.join('\n'));
  if (!waitForSignal) {
    await instance.stop();
    return 0;
  }
  await new Promise<void>((resolveSignal) => {
    process.once('SIGINT', resolveSignal);
    process.once('SIGTERM', resolveSignal);
  });
  io.err('energymesh: stopping…');
  await instance.stop();
  return 0;
}

function installProcessHandlers(logger: ReturnType<typeof createLogger>): void {
  // A stray rejection in some plugin must not take the gateway down: log it and go on.
  process.on('unhandledRejection', (reason) => logger.error({ err: errorMessage(reason) }, 'unhandled promise rejection (a bug; the process keeps running)'));
}

async function validate(file: string, io: Io): Promise<number> {
  try {
    const source = readConfigFile(file);
    const config = loadConfig(source);
    const kernel = new Kernel(config, { logger: silentLogger(), defaultMetrics: false });
    await kernel.load(); // validates sections plugins contribute
    const failed = kernel.plugins.filter((p) => p.failure !== undefined);
    for (const p of failed) io.err(`${source.file}: plugin ${p.id}: ${p.failure}`);
    await kernel.stop();
    if (failed.length > 0) return 1;
    io.out(`${source.file}: valid (${config.plugins.length} plugin${config.plugins.length === 1 ? '' : 's'}: ${config.plugins.map((p) => p.manifest.id).join(', ') || 'none'})`);
    return 0;
  } catch (e) {
    io.err(isEnergyMeshError(e) ? e.message : `energymesh: ${errorMessage(e)}`);
    return 1;
  }
}

function listPlugins(opts: { config?: string; json?: boolean }, io: Io): number {
  try {
    const enabled = new Set<string>();
    if (opts.config) for (const p of loadConfig(readConfigFile(opts.config)).plugins) enabled.add(p.manifest.id);
    const rows = [...builtinPlugins().values()].map((p) => ({
      id: p.manifest.id,
      kind: p.manifest.kind,
      version: p.manifest.version,
      enabled: opts.config ? enabled.has(p.manifest.id) : undefined,
      description: p.manifest.description ?? '',
    }));
    if (opts.config) {
      for (const id of enabled) if (!rows.some((r) => r.id === id)) rows.push({ id, kind: 'protocol', version: '', enabled: true, description: '(third-party)' });
    }
    if (opts.json) io.out(JSON.stringify(rows, null, 2));
    else for (const r of rows) io.out(`${r.id.padEnd(26)} ${r.kind.padEnd(10)} ${r.version.padEnd(8)} ${r.enabled === undefined ? '' : r.enabled ? 'enabled ' : 'disabled'} ${r.description}`);
    return 0;
  } catch (e) {
    io.err(errorMessage(e));
    return 1;
  }
}

function newPlugin(dir: string, id: string | undefined, io: Io): number {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    io.err(`energymesh: ${target} exists and is not empty`);
    return 1;
  }
  const pluginId = id ?? `protocol.${basename(target).toLowerCase().replace(/[^a-z0-9-]/g, '-')}`;
  if (!/^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/.test(pluginId)) {
    io.err(`energymesh: plugin id ${pluginId} must be dotted lower-case, e.g. protocol.acme`);
    return 1;
  }
  const template = join(PACKAGE_ROOT, 'examples', 'plugin-template');
  cpSync(template, target, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const manifestFile = join(target, 'plugin.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
  manifest.id = pluginId;
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  const pkgFile = join(target, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as Record<string, unknown>;
  pkg.name = `energymesh-plugin-${pluginId.replace(/\./g, '-')}`;
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  io.out(`created ${pluginId} in ${target}; add { path: ${dir} } to the plugins of your config`);
  return 0;
}

async function addPluginCommands(program: Command, argv: readonly string[], io: Io, setExit: (code: number) => void): Promise<void> {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : (process.env.ENERGYMESH_CONFIG ?? DEFAULT_CONFIG);
  if (!file || !existsSync(file)) return;
  try {
    const kernel = new Kernel(loadConfig(readConfigFile(file)), { logger: silentLogger(), defaultMetrics: false });
    await kernel.load();
    for (const { pluginId, register } of kernel.pluginCommandGroups()) {
      try {
        register(program, io, setExit);
      } catch (e) {
        io.err(`energymesh: commands of ${pluginId} unavailable: ${errorMessage(e)}`);
      }
    }
    for (const { pluginId, command } of kernel.pluginCommands()) {
      const c = program.command(command.name).description(`${command.description} [${pluginId}]`).option('--config <file>', 'config file');
      for (const a of command.arguments ?? []) c.argument(a.required ? `<${a.name}>` : `[${a.name}]`, a.description);
      for (const o of command.options ?? []) c.option(o.flags, o.description, o.defaultValue);
      c.action(async (...args: unknown[]) => {
        const positional = args.slice(0, (command.arguments ?? []).length).filter((x): x is string => typeof x === 'string');
        const opts = (args[(command.arguments ?? []).length] ?? {}) as Record<string, unknown>;
        setExit(await command.run(positional, opts));
      });
    }
  } catch (e) {
    io.err(`energymesh: plugin commands unavailable: ${errorMessage(e)}`);
  }
}
