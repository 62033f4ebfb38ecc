/**
 * The Kafka bus's options (the plugin's `config` section, validated against config.schema.json with its
 * defaults applied) and the kafkajs client settings derived from them.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

import type { ISocketFactory, KafkaConfig, LogEntry, SASLOptions, logCreator } from 'kafkajs';
import { logLevel } from 'kafkajs';

import { EnergyMeshError } from '../../core/errors.ts';
import type { Logger } from '../../core/logging/logger.ts';
import type { FsyncPolicy } from '../../core/bus/durable-log.ts';

export interface KafkaTlsOptions {
  /** PEM text of the CA(s) to trust (default: the system's). */
  ca?: string;
  /** PEM client certificate and key, for mutual TLS. */
  cert?: string;
  key?: string;
  passphrase?: string;
  servername?: string;
  /** Default true; false only for test brokers. */
  rejectUnauthorized?: boolean;
}

export interface KafkaSaslOptions {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface KafkaBusConfig {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  clientId: string;
  /** true: TLS with the system CAs; an object: TLS with these settings. */
  tls?: boolean | KafkaTlsOptions;
  sasl?: KafkaSaslOptions;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  /**
   * Rewrites broker addresses before connecting: `{"advertised-host:port": "reachable-host:port"}`. For
   * brokers reached through a tunnel or port-forward whose advertised listeners are not reachable here.
   */
  addressMap: Record<string, string>;
  producer: {
    /** 'all': every in-sync replica (acks=-1); 'leader': the partition leader only (acks=1). */
    acks: 'all' | 'leader';
    compression: 'none' | 'gzip';
    /** Records per produce request (the forwarder's batch). */
    batchSize: number;
    /** Wait this long for a batch to fill when fewer than batchSize records are waiting. */
    lingerMs: number;
    /** Largest record value accepted by publish() (bytes of JSON); larger ones are refused at once. */
    maxRecordBytes: number;
    /** Kafka's idempotent producer (needs a broker that supports it; off by default). */
    idempotent: boolean;
    /** Produce request timeout on the broker side. */
    timeoutMs: number;
  };
  spool: {
    /** Default `<dataDir>/kafka-spool`. */
    dir?: string;
    maxBytes: number;
    maxAgeMs: number;
    whenFull: 'drop-oldest' | 'reject';
    fsync: FsyncPolicy;
    fsyncIntervalMs: number;
    segmentBytes: number;
    memoryRecords: number;
    /** health() reports `spooling` when more records than this wait (or the broker is unreachable). */
    warnRecords: number;
  };
  consumer: {
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    rebalanceTimeoutMs: number;
    /** health() reports `lagging` when a subscription is more than this many records behind. */
    lagWarnRecords: number;
    maxBytesPerPartition: number;
    /**
     * Longest a fetch waits on the broker for new records. A broker answers as soon as records arrive, but
     * librdkafka's mock cluster waits the whole time, so this bounds the delivery latency there.
     */
    maxWaitMs: number;
  };
  deadLetter: {
    enabled: boolean;
    /** Check records of the telemetry topic against schemas/telemetry-record.schema.json. */
    validateTelemetry: boolean;
  };
  /** Back-off of the forwarder, of failed handlers and of reconnects: doubles from initialMs up to maxMs. */
  retry: { initialMs: number; maxMs: number };
}

/** Defaults, the same as in config.schema.json (for programmatic use without the config loader). */
export function withDefaults(partial: Partial<KafkaBusConfig> & { brokers: string[] }): KafkaBusConfig {
  return {
    clientId: 'energymesh',
    connectionTimeoutMs: 3000,
    requestTimeoutMs: 30_000,
    addressMap: {},
    ...partial,
    producer: {
      acks: 'all',
      compression: 'none',
      batchSize: 1000,
      lingerMs: 2,
      maxRecordBytes: 1_000_000,
      idempotent: false,
      timeoutMs: 30_000,
      ...partial.producer,
    },
    spool: {
      maxBytes: 1024 * 1024 * 1024,
      maxAgeMs: 7 * 24 * 3600 * 1000,
      whenFull: 'drop-oldest',
      fsync: 'interval',
      fsyncIntervalMs: 200,
      segmentBytes: 16 * 1024 * 1024,
      memoryRecords: 200_000,
      warnRecords: 50_000,
      ...partial.spool,
    },
    consumer: {
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3000,
      rebalanceTimeoutMs: 60_000,
      lagWarnRecords: 10_000,
      maxBytesPerPartition: 1024 * 1024,
      maxWaitMs: 100,
      ...partial.consumer,
    },
    deadLetter: { enabled: true, validateTelemetry: true, ...partial.deadLetter },
    retry: { initialMs: 200, maxMs: 10_000, ...partial.retry },
  };
}

/**
 * kafkajs client settings: brokers, TLS, SASL, timeouts, our logger, and the address map. With `inspect`
 * the client logs at debug level and every kafkajs log entry goes through `inspect` first (which may throw
 * into kafkajs: see fetch-loop-guard.ts); entries reach our logger only when its level enables them.
 */
export function kafkaClientConfig(config: KafkaBusConfig, logger: Logger, inspect?: (entry: LogEntry) => void): KafkaConfig {
  if (!Array.isArray(config.brokers) || config.brokers.length === 0) {
    throw new EnergyMeshError('CONFIG_INVALID', 'bus.kafka: brokers must name at least one host:port');
  }
  const ssl: tls.ConnectionOptions | undefined =
    config.tls === true ? {} : config.tls ? { ...config.tls, rejectUnauthorized: config.tls.rejectUnauthorized ?? true } : undefined;
  const sasl: SASLOptions | undefined = config.sasl
    ? { mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions
    : undefined;
  return {
    brokers: config.brokers,
    clientId: config.clientId,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
    // kafkajs' own retries stay short: the forwarder and the consumer supervisor retry with our back-off.
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    socketFactory: socketFactory(config.addressMap),
    logLevel: inspect === undefined ? logLevel.WARN : logLevel.DEBUG,
    logCreator: kafkaLogCreator(logger, inspect),
  };
}

function socketFactory(addressMap: Record<string, string>): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    let h = host;
    let p = port;
    const mapped = addressMap[`${host}:${port}`];
    if (mapped !== undefined) {
      const i = mapped.lastIndexOf(':');
      h = mapped.slice(0, i);
      p = Number(mapped.slice(i + 1));
    }
    const socket = ssl ? tls.connect({ ...ssl, host: h, port: p, servername: ssl.servername ?? host }, onConnect) : net.connect({ host: h, port: p }, onConnect);
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
    return socket;
  };
}

/** Routes kafkajs' log lines into our logger (its connection errors during an outage at debug: we report them ourselves). */
function kafkaLogCreator(logger: Logger, inspect?: (entry: LogEntry) => void): logCreator {
  const log = logger.child({ component: 'kafkajs' });
  return () => (e: LogEntry) => {
    inspect?.(e);
    if (e.level > logLevel.WARN && !log.isLevelEnabled('debug')) return;
    const { message, ...rest } = e.log;
    log.debug({ ...rest, kafkajsLevel: e.level, kafkajsNamespace: e.namespace }, `kafkajs: ${String(message)}`);
  };
}
