/**
 * The spinner: shown only on a TTY, not with quiet or TERM=dumb, names the pending layers, and goes away.
 * A real ora writes to a stand-in terminal stream (a Writable with the tty.WriteStream cursor methods).
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { shouldShow, startProgress } from '../src/cli/progress.js';

class FakeTerminal extends Writable {
  output = '';
  isTTY: boolean;
  columns = 120;
  constructor(isTTY: boolean) {
    super();
    this.isTTY = isTTY;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.output += chunk.toString();
    done();
  }
  cursorTo(x: number, cb?: () => void) {
    this.write(`\x1b[${x + 1}G`, cb);
    return true;
  }
  clearLine(_dir: number, cb?: () => void) {
    this.write('\x1b[2K', cb);
    return true;
  }
  moveCursor(_dx: number, dy: number, cb?: () => void) {
    this.write(`\x1b[${Math.abs(dy)}${dy < 0 ? 'A' : 'B'}`, cb);
    return true;
  }
}
const asStream = (t: FakeTerminal) => t as unknown as NodeJS.WriteStream;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const visible = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

describe('progress spinner', () => {
  it('decides from TTY, quiet and TERM', () => {
    expect(shouldShow(asStream(new FakeTerminal(true)), false, {})).toBe(true);
    expect(shouldShow(asStream(new FakeTerminal(false)), false, {})).toBe(false);
    expect(shouldShow(asStream(new FakeTerminal(true)), true, {})).toBe(false);
    expect(shouldShow(asStream(new FakeTerminal(true)), false, { TERM: 'dumb' })).toBe(false);
    const sizeless = new FakeTerminal(true);
    sizeless.columns = 0;
    expect(shouldShow(asStream(sizeless), false, {})).toBe(false);
  });

  it('writes nothing at all when the stream is not a TTY', async () => {
    const term = new FakeTerminal(false);
    const p = startProgress(['doppler prd', 'http vault'], { stream: asStream(term), quiet: false, env: {}, delayMs: 0 });
    await p.settled;
    await wait(200);
    p.done('doppler prd');
    p.done('http vault');
    expect(term.output).toBe('');
  });

  it('writes nothing with quiet, even on a TTY', async () => {
    const term = new FakeTerminal(true);
    const p = startProgress(['doppler prd'], { stream: asStream(term), quiet: true, env: {}, delayMs: 0 });
    await p.settled;
    await wait(200);
    p.stop();
    expect(term.output).toBe('');
  });

  it('on a TTY names the pending layers, updates as they finish, and clears itself', async () => {
    const term = new FakeTerminal(true);
    const p = startProgress(['doppler prd', 'http vault'], { stream: asStream(term), quiet: false, env: {}, delayMs: 0 });
    await p.settled;
    await wait(150);
    expect(visible(term.output)).toContain('fetching doppler prd, http vault');
    p.done('doppler prd');
    await wait(150);
    const after = term.output.length;
    expect(visible(term.output)).toContain('fetching http vault');
    p.done('http vault');
    const atStop = term.output.length;
    await wait(200);
    expect(term.output.length).toBe(atStop); // no more frames once nothing is pending
    expect(atStop).toBeGreaterThan(after);
    expect(term.output.slice(after)).toContain('\x1b[2K'); // the line was cleared
  });

  it('never appears when everything finishes within the delay', async () => {
    const term = new FakeTerminal(true);
    const p = startProgress(['http a'], { stream: asStream(term), quiet: false, env: {}, delayMs: 100 });
    p.done('http a');
    await p.settled;
    await wait(150);
    expect(term.output).toBe('');
  });

  it('stop() before the spinner appears keeps it from ever appearing', async () => {
    const term = new FakeTerminal(true);
    const p = startProgress(['http a'], { stream: asStream(term), quiet: false, env: {}, delayMs: 50 });
    p.stop();
    await p.settled;
    await wait(100);
    expect(term.output).toBe('');
  });
});
