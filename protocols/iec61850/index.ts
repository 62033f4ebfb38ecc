/**
 * IEC 61850 (MMS mapping, IEC 61850-8-1): the public API of protocols/iec61850. See README.md.
 */
export { MmsClient, type MmsClientOptions, type NegotiatedParameters } from './client/mms-client.ts';
export {
  Iec61850Client, toObjectName, coerce, lnFromType, CTL_MODELS,
  type ControlModel, type ControlOptions, type ControlResult, type EnableReportingOptions, type LastApplError, type RcbValues,
  type ReceivedReport, type ReportSubscription,
} from './client/iec61850-client.ts';
export { MmsServer, MmsServerConnection, MmsServiceError, type MmsServerHandler, type MmsServerOptions } from './server/mms-server.ts';
export { IedServer, type IedServerOptions } from './simulator/ied-server.ts';
export { parseScl, loadSclFile, basicType, type SclFile } from './model/scl.ts';
export * from './model/ied-model.ts';
export { decodeGooseFrame, encodeGooseFrame, GooseSubscriber, type GooseMessage, type GooseEvent } from './codec/goose.ts';
export { decodeQuality, encodeQuality, decodeTimeQuality, parseReport, type Quality61850, type Report, type ReasonCode } from './codec/report.ts';
export type { MmsData, AccessResult, TypeSpec, UtcTime, BinaryTime } from './codec/mms-data.ts';
export { utcTimeToMs, utcTimeFromMs, binaryTimeToMs, binaryTimeFromMs, DataAccessError } from './codec/mms-data.ts';
export type { MmsPdu, ObjectName, ConfirmedRequest, ConfirmedResponse, InformationReport } from './codec/mms-pdu.ts';
export { Iec61850Driver, mapQuality, type Iec61850DeviceConfig } from './driver/iec61850-driver.ts';
export { connectTcp, memoryChannelPair, type ByteChannel } from './transport/byte-channel.ts';
export { readPcap, gooseFrames, replayGoosePcap, type PcapRecord } from './transport/pcap-file.ts';
