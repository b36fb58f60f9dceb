/** `dasguard` in a child process (TypeScript sources through tsx), for tests that kill it (SIGKILL) or stop it (SIGINT). */
import { spawn, type ChildProcess } from 'node:child_process';

export class DasguardProcess {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(args: string[], env: NodeJS.ProcessEnv) {
    const entry = "const { main } = await import('./src/cli.ts'); process.exitCode = await main(process.argv.slice(1));";
    this.proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', entry, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }
  alertIds(): string[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { id: string }).id);
  }
  /** The JSON log lines on stderr (`run` writes JSON lines when stderr is not a terminal). */
  logs(): Record<string, unknown>[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  /** Waits for the exit, failing the test rather than hanging when the process does not stop. */
  async exit(timeoutMs = 20_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`dasguard did not exit within ${timeoutMs} ms; stderr:\n${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
