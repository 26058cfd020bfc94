/**
 * Event-driven wake-ups, where pcscd sleeps and polls: a generation counter plus the callers waiting for the next
 * generation. `wait(since)` resolves as soon as the generation has moved past `since`, so a change that happens
 * between reading the state and starting to wait is never missed.
 */
export interface Wait {
  readonly promise: Promise<void>;
  /** Stop waiting (the promise then never settles); harmless after it resolved. */
  dispose(): void;
}

export class Notifier {
  #generation = 0;
  readonly #waiters = new Set<() => void>();
  /** Standing listeners (not one-shot waiters, not counted in `waiting`): told of every notify, synchronously. */
  readonly #listeners = new Set<() => void>();

  get generation(): number {
    return this.#generation;
  }

  /** Callers waiting now (for leak checks: a settled or disposed wait is not counted). */
  get waiting(): number {
    return this.#waiters.size;
  }

  notify(): void {
    this.#generation++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
    for (const listener of [...this.#listeners]) listener();
  }

  /** Call `listener` on every notify until the returned function is called. */
  subscribe(listener: () => void): () => void {
    const l = (): void => listener();
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  wait(since: number = this.#generation): Wait {
    if (this.#generation !== since) return { promise: Promise.resolve(), dispose: () => undefined };
    let wake: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.#waiters.add(wake);
    return { promise, dispose: () => this.#waiters.delete(wake) };
  }
}

/** A FIFO async mutex: one `run` at a time, in call order. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
