import type { ClockPort, TimerId } from './ports';

export const systemClock: ClockPort = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Timers of the context log must not keep a CLI process alive.
    t.unref?.();
    return t;
  },
  clearTimeout: (id: TimerId) => clearTimeout(id as ReturnType<typeof setTimeout>),
};
