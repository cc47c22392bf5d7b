/**
 * Our stdout and stderr at the two moments they matter: when secretrun exits, and when it hands its process to
 * the child with execve. Both need every write flushed; execve also needs the descriptors left as the child
 * expects them (blocking), because it inherits them as they are.
 *
 * Node creates each stream on first access (about 1 ms for a pipe), and a plain `run` never writes to either:
 * an untouched one has nothing queued and was never switched to non-blocking, so neither moment needs to create
 * it. We note which ones this process touched; if the getters cannot be wrapped, both count as touched.
 */
type StdioName = 'stdout' | 'stderr';

const touched = new Set<StdioName>();
for (const name of ['stdout', 'stderr'] as const) {
  const desc = Object.getOwnPropertyDescriptor(process, name);
  const get = desc?.get;
  if (!get || !desc.configurable) touched.add(name);
  else
    Object.defineProperty(process, name, {
      ...desc,
      get() {
        touched.add(name);
        return get.call(process);
      },
    });
}

/**
 * Calls `done` once every stream this process used is flushed: stdout/stderr may be non-blocking pipes whose
 * writes are still queued (a large export piped to `wc`).
 */
export function whenStdioFlushed(done: () => void): void {
  let pending = touched.size + 1;
  const one = () => {
    if (--pending === 0) done();
  };
  for (const name of [...touched]) process[name].write('', one);
  one();
}

/**
 * Flush stdout/stderr and put their descriptors back in blocking mode. libuv makes a pipe non-blocking when Node
 * opens it, and that flag lives on the open file, which an exec'd child shares: a child that expects an ordinary
 * blocking stdout would then meet EAGAIN. (A regular file never gets the flag; a terminal is reopened by libuv,
 * so ours is a separate open file, but making it blocking costs nothing.)
 */
export async function settleStdioForExec(): Promise<void> {
  await new Promise<void>((resolve) => whenStdioFlushed(resolve));
  for (const name of touched) {
    const handle = (process[name] as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } })._handle;
    handle?.setBlocking?.(true);
  }
}
