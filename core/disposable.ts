/** Something that can be released; registries return one for every registration. */
export interface Disposable {
  dispose(): void;
}

/** Collects disposables and releases them in reverse order. */
export class DisposableCollection implements Disposable {
  private readonly items: Disposable[] = [];

  push(...items: Disposable[]): void {
    this.items.push(...items);
  }

  dispose(): void {
    while (this.items.length > 0) this.items.pop()?.dispose();
  }
}
