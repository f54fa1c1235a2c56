/** One field of a thread's /proc/<pid>/task/<tid>/stat, numbered as in proc(5) (3: state, 19: nice, 41: policy). */
import * as fs from 'node:fs';

export function threadStatField(pid: number, tid: number | string, field: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  // The name (field 2) may hold spaces and parentheses: fields are counted from after its last ')'.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[field - 3]);
}
