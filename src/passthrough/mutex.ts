/**
 * A minimal async mutex: `lock()` resolves at once when free (no allocation beyond the
 * promise), otherwise after the previous holders `unlock()`, in FIFO order.
 */
export class Mutex {
  private held = false;
  private readonly waiters: Array<() => void> = [];
  private head = 0;

  lock(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
    });
  }

  unlock(): void {
    if (this.head < this.waiters.length) {
      const next = this.waiters[this.head];
      this.waiters[this.head++] = noop;
      if (this.head === this.waiters.length) {
        this.waiters.length = 0;
        this.head = 0;
      }
      next(); // ownership passes straight to the next waiter
      return;
    }
    this.held = false;
  }
}

function noop(): void {}
