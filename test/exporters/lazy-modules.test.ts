/**
 * What a sensor in a pod loads: JSON logs and an OTLP exporter whose gateway reports no partial success need
 * neither pino-pretty nor the OpenTelemetry transformer (with the SDK packages it pulls in, about 4 MB of heap on
 * every node). Run in a fresh node on the built code, where require.cache shows what was really loaded.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const dist = path.resolve(__dirname, '../../dist/sensor');

function loadedAfter(steps: string): Record<string, boolean> {
  const script = `
    const { OtlpHttpExporter } = require(${JSON.stringify(`${dist}/exporters/otlp-http-exporter`)});
    const { createLogger } = require(${JSON.stringify(`${dist}/common/logger`)});
    const loaded = (name) => Object.keys(require.cache).some((file) => file.includes('/node_modules/' + name + '/'));
    (async () => {
      ${steps}
      console.log(JSON.stringify({ transformer: loaded('@opentelemetry/otlp-transformer'), pretty: loaded('pino-pretty') }));
    })();`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

test('a sensor with JSON logs that ships OTLP loads neither the text log formatter nor the OTLP transformer', () => {
  expect(
    loadedAfter(`
      createLogger({ format: 'json' }).info('a line');
      new OtlpHttpExporter({ endpoint: 'http://127.0.0.1:9/v1/traces' });`),
  ).toEqual({ transformer: false, pretty: false });
});

test('each is loaded when it is needed: text logs, and a response that reports a partial success', () => {
  expect(
    loadedAfter(`
      createLogger({ format: 'text', isTerminal: false });
      const exporter = new OtlpHttpExporter({ endpoint: 'http://127.0.0.1:9/v1/traces' });
      // ExportTraceServiceResponse { partial_success { rejected_spans: 2 } }, as a receiver would send it.
      const rejected = exporter.readPartialSuccess(Buffer.from([0x0a, 0x02, 0x08, 0x02]), 3);
      if (rejected !== 2) throw new Error('partial success read as ' + rejected);`),
  ).toEqual({ transformer: true, pretty: true });
});
