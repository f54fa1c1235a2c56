import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OtlpFileExporter } from '../../sensor/exporters/otlp-file-exporter';
import { otlpSpansOf } from './otlp-json';
import { genAiSpan } from './span-fixture';

describe('OtlpFileExporter', () => {
  it('appends one OTLP/JSON ExportTraceServiceRequest per line with hex ids and KeyValue attributes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-file-'));
    try {
      const file = path.join(dir, 'nested', 'spans.jsonl');
      const exporter = new OtlpFileExporter(file);
      const span = genAiSpan({ index: 3, inputTokens: 11, outputTokens: 4, errorType: 'AccessDeniedException', statusCode: 403, extraAttributes: { 'gen_ai.response.finish_reasons': ['stop', 'length'] } });
      await exporter.export([span]);
      await exporter.export([genAiSpan({ index: 4 }), genAiSpan({ index: 5 })]);

      const lines = fs.readFileSync(file, 'utf8').split('\n');
      expect(lines.pop()).toBe('');
      expect(lines).toHaveLength(2);
      const requests = lines.map((line) => JSON.parse(line));
      const resourceSpans = requests[0].resourceSpans[0];
      expect(resourceSpans.resource.attributes).toContainEqual({ key: 'k8s.pod.name', value: { stringValue: 'checkout-7d9f-abcde' } });
      expect(resourceSpans.resource.attributes).toContainEqual({ key: 'process.pid', value: { intValue: 4242 } });
      const otlpSpan = resourceSpans.scopeSpans[0].spans[0];
      expect(resourceSpans.scopeSpans[0].scope.name).toBe('sightline');
      expect(otlpSpan.traceId).toBe(span.traceId);
      expect(otlpSpan.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(otlpSpan.spanId).toBe(span.spanId);
      expect(otlpSpan.kind).toBe(3);
      expect(String(otlpSpan.startTimeUnixNano)).toBe(span.startTimeUnixNano.toString());
      expect(String(otlpSpan.endTimeUnixNano)).toBe(span.endTimeUnixNano.toString());
      expect(otlpSpan.status).toEqual({ code: 2, message: 'AccessDeniedException' });
      expect(otlpSpan.attributes).toContainEqual({ key: 'gen_ai.usage.input_tokens', value: { intValue: 11 } });
      expect(otlpSpan.attributes).toContainEqual({ key: 'error.type', value: { stringValue: 'AccessDeniedException' } });
      expect(otlpSpan.attributes).toContainEqual({
        key: 'gen_ai.response.finish_reasons',
        value: { arrayValue: { values: [{ stringValue: 'stop' }, { stringValue: 'length' }] } },
      });
      // One request per batch; each span may come under its own resource entry, as OTLP allows.
      expect(otlpSpansOf(requests[1]).map((s) => s.spanId)).toEqual([genAiSpan({ index: 4 }).spanId, genAiSpan({ index: 5 }).spanId]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
