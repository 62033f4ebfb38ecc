/**
 * The CLI's client of a running instance's API (the commands that act on a running EnergyMesh:
 * compliance, market, dispatch). The address comes from `url`, else from the config file's `api`
 * section; the token from `token`. Failures are printed as `energymesh: …` and returned as `ok: false`.
 */
import { loadConfig } from '../config/config-loader.ts';
import { readConfigFile } from '../config/config-file.ts';
import { errorMessage } from '../errors.ts';
import type { CliIo } from '../contributions.ts';

export interface ApiTarget {
  url?: string;
  config?: string;
  token?: string;
}

export type ApiResult = { ok: true; json: unknown } | { ok: false };

export async function callApi(target: ApiTarget, io: Pick<CliIo, 'err'>, method: string, path: string, body?: unknown): Promise<ApiResult> {
  try {
    let base = target.url;
    if (!base) {
      if (!target.config) throw new Error('give --url or --config');
      const api = loadConfig(readConfigFile(target.config)).core.api;
      base = `http://${api.host.includes(':') ? `[${api.host}]` : api.host}:${api.port}`;
    }
    const res = await fetch(`${base.replace(/\/$/, '')}${path}`, {
      method,
      headers: { ...(target.token ? { authorization: `Bearer ${target.token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const json: unknown = (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
    if (!res.ok) {
      const err = (json as { error?: { message?: string } } | undefined)?.error;
      io.err(`energymesh: ${res.status}: ${err?.message ?? text}`);
      return { ok: false };
    }
    return { ok: true, json };
  } catch (e) {
    io.err(`energymesh: ${errorMessage(e)}${(e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED' ? ' (is EnergyMesh running? --url)' : ''}`);
    return { ok: false };
  }
}

/** `callApi`, then `print` the answer; resolves to the command's exit code (0, or 1 on failure). */
export async function runApiCommand(target: ApiTarget, io: Pick<CliIo, 'err'>, method: string, path: string, body: unknown, print: (json: unknown) => void): Promise<number> {
  const r = await callApi(target, io, method, path, body);
  if (!r.ok) return 1;
  print(r.json);
  return 0;
}
