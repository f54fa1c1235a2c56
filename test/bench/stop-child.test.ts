import { spawn } from 'node:child_process';
import { stop } from '../../bench/support/processes';

function child(script: string) {
  const started = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Ready once it says so: its signal handler (if any) is installed.
  return new Promise<typeof started>((resolve) => started.stdout.once('data', () => resolve(started)));
}

test('a child that ends on the signal is not killed', async () => {
  const exiting = await child("process.on('SIGINT', () => process.exit(0)); console.log('ready'); setInterval(() => {}, 1000)");
  await stop(exiting, 'SIGINT', 5_000);
  expect(exiting.exitCode).toBe(0);
  expect(exiting.signalCode).toBeNull();
});

test('a child that sleeps through the signal is killed after the grace period, so a bench never hangs on it', async () => {
  const stubborn = await child("process.on('SIGINT', () => {}); console.log('ready'); setInterval(() => {}, 1000)");
  const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    await stop(stubborn, 'SIGINT', 300);
  } finally {
    errors.mockRestore();
  }
  expect(stubborn.signalCode).toBe('SIGKILL');
});
