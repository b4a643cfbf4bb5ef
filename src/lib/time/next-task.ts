/**
 * Resolves in a later task of the event loop: long work split at these points lets the browser
 * paint and answer input in between (a slow tablet at start-up: issue 14). `scheduler.yield`
 * where the browser has it (it keeps the work's priority), else a message to ourselves (no
 * 4 ms clamp as nested timeouts get), else `setImmediate` (Node) or a zero timeout.
 */
interface Scheduler { yield?: () => Promise<void> }

export function nextTask(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: Scheduler }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
