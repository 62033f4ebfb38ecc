/**
 * The historian's TelemetrySink: writes telemetry to InfluxDB 2.x/3.x (or anything speaking its v2 write
 * API, such as VictoriaMetrics) as line protocol through @influxdata/influxdb-client.
 *
 * Delivery: the kernel feeds the sink from the telemetry topic in its own consumer group
 * (`sink.historian.influx`), commits the group's position only after write() resolves, and delivers the
 * same batch again when write() rejects. So the historian's "spool" is the bus itself: while the database
 * is down the records stay in the bus (the embedded durable log, or Kafka) behind the group's committed
 * position, and a restart resumes there. write() therefore rejects whenever any line was not accepted —
 * it never keeps records in memory to retry "later", where a crash would lose them. The client's own
 * background retry buffer is disabled for that reason; write() retries a few times itself and then rejects.
 * A redelivered batch rewrites the same points (same series, same timestamp): idempotent.
 *
 * Error policy: 4xx answers other than 429 (bad token, unknown bucket, malformed line) are not retried
 * within write(); they reject at once (the bus retries with its back-off, and plugin health says why).
 */
import { InfluxDB } from '@influxdata/influxdb-client';
import type { WriteApi } from '@influxdata/influxdb-client';

import type { TelemetrySink } from '../../core/contributions.ts';
import { EnergyMeshError, errorMessage } from '../../core/errors.ts';
import type { Logger } from '../../core/logging/logger.ts';
import type { TelemetryRecord } from '../../core/model/telemetry.ts';
import { toLine } from './line-protocol.ts';

export interface InfluxHistorianConfig {
  url: string;
  token?: string;
  org: string;
  bucket: string;
  measurement: string;
  tags: Record<string, string>;
  /** Lines per HTTP write. */
  batchSize: number;
  timeoutMs: number;
  /** Attempts within one write() call before it rejects. */
  attempts: number;
  retryInitialMs: number;
  /** Bodies larger than this are gzipped. */
  gzipThreshold: number;
}

export class InfluxSink implements TelemetrySink {
  readonly id = 'historian.influx';
  private readonly writeApi: WriteApi;
  written = 0;
  failures = 0;

  constructor(
    private readonly config: InfluxHistorianConfig,
    private readonly logger: Logger,
  ) {
    const influx = new InfluxDB({ url: config.url, ...(config.token ? { token: config.token } : {}), timeout: config.timeoutMs });
    this.writeApi = influx.getWriteApi(config.org, config.bucket, 'ms', {
      // Only our flush() sends, so every send's outcome reaches write().
      // (write() hands it at most batchSize lines per flush, so its own batching never triggers).
      batchSize: config.batchSize + 1,
      maxBatchBytes: 1024 * 1024 * 1024,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: config.batchSize + 1,
      gzipThreshold: config.gzipThreshold,
      writeFailed: (error: Error) => Promise.reject(error),
    });
  }

  async write(records: readonly TelemetryRecord[]): Promise<void> {
    const lines = new Array<string>(records.length);
    for (let i = 0; i < records.length; i++) lines[i] = toLine(records[i] as TelemetryRecord, { measurement: this.config.measurement, staticTags: this.config.tags });
    for (let start = 0; start < lines.length; start += this.config.batchSize) {
      await this.send(lines.slice(start, start + this.config.batchSize));
    }
    this.written += records.length;
  }

  private async send(lines: string[]): Promise<void> {
    let delay = this.config.retryInitialMs;
    for (let attempt = 1; ; attempt++) {
      try {
        this.writeApi.writeRecords(lines);
        await this.writeApi.flush();
        return;
      } catch (e) {
        this.failures++;
        const status = statusOf(e);
        const retriable = status === undefined || status === 429 || status >= 500;
        if (!retriable || attempt >= this.config.attempts) {
          throw new EnergyMeshError(status === 401 || status === 403 ? 'UNAUTHORIZED' : 'CONNECTION_REFUSED', `InfluxDB write to ${this.config.url} (bucket ${this.config.bucket}) failed: ${errorMessage(e)}`, {
            retriable,
            details: { url: this.config.url, bucket: this.config.bucket, lines: lines.length, attempts: attempt, ...(status !== undefined ? { status } : {}) },
            cause: e,
          });
        }
        this.logger.debug({ err: errorMessage(e), attempt, delayMs: delay }, 'historian: write failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  async close(): Promise<void> {
    await this.writeApi.close().catch(() => undefined);
  }
}

function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' && s > 0 ? s : undefined;
}
