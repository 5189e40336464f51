/**
 * Every timer the sandbox starts goes through here, so `stop()` can cancel all of them at once: a test
 * runner waits for open handles, and a forgotten retry timer (hours long by default) would hang it.
 */
export class Timers {
  readonly #pending = new Map<NodeJS.Timeout, () => void>();
  #stopped = false;

  get stopped(): boolean {
    return this.#stopped;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Runs `fn` after `ms`, unless `stopAll()` comes first. */
  schedule(ms: number, fn: () => void): void {
    if (this.#stopped) return;
    const handle = setTimeout(() => {
      this.#pending.delete(handle);
      fn();
    }, ms);
    this.#pending.set(handle, () => {});
  }

  /** Resolves after `ms`, or early (with `false`) when the sandbox stops. */
  sleep(ms: number): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const handle = setTimeout(() => {
        this.#pending.delete(handle);
        resolve(true);
      }, ms);
      this.#pending.set(handle, () => resolve(false));
    });
  }

  stopAll(): void {
    this.#stopped = true;
    for (const [handle, cancel] of this.#pending) {
      clearTimeout(handle);
      cancel();
    }
    this.#pending.clear();
  }
}
