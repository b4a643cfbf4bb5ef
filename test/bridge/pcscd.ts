/**
 * Test fixture: a private pcscd in the foreground with its own reader.conf.d holding one
 * vsmartcard vpcd reader (two slots: "Virtual PCD 00 00" on `port`, "Virtual PCD 00 01" on
 * `port + 1`). pcsc-lite 1.9 has a fixed socket (/run/pcscd/pcscd.comm), so only one pcscd can
 * run at a time: test files (parallel workers, other runs on the machine) take turns through an
 * exclusive lock file, and the fixture waits for any other pcscd to be gone before it starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PCSCD = '/usr/sbin/pcscd';
export const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';

export function pcscAvailable(): boolean {
  return existsSync(PCSCD) && existsSync(VPCD_DRIVER);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 41000 + Math.floor(Math.random() * 8000) * 2;
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair for vpcd');
}

function otherPcscdAlive(): number | null {
  try {
    // pcscd writes "PID\n\0": the digits at the start, not the whole file (NaN would hide a running daemon).
    const pid = parseInt(/^\s*(\d+)/.exec(readFileSync('/run/pcscd/pcscd.pid', 'latin1'))?.[1] ?? '', 10);
    if (pid > 0) {
      process.kill(pid, 0);
      return pid;
    }
  } catch {
    /* no pid file, or dead process */
  }
  return null;
}

const SOCKET = '/run/pcscd/pcscd.comm';
const LOCK = join(tmpdir(), 'teletrans-pcscd.lock');
const WAIT_MS = 300_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the machine-wide turn to run pcscd (O_EXCL lock file holding our pid; a dead holder's lock is taken over). */
async function lock(): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(LOCK, 'utf8').trim());
    } catch {
      continue; // released meanwhile
    }
    if (holder > 0 && !alive(holder)) {
      rmSync(LOCK, { force: true });
      continue;
    }
    if (Date.now() - t0 > WAIT_MS) throw new Error(`pcscd fixture: ${LOCK} held by pid ${holder} for ${WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function unlock(): void {
  try {
    if (Number(readFileSync(LOCK, 'utf8').trim()) === process.pid) unlinkSync(LOCK);
  } catch {
    /* not ours, or gone */
  }
}

export interface Pcscd {
  /** vpcd port of slot 0; slot 1 is `port + 1`. */
  port: number;
  readers: [string, string];
  log: () => string;
  stop(): Promise<void>;
}

export async function startPcscd(): Promise<Pcscd> {
  await lock();
  try {
    return await launch();
  } catch (e) {
    unlock();
    throw e;
  }
}

/** A pcscd this fixture started, left behind by a run that died (we hold the lock: nobody else's). */
function leftoverOfOurs(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').some((a) => a.startsWith(join(tmpdir(), 'teletrans-pcscd-')));
  } catch {
    return false;
  }
}

async function launch(): Promise<Pcscd> {
  // A fixture's pcscd left by a dead run is stopped; another (the system's) holds the one socket: wait.
  const leftover = otherPcscdAlive();
  if (leftover !== null && leftoverOfOurs(leftover)) {
    process.kill(leftover, 'SIGTERM');
    for (let i = 0; i < 50 && alive(leftover); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(leftover)) process.kill(leftover, 'SIGKILL');
  }
  for (let waited = 0; otherPcscdAlive(); waited += 200) {
    if (waited > WAIT_MS) throw new Error(`another pcscd is running (pid ${otherPcscdAlive()}); the fixture needs its socket`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // No pcscd alive: a socket file left behind is stale, and pcscd would refuse to start.
  if (existsSync(SOCKET)) rmSync(SOCKET, { force: true });
  const dir = await mkdtemp(join(tmpdir(), 'teletrans-pcscd-'));
  const port = await freePortPair();
  const hex = `0x${port.toString(16).toUpperCase()}`;
  await writeFile(
    join(dir, 'vpcd'),
    `FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:${hex}\nLIBPATH ${VPCD_DRIVER}\nCHANNELID ${hex}\n`,
  );
  let out = '';
  const child: ChildProcess = spawn(PCSCD, ['--foreground', '--config', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Ready once the socket exists and vpcd listens.
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pcscd exited (${child.exitCode}): ${out}`);
    if (existsSync(SOCKET) && !(await portFree(port)) && !(await portFree(port + 1))) break;
    if (Date.now() - t0 > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`pcscd did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    readers: ['Virtual PCD 00 00', 'Virtual PCD 00 01'],
    log: () => out,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
      unlock();
    },
  };
}
