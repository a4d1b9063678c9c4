/**
 * A fake scheduler (src/daemon/connection.ts Scheduler): timers run only when a test advances the
 * clock, so timing tests never sleep.
 */
import type { Scheduler } from "../../src/daemon/connection.ts";

export class FakeScheduler implements Scheduler {
  clock = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;

  set(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.clock + Math.max(ms, 0), fn });
    return id;
  }

  now(): number {
    return this.clock;
  }

  clear(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers not run yet. */
  get pending(): number {
    return this.timers.size;
  }

  /** Move the clock forward by ms, running every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.clock + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= until && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.clock = due[1].at;
      due[1].fn();
    }
    this.clock = until;
  }
}
