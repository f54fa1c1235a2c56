/**
 * A TLS library that no exec announced and no start-up scan could see: python3 imports `ssl` seconds after it
 * started, and its loader takes libssl from a folder outside the host library folders. Only the periodic rescan
 * of /proc finds it; the test proves it does, and that the calls made through it are captured. Real kernel.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { generateTestCertificates } from '../../sensor/demo/test-ca';
import { CaptureHarness } from '../support/capture-harness';
import { startRecordingTlsServer, type RecordingTlsServer } from '../support/recording-tls-server';

const LATE_CLIENT = `
import os, sys, time
print("started", flush=True)
time.sleep(float(sys.argv[3]))
import ssl, urllib.request
print("loaded", flush=True)
# Calls made before the next rescan attaches are not seen (that is the rescan's bound), so wait for it.
sys.stdin.readline()
context = ssl.create_default_context(cafile=sys.argv[1])
body = b"late-library-" * 100
request = urllib.request.Request("https://localhost:%s/late" % sys.argv[2], data=body, method="POST")
with urllib.request.urlopen(request, context=context) as response:
    print(len(response.read()), flush=True)
`;

let workDir: string;
let server: RecordingTlsServer;
let caPath: string;
let lateLibDir: string;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-late-'));
  const certs = await generateTestCertificates(path.join(workDir, 'tls'));
  caPath = certs.caCertPath;
  server = await startRecordingTlsServer(certs.certPath, certs.keyPath);
  // A copy is another file (device and inode) from the host's libssl, which the start-up scan attaches.
  lateLibDir = path.join(workDir, 'late-libs');
  fs.mkdirSync(lateLibDir);
  fs.copyFileSync(fs.realpathSync('/lib/x86_64-linux-gnu/libssl.so.3'), path.join(lateLibDir, 'libssl.so.3'));
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

test('the periodic rescan attaches a libssl loaded long after exec, and its calls are captured', async () => {
  const harness = new CaptureHarness({ rescanIntervalMs: 300 });
  harness.start();
  try {
    const lateCopy = path.join(lateLibDir, 'libssl.so.3');
    expect(harness.capture.attachedFiles.some((file) => file.displayPath === lateCopy)).toBe(false);

    const scriptPath = path.join(workDir, 'late.py');
    fs.writeFileSync(scriptPath, LATE_CLIENT);
    // The import comes 2.5 s after exec, past the last scan an exec triggers (1 s).
    const child = spawn('/usr/bin/python3', [scriptPath, caPath, String(server.port), '2.5'], {
      env: { ...process.env, LD_LIBRARY_PATH: lateLibDir },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

    const attachedLate = () => harness.capture.attachedFiles.some((file) => file.displayPath === lateCopy);
    // The scans that follow an exec end 1 s after it; the import comes at 2.5 s. In between: not attached.
    await harness.waitFor(() => output.includes('started'), 10_000, 'the client to start');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(output).not.toContain('loaded'); // still asleep, or the check below proves nothing
    expect(attachedLate()).toBe(false);
    await harness.waitFor(() => output.includes('loaded'), 10_000, 'the client to import ssl');
    await harness.waitFor(attachedLate, 10_000, `an attachment to ${lateCopy}`);
    child.stdin.end('go\n');
    expect(await exited).toBe(0);
    expect(output.split('\n')[2]).toMatch(/^\d+$/);
    // python3 mapped the copy, not the host's libssl.
    const attached = harness.capture.attachedFiles.find((file) => file.displayPath === lateCopy)!;
    expect(attached.attachPath).toBe(`/proc/${child.pid}/root${lateCopy}`);

    const recorded = server.connections[server.connections.length - 1];
    const sent = Buffer.concat(recorded.received);
    expect(sent.toString()).toContain('POST /late');
    await harness.waitFor(() => harness.connectionsOf(child.pid!).some((c) => c.out.equals(sent) && c.in.equals(Buffer.concat(recorded.sent))), 10_000, 'the late client\'s connection');
  } finally {
    harness.stop();
  }
});
