/**
 * Where the spool and the store live when no --data-dir is given: a directory that survives restarts, so a
 * restart loses neither undelivered spans nor stored calls.
 */
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT_DATA_DIR = '/var/lib/sightline';

/** /var/lib/sightline for root (the sensor needs root); $XDG_STATE_HOME/sightline or ~/.local/state/sightline otherwise. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0, home: string = os.homedir()): string {
  if (uid === 0) return ROOT_DATA_DIR;
  const state = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(home, '.local', 'state');
  return path.join(state, 'sightline');
}
