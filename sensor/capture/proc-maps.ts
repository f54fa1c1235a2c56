/** Parsing of /proc/PID/maps: which files a process has mapped executable. Pure, so it is tested with fixtures. */

export interface ExecutableMapping {
  /** Device and inode as the kernel prints them: the identity uprobes attach to. */
  fileKey: string;
  /** The path as seen inside the process's mount namespace. */
  path: string;
  /** `start-end` as in /proc/PID/map_files. */
  range: string;
  deleted: boolean;
}

const DELETED_SUFFIX = ' (deleted)';

export function parseExecutableMappings(maps: string): ExecutableMapping[] {
  const seen = new Set<string>();
  const mappings: ExecutableMapping[] = [];
  for (const line of maps.split('\n')) {
    // address perms offset dev inode pathname; the path may contain spaces, so split only the first five fields.
    const match = /^([0-9a-f]+-[0-9a-f]+)\s+(\S{4})\s+\S+\s+([0-9a-f]+:[0-9a-f]+)\s+(\d+)\s+(\/.*)$/.exec(line);
    if (!match) continue;
    const [, range, perms, device, inode, rawPath] = match;
    if (perms[2] !== 'x' || inode === '0') continue;
    const fileKey = `${device}:${inode}`;
    if (seen.has(fileKey)) continue;
    seen.add(fileKey);
    const deleted = rawPath.endsWith(DELETED_SUFFIX);
    mappings.push({ fileKey, path: deleted ? rawPath.slice(0, -DELETED_SUFFIX.length) : rawPath, range, deleted });
  }
  return mappings;
}
