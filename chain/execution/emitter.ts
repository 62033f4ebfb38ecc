/** A typed event (Theia style): `event(listener)` subscribes and returns a disposable. */
export interface Disposable {
  dispose(): void;
}

export type Event<T> = (listener: (e: T) => void) => Disposable;

export class Emitter<T> {
  private readonly listeners = new Set<(e: T) => void>();

  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  /** Calls every listener; a throwing listener does not stop the others (its error goes to `onError`). */
  fire(e: T, onError?: (err: unknown) => void): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        onError?.(err);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }

  dispose(): void {
    this.listeners.clear();
  }
}
