/**
 * Node 20 compatibility for the libp2p 2.x stack: `mortice` (the peer store's lock, via `it-queue`) calls
 * `Promise.withResolvers` (ES2024, native from Node 22). This installs the standard behaviour when the
 * runtime lacks it; on Node ≥ 22 it does nothing. Imported first by `p2p-network.ts`.
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>(): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve'];
      let reject!: Resolvers<T>['reject'];
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
