/**
 * IEC 61850 benchmarks: `npx tsx bench/iec61850.bench.ts` (or `npm run bench -- iec61850`).
 *  1. codec: decode rate of the vector TPKTs (COTP → session → presentation → MMS) and of the report PDUs
 *     (incl. report parsing), and the encode rate of the same PDUs.
 *  2. reports: one process with N simulated IEDs (default 50, env IEC61850_BENCH_IEDS), each a BRCB over a
 *     50-member data set whose values all change every 100 ms; this process runs one client association per IED
 *     and counts the values received for IEC61850_BENCH_SECONDS (default 10): values/s, client CPU, RSS.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Iec61850Client } from '../protocols/iec61850/client/iec61850-client.ts';
import { decodeCotp, decodeTpkt } from '../protocols/iec61850/codec/cotp.ts';
import { decodeUpper, encodeData } from '../protocols/iec61850/codec/iso-stack.ts';
import { decodeMmsPdu, encodeMmsPdu } from '../protocols/iec61850/codec/mms-pdu.ts';
import type { MmsPdu } from '../protocols/iec61850/codec/mms-pdu.ts';
import { isReport, parseReport } from '../protocols/iec61850/codec/report.ts';
import { parseScl } from '../protocols/iec61850/model/scl.ts';
import { IedServer } from '../protocols/iec61850/simulator/ied-server.ts';
import { readVectorText } from '../protocols/iec61850/testing/pcap.ts';

const VECTORS = new URL('../../shared/vectors/iec61850/', import.meta.url).pathname;
const MEMBERS = 50;

function rate(fn: () => number, ms = 1500): number {
  let n = 0;
  const end = performance.now() + ms;
  let t = performance.now();
  const start = t;
  while (t < end) {
    n += fn();
    t = performance.now();
  }
  return Math.round((n * 1000) / (t - start));
}

function codecBench(): Record<string, number> {
  const tpkts: Uint8Array[] = [];
  for (const f of readdirSync(VECTORS).filter((n) => n.endsWith('.pcap.txt') && !n.startsWith('13') && !n.startsWith('14') && !n.startsWith('12'))) {
    for (const m of readVectorText(`${VECTORS}${f}`)) tpkts.push(m.bytes);
  }
  const dataTpkts = tpkts.filter((t) => {
    const c = decodeCotp(decodeTpkt(t));
    return c.type === 'DT' && decodeUpper(c.data).type === 'data';
  });
  const pdus: MmsPdu[] = dataTpkts.map((t) => {
    const c = decodeCotp(decodeTpkt(t));
    const u = c.type === 'DT' ? decodeUpper(c.data) : undefined;
    return decodeMmsPdu(u && u.type === 'data' ? u.mms : new Uint8Array());
  });
  const reports = dataTpkts.filter((_, i) => {
    const p = pdus[i];
    return p?.kind === 'information-report' && isReport(p.report);
  });
  const decodeAll = (list: Uint8Array[]) => (): number => {
    for (const t of list) {
      const c = decodeCotp(decodeTpkt(t));
      if (c.type !== 'DT') continue;
      const u = decodeUpper(c.data);
      if (u.type !== 'data') continue;
      const p = decodeMmsPdu(u.mms);
      if (p.kind === 'information-report' && isReport(p.report)) parseReport(p.report.results);
    }
    return list.length;
  };
  return {
    tpdusDecodedPerSecond: rate(decodeAll(dataTpkts)),
    reportsDecodedPerSecond: rate(decodeAll(reports)),
    pdusEncodedPerSecond: rate(() => {
      for (const p of pdus) encodeData(encodeMmsPdu(p));
      return pdus.length;
    }),
    vectorPdus: dataTpkts.length,
    vectorReports: reports.length,
  };
}

/** SCL of an IED with GGIO1.AnIn1..50 and a BRCB over their mag.f. */
function benchScl(name: string): string {
  const dos = Array.from({ length: MEMBERS }, (_, i) => `<DO name="AnIn${i + 1}" type="MV"/>`).join('');
  const fcdas = Array.from({ length: MEMBERS }, (_, i) => `<FCDA ldInst="LD" lnClass="GGIO" lnInst="1" fc="MX" doName="AnIn${i + 1}" daName="mag.f"/>`).join('');
  return `<?xml version="1.0"?><SCL xmlns="http://www.iec.ch/61850/2003/SCL"><IED name="${name}"><AccessPoint name="AP"><Server><LDevice inst="LD">
<LN0 lnClass="LLN0" lnType="LLN0T" inst=""><DataSet name="Meas">${fcdas}</DataSet>
<ReportControl name="MeasBRCB" confRev="1" datSet="Meas" rptID="Meas" buffered="true" intgPd="0" bufTime="50"><TrgOps dchg="true"/><OptFields seqNum="true" timeStamp="true" dataSet="true" reasonCode="true" entryID="true" configRef="true"/><RptEnabled max="1"/></ReportControl></LN0>
<LN lnClass="GGIO" lnType="GGIOT" inst="1" prefix=""/></LDevice></Server></AccessPoint></IED>
<DataTypeTemplates><LNodeType id="LLN0T" lnClass="LLN0"><DO name="Mod" type="INC"/></LNodeType><LNodeType id="GGIOT" lnClass="GGIO">${dos}</LNodeType>
<DOType id="INC" cdc="INC"><DA name="stVal" bType="INT32" fc="ST"/></DOType>
<DOType id="MV" cdc="MV"><DA name="mag" type="AV" bType="Struct" fc="MX" dchg="true"/><DA name="q" bType="Quality" fc="MX" qchg="true"/><DA name="t" bType="Timestamp" fc="MX"/></DOType>
<DAType id="AV"><BDA name="f" bType="FLOAT32"/></DAType></DataTypeTemplates></SCL>`;
}

/** Child mode: serve N IEDs, print their ports, run until killed. */
async function serve(n: number): Promise<void> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const server = new IedServer({ model: parseScl(benchScl(`IED${i}`)).model(), updateIntervalMs: 100, bufferSize: 100 });
    ports.push(await server.listen(0, '127.0.0.1'));
  }
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  await new Promise(() => undefined);
}

async function reportsBench(ieds: number, seconds: number): Promise<Record<string, number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', String(ieds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const ports = await new Promise<number[]>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (b: Buffer) => {
        buf += b.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as number[]);
      });
      child.once('exit', () => reject(new Error('simulator process ended')));
    });
    const clients = await Promise.all(ports.map((p) => Iec61850Client.connect('127.0.0.1', p, { requestTimeoutMs: 10_000 })));
    let values = 0;
    let reports = 0;
    let counting = false;
    await Promise.all(clients.map((c, i) => c.enableReporting(`IED${i}LD/LLN0.BR.MeasBRCB01`, { purgeBuf: true, trgOps: ['dchg'] }, (r) => {
      if (!counting) return;
      reports++;
      values += r.entries.length;
    })));
    await new Promise((r) => setTimeout(r, 1000));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let peakRss = 0;
    counting = true;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 200);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    counting = false;
    clearInterval(sampler);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    for (const c of clients) c.mms.abort();
    return {
      ieds,
      membersPerDataSet: MEMBERS,
      targetValuesPerSecond: ieds * MEMBERS * 10,
      valuesPerSecond: Math.round(values / elapsed),
      reportsPerSecond: Math.round(reports / elapsed),
      clientCpuCores: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100) / 100,
      clientPeakRssMB: Math.round(peakRss / 1048576),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

export async function run(): Promise<void> {
  const codec = codecBench();
  console.log(`iec61850 codec: ${codec.tpdusDecodedPerSecond} MMS TPKTs/s decoded, ${codec.reportsDecodedPerSecond} reports/s decoded+parsed, ${codec.pdusEncodedPerSecond} PDUs/s encoded (${codec.vectorPdus} vector PDUs, ${codec.vectorReports} reports)`);
  console.log(JSON.stringify(codec));
  const ieds = Number(process.env.IEC61850_BENCH_IEDS ?? 50);
  const seconds = Number(process.env.IEC61850_BENCH_SECONDS ?? 10);
  const rep = await reportsBench(ieds, seconds);
  console.log(`iec61850 reports: ${rep.valuesPerSecond} values/s (${rep.reportsPerSecond} reports/s) of ${rep.targetValuesPerSecond} target from ${ieds} IEDs × ${MEMBERS}-member BRCB every 100 ms; client CPU ${rep.clientCpuCores} cores, peak RSS ${rep.clientPeakRssMB} MB (simulators in a separate process)`);
  console.log(JSON.stringify(rep));
}

if (process.argv.includes('--serve')) {
  void serve(Number(process.argv[process.argv.indexOf('--serve') + 1] ?? 1));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
