/**
 * The process's own health, which an event-loop daemon lives by: event-loop delay, CPU, heap,
 * GC pauses, handles. prom-client's default metrics give them under the names every Node.js
 * dashboard knows (`nodejs_eventloop_lag_p99_seconds`, `process_cpu_seconds_total`,
 * `nodejs_heap_size_used_bytes`, `nodejs_gc_duration_seconds`, …).
 *
 * One registry per process, started by the first daemon: daemons hosted in one process share its
 * event loop, so they share these figures. prom-client's event-loop delay percentiles cover the
 * time since the previous scrape (it resets its histogram on each collection), include the
 * sampling interval EVENT_LOOP_SAMPLE_MS, and are coarse (below).
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * monitorEventLoopDelay's timer interval. Each sample wakes the loop: at prom-client's default of
 * 10 ms that alone cost an idle daemon 3.5 ms of CPU per second, so prom-client samples once
 * every 10 s here (an idle daemon otherwise wakes about once a second) and the fine figure is the
 * daemon's own `ecd_event_loop_delay_seconds` (the lateness of every tick timer,
 * daemon/metrics.ts), which costs no wake-up.
 */
const EVENT_LOOP_SAMPLE_MS = 10_000;

let registry: Registry | null = null;

/** Starts collecting once per process; later calls are free. */
export function startProcessMetrics(): void {
  if (registry !== null) return;
  registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}

/** The process metrics in Prometheus text format ('' before `startProcessMetrics`). */
export async function processMetricsText(): Promise<string> {
  return registry === null ? '' : registry.metrics();
}
