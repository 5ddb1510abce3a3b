/**
 * Progress on long work: a redrawn bar on a terminal, plain periodic lines
 * otherwise (logs, CI, pipes).
 */

/** Fields shown next to the bar, already formatted. */
export type ProgressFields = Record<string, string>;

/** A progress display over `total` units of work. */
export interface Progress {
  update(done: number, fields?: ProgressFields): void;
  done(message?: string): void;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

function line(label: string, done: number, start: number, total: number, elapsed: number, fields: ProgressFields, width: number): string {
  const eta = done > start ? (elapsed / (done - start)) * (total - done) : Infinity;
  const extra = Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' | ');
  const text = `${label} ${done}/${total} | ${extra}${extra ? ' | ' : ''}ETA ${clock(eta)}`;
  if (width <= 0) return text;
  const filled = Math.round((done / total) * width);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text.slice(label.length + 1)}`;
}

/**
 * Creates a progress display on `stream` (a bar on a TTY, a line every 5% otherwise).
 * `start` is where the work resumes (units already done before this display).
 */
export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr, start = 0): Progress {
  const tty = (stream).isTTY === true;
  const t0 = performance.now();
  const every = Math.max(1, Math.round(total / 20));
  let lastDrawn = -Infinity;
  return {
    update(done, fields = {}) {
      const elapsed = (performance.now() - t0) / 1000;
      if (tty) {
        const now = performance.now();
        if (now - lastDrawn < 100 && done < total) return;
        lastDrawn = now;
        const cols = (stream).columns ?? 100;
        stream.write(`\r${line(label, done, start, total, elapsed, fields, 24).slice(0, cols - 1)}\x1b[K`);
      } else if (done % every === 0 || done === total || done === start + 1) {
        stream.write(`${line(label, done, start, total, elapsed, fields, 0)}\n`);
      }
    },
    done(message) {
      if (tty) stream.write('\n');
      if (message) stream.write(`${message}\n`);
    },
  };
}
