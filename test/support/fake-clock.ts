/** A fake clock whose timers run in order as time is advanced (for the daemon's refresh timer). */
export class FakeClock {
  t = 1_800_000_000_000;
  private seq = 0;
  private queue: { at: number; id: number; fn: () => void }[] = [];
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number): number => {
    const id = ++this.seq;
    this.queue.push({ at: this.t + ms, id, fn });
    return id;
  };
  clearTimeout = (id: unknown): void => {
    this.queue = this.queue.filter((q) => q.id !== id);
  };
  /** Run every timer due within `ms`, letting each one's promises settle, then land at t+ms. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      this.queue.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }
}
