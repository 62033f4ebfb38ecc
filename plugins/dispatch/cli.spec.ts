import assert from 'node:assert/strict';
import { parseSetpoint, publishBody } from './cli.ts';

describe('dispatch CLI', () => {
  it('parses setpoints with typed values and an optional restore value', () => {
    assert.deepEqual(parseSetpoint('house-1,battery-1,storage.OutWRte,80'), { meter: 'house-1', deviceId: 'battery-1', pointId: 'storage.OutWRte', value: 80 });
    assert.deepEqual(parseSetpoint('house-1,pv-1,controls.WMaxLim_Ena,true,false'), { meter: 'house-1', deviceId: 'pv-1', pointId: 'controls.WMaxLim_Ena', value: true, restore: false });
    assert.throws(() => parseSetpoint('house-1,battery-1,80'), /METER,DEVICE,POINT,VALUE/);
  });

  it('builds the publish body, grouping setpoints under their meter and deriving the end from --minutes', () => {
    const body = publishBody({
      area: 'north',
      start: '2026-11-24T17:00:00Z',
      minutes: '30',
      direction: 'up',
      targetKw: '5',
      reward: '0.5',
      pool: '100',
      meter: ['house-2'],
      setpoint: ['house-1,battery-1,storage.OutWRte,80', 'house-1,battery-1,storage.StorCtl_Mod,2'],
    });
    assert.deepEqual(body, {
      area: 'north',
      start: '2026-11-24T17:00:00.000Z',
      end: '2026-11-24T17:30:00.000Z',
      direction: 'up',
      targetKw: 5,
      rewardEbPerKwh: '0.5',
      poolEb: '100',
      meters: [
        { meter: 'house-2', setpoints: [] },
        {
          meter: 'house-1',
          setpoints: [
            { deviceId: 'battery-1', pointId: 'storage.OutWRte', value: 80 },
            { deviceId: 'battery-1', pointId: 'storage.StorCtl_Mod', value: 2 },
          ],
        },
      ],
    });
    assert.throws(() => publishBody({ area: 'a', start: 'soon', direction: 'up', targetKw: '1', reward: '1', pool: '1' }), /not an ISO 8601 time/);
    assert.throws(() => publishBody({ area: 'a', start: '2026-11-24T17:00:00Z', direction: 'up', targetKw: '1', reward: '1', pool: '1' }), /--end or --minutes/);
  });
});
