/**
 * DNP3 (IEEE 1815-2012) for EnergyMesh: codec, link/transport sessions, master and outstation.
 * No dependency on the EnergyMesh core except its error model.
 */
export * from './codec/app-header.ts';
export * from './codec/apdu.ts';
export * from './codec/crc.ts';
export * from './codec/link-frame.ts';
export * from './codec/link-parser.ts';
export * from './codec/object-header.ts';
export * from './codec/object-library.ts';
export * from './codec/requests.ts';
export * from './codec/transport.ts';
export * from './session/channel.ts';
export * from './session/link-layer.ts';
export * from './session/transport-layer.ts';
export * from './master/measurements.ts';
export * from './master/master-session.ts';
export * from './master/master.ts';
export * from './outstation/database.ts';
export * from './outstation/outstation.ts';
export * from './simulator/simulator-config.ts';
export * from './simulator/simulator.ts';
export type { Disposable, Event } from './util/emitter.ts';
