import assert from 'node:assert/strict';
import { pointIdFromPath, trustHint } from './opcua-device.ts';

describe('protocol.opcua device helpers', () => {
  it('turns browse paths into valid point ids', () => {
    assert.equal(pointIdFromPath('PV1/ActivePower'), 'PV1/ActivePower');
    assert.equal(pointIdFromPath('Feeder 1/Breaker (closed)'), 'Feeder_1/Breaker__closed_');
    assert.equal(pointIdFromPath('_hidden/x'), 'hidden/x');
    assert.equal(pointIdFromPath('***'), 'point');
    assert.match(pointIdFromPath('a'.repeat(300)), /^a{128}$/);
  });

  it('names the CLI command and the API route that trust a certificate', () => {
    const hint = trustHint('518f102593dc45c00b32c0c5bc597051f09d0a97');
    assert.ok(hint.includes('energymesh opcua certs trust 518f102593dc45c00b32c0c5bc597051f09d0a97'));
    assert.ok(hint.includes('POST /api/v1/plugins/protocol.opcua/certs/518f102593dc45c00b32c0c5bc597051f09d0a97/trust'));
  });
});
