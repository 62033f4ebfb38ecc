import { strict as assert } from 'node:assert';
import { isEnergyMeshError } from '../../../core/errors.ts';
import { loadSclFile, parseScl } from './scl.ts';
import { doTypeForFc, fcdaItem, lnType, typeAt } from './ied-model.ts';
import { parseXml } from './xml.ts';
import { decodeConversation } from '../testing/conversation.ts';
import { readPcap, tpktsFromPcap } from '../testing/pcap.ts';
import type { TypeSpec } from '../codec/mms-data.ts';

const VECTORS = new URL('../../../../shared/vectors/iec61850/', import.meta.url).pathname;

function capturedType(file: string, n: number): TypeSpec {
  const m = decodeConversation(tpktsFromPcap(readPcap(`${VECTORS}${file}.pcap`)))[n - 1]?.mms;
  assert.ok(m?.kind === 'confirmed-response' && m.response.service === 'getVariableAccessAttributes');
  return m.response.typeSpec;
}

describe('SCL import', () => {
  it('loads the basic_io CID into the model capture 04 shows (types equal field for field)', () => {
    const scl = loadSclFile(`${VECTORS}scl/simpleIO_direct_control.cid`);
    assert.deepEqual(scl.iedNames, ['simpleIO']);
    assert.equal(scl.addresses[0]?.params['OSI-PSEL'], '00000001');
    const model = scl.model('simpleIO');
    const ld = model.logicalDevices[0];
    assert.equal(ld?.name, 'simpleIOGenericIO');
    assert.deepEqual(ld?.logicalNodes.map((l) => l.name), ['LLN0', 'LPHD1', 'GGIO1']);
    const ggio = ld?.logicalNodes[2];
    assert.ok(ggio);
    // whole LN type (msg 10), AnIn1 (msg 6) and SPCSO1 Oper (msg 8) as libiec61850 describes them
    assert.deepEqual(lnType(ggio), capturedType('04_type_description', 10));
    assert.deepEqual(typeAt(lnType(ggio), ['MX', 'AnIn1']), capturedType('04_type_description', 6));
    assert.deepEqual(typeAt(lnType(ggio), ['CO', 'SPCSO1', 'Oper']), capturedType('04_type_description', 8));
    const lln0 = ld?.logicalNodes[0];
    assert.deepEqual(lln0?.dataSets.map((d) => [d.name, d.members.map(fcdaItem)]).slice(0, 1), [['Events', ['GGIO1$ST$SPCSO1$stVal', 'GGIO1$ST$SPCSO2$stVal', 'GGIO1$ST$SPCSO3$stVal', 'GGIO1$ST$SPCSO4$stVal']]]);
    assert.equal(fcdaItem(lln0?.dataSets[2]?.members[0] as never), 'GGIO1$MX$AnIn1$mag$f');
    const brcb = lln0?.reportControls.find((r) => r.name === 'Measurements');
    assert.deepEqual(brcb && [brcb.buffered, brcb.max, brcb.rptId, brcb.datSet, brcb.indexed], [true, 3, 'Measurements', 'Measurements', true]);
    assert.deepEqual(brcb?.optFields, ['seqNum', 'timeStamp', 'reasonCode', 'dataSet', 'entryId', 'confRev']);
    const nam = lln0?.dataObjects.find((d) => d.name === 'NamPlt')?.attributes.find((a) => a.name === 'vendor');
    assert.deepEqual(nam?.value, { type: 'visible-string', value: 'MZ Automation' });
  });

  it('loads the control CID: ctlModels as enum ordinals and the SBO/SBOw/Cancel structures of capture 09/10', () => {
    const ggio = loadSclFile(`${VECTORS}scl/simpleIO_control_tests.cid`).model().logicalDevices[0]?.logicalNodes.find((l) => l.name === 'GGIO1');
    assert.ok(ggio);
    const ctl = (n: string): unknown => ggio.dataObjects.find((d) => d.name === n)?.attributes.find((a) => a.name === 'ctlModel')?.value;
    assert.deepEqual(['SPCSO1', 'SPCSO2', 'SPCSO3', 'SPCSO4', 'SPCSO9'].map((n) => (ctl(n) as { value: number }).value), [1, 2, 3, 4, 3]);
    const co = (n: string): TypeSpec | undefined => doTypeForFc(ggio.dataObjects.find((d) => d.name === n) as never, 'CO');
    assert.deepEqual(co('SPCSO2'), capturedType('09_control_normal', 16));
    assert.deepEqual(co('SPCSO4'), capturedType('10_control_enhanced', 15));
  });

  it('loads GSEControls and GSE addresses of the GOOSE CID', () => {
    const scl = loadSclFile(`${VECTORS}scl/simpleIO_direct_control_goose.cid`);
    const lln0 = scl.model().logicalDevices[0]?.logicalNodes[0];
    assert.deepEqual(lln0?.gseControls.map((g) => [g.name, g.appId, g.datSet, g.confRev]), [['gcbEvents', 'events', 'Events3', 2], ['gcbAnalogValues', 'analog', 'AnalogValues', 2]]);
    assert.equal(scl.gse.length, 2);
    assert.ok(scl.gse[0]?.params['MAC-Address']);
  });

  it('refuses broken SCL with CONFIG_INVALID naming the line', () => {
    assert.throws(() => parseScl('<SCL><IED name="x"></SCL>'), (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID') && /line 1/.test(e.message));
    assert.throws(() => parseScl('<NotScl/>'), (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID'));
    const bad = '<SCL><IED name="x"><AccessPoint name="a"><Server><LDevice inst="LD"><LN0 lnClass="LLN0" lnType="missing" inst=""/></LDevice></Server></AccessPoint></IED></SCL>';
    assert.throws(() => parseScl(bad).model(), (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID') && /LNodeType missing/.test(e.message));
    assert.throws(() => parseScl(bad).model('other'), (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID'));
  });

  it('parses XML entities, comments, CDATA and namespace prefixes', () => {
    const x = parseXml('<?xml version="1.0"?>\n<!-- c --><scl:SCL xmlns:scl="u" a=\'1 &amp; 2\'><v>&lt;&#65;&#x42;<![CDATA[<raw>]]></v><e/></scl:SCL>');
    assert.equal(x.name, 'SCL');
    assert.equal(x.attributes['a'], '1 & 2');
    assert.equal(x.children[0]?.text, '<AB<raw>');
    assert.equal(x.children[1]?.name, 'e');
    assert.throws(() => parseXml('<a><b></a>'), (e: unknown) => isEnergyMeshError(e, 'CONFIG_INVALID'));
  });
});
