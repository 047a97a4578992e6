// What every end-to-end script shares: failed checks, the ordered steps of its summary, and the
// run itself (a watchdog, one JSON line on stdout, exit 0 or 1).

/** A check of the script failed: reported as such, without a stack. */
export class CheckFailed extends Error {}

export function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/** What the script did, in order, for its summary line; each step is also logged. */
export function stepRecorder(log) {
  const steps = [];
  const step = (name, details = {}) => {
    steps.push({ step: name, ...details });
    log(`step ${name}`, JSON.stringify(details));
  };
  return { steps, step };
}

/**
 * Runs `main` under a watchdog of `timeoutMs`: prints the summary it returns as one JSON line and
 * exits 0; on a failure or the timeout prints `{ok: false, error, ...evidence()}` and exits 1.
 * `beforeFailure` runs first on a failure (e.g. to let pending response bodies arrive).
 */
export async function runScript({ main, timeoutMs, log, evidence, beforeFailure }) {
  const watchdog = setTimeout(() => {
    console.log(JSON.stringify({ ok: false, error: `timed out after ${timeoutMs} ms`, ...evidence() }));
    process.exit(1);
  }, timeoutMs);
  try {
    const summary = await main();
    clearTimeout(watchdog);
    console.log(JSON.stringify(summary));
    process.exit(0);
  } catch (error) {
    clearTimeout(watchdog);
    await beforeFailure?.();
    const message = error instanceof CheckFailed ? error.message : `${error?.name}: ${error?.message}`;
    log(`FAILED: ${message}`);
    if (!(error instanceof CheckFailed)) log(error?.stack);
    console.log(JSON.stringify({ ok: false, error: message, ...evidence() }));
    process.exit(1);
  }
}
