import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A secret setting: the configured value, or one otaflow generated into its data dir. No secret has a
 * default in the code: a default would be the same on every installation, and known to everyone.
 */
export interface SecretSetting {
  value: string;
  /** Where it is kept, when it comes from the data dir. */
  file?: string;
  /** Written by this start (the first one on this data dir). */
  generated: boolean;
}

/**
 * `configured` when set; otherwise `<dataDir>/<fileName>`, owner-only, written with `generate()` on the
 * first start and read on every later one. `holds` names what the file must hold when `check` fails.
 */
export async function secretSetting(options: {
  configured?: string;
  dataDir: string;
  fileName: string;
  generate: () => string;
  check: (value: string) => boolean;
  holds: string;
}): Promise<SecretSetting> {
  if (options.configured !== undefined) return { value: options.configured, generated: false };
  const file = path.join(options.dataDir, options.fileName);
  await mkdir(options.dataDir, { recursive: true });
  let generated = true;
  try {
    // 'wx': two processes starting together must not each write their own.
    await writeFile(file, `${options.generate()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    generated = false;
  }
  const value = (await readFile(file, 'utf8')).trim();
  if (!options.check(value)) throw new Error(`${file} does not hold ${options.holds}`);
  return { value, file, generated };
}

/**
 * A service password (the MQTT gateway's broker account, the embedded MinIO's root user): the
 * configured one, or 256 random bits in `<dataDir>/<fileName>`. Processes that share a broker or a
 * MinIO are all given the same one in their configuration.
 */
export function servicePassword(configured: string | undefined, dataDir: string, fileName: string) {
  return secretSetting({
    configured,
    dataDir,
    fileName,
    generate: () => randomBytes(32).toString('base64url'),
    check: (value) => /^[A-Za-z0-9_-]{43}$/.test(value),
    holds: 'a generated password (43 characters of A-Z a-z 0-9 _ -)',
  });
}
