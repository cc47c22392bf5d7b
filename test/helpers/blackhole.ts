/**
 * A host that never accepts a connection, on loopback: a child process listens on 127.0.0.1 with a backlog of 1
 * and is then stopped (SIGSTOP), so nothing accepts; a few connections fill its queue, and the kernel drops
 * every later SYN. A connect to it hangs as it would to a blackholed host, without leaving the machine.
 * (A listening socket in this process would not do: libuv accepts at once, and the kernel completes handshakes
 * into the backlog.)
 */
import { spawn } from 'node:child_process';
import net from 'node:net';

export interface Blackhole {
  origin: string;
  port: number;
  close(): Promise<void>;
}

const LISTENER = "const s=require('net').createServer(()=>{});s.listen({port:0,host:'127.0.0.1',backlog:1},()=>process.stdout.write(s.address().port+'\\n'))";

export async function startBlackhole(): Promise<Blackhole> {
  const child = spawn(process.execPath, ['-e', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
  });
  child.kill('SIGSTOP');
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 8; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => {}));
  // The queue is full once a probe no longer connects.
  await new Promise((r) => setTimeout(r, 200));
  const probe = net.connect(port, '127.0.0.1').on('error', () => {});
  const connected = await new Promise<boolean>((resolve) => {
    probe.once('connect', () => resolve(true));
    setTimeout(() => resolve(false), 300);
  });
  probe.destroy();
  if (connected) throw new Error('blackhole: the listen queue did not fill; connections are still accepted');
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
    },
  };
}
