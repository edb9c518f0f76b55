import { execFileSync } from 'node:child_process';

export interface Account {
  uid: number;
  gid: number;
}

/**
 * The system account a server should run as: `undefined` (this process's own account) unless this
 * process is root, in which case the named account, since PostgreSQL refuses to run as root and
 * Mosquitto would switch to its own account anyway.
 */
export function serviceAccountFor(name: string): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(`running as root needs the system account '${name}' (created by its Debian package)`);
  }
}

/** Hands a directory tree to the account a server runs as. */
export function giveTo(dir: string, account: Account | undefined): void {
  if (account) execFileSync('chown', ['-R', `${account.uid}:${account.gid}`, dir]);
}
