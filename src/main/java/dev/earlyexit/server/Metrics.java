package dev.earlyexit.server;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * The server's counters and gauges, written in Prometheus' text exposition format (version 0.0.4).
 * A handful of series: a client library would add a dependency and a registry for what is a page of
 * text.
 */
public final class Metrics {
    private static final double[] TTFT_BUCKETS = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    final LongAdder promptTokens = new LongAdder();
    final LongAdder generatedTokens = new LongAdder();
    final LongAdder drafted = new LongAdder();
    final LongAdder accepted = new LongAdder();
    final LongAdder decodeSteps = new LongAdder();
    final LongAdder batchedRows = new LongAdder();
    final LongAdder dssdSweeps = new LongAdder();
    final LongAdder dssdSweepSlots = new LongAdder();
    private final AtomicLongArray exits;
    private final AtomicLongArray ttftBuckets = new AtomicLongArray(TTFT_BUCKETS.length);
    private final AtomicLong ttftCount = new AtomicLong();
    private final AtomicLong ttftMicros = new AtomicLong();
    private volatile double tokensPerSecond;
    private volatile IntSupplier queueLength = () -> 0;
    private volatile IntSupplier busySlots = () -> 0;
    private volatile int slots;
    private final int layers;

    // Rolling window for tokens/s: generated tokens over about the last ten seconds.
    private long windowStart = System.nanoTime();
    private long windowTokens;

    public Metrics(int layers) {
        this.layers = layers;
        this.exits = new AtomicLongArray(layers + 1);
    }

    void bind(int slots, IntSupplier queueLength, IntSupplier busySlots) {
        this.slots = slots;
        this.queueLength = queueLength;
        this.busySlots = busySlots;
    }

    public void request(String endpoint, int status) {
        requests.computeIfAbsent(endpoint + "\u0000" + status, k -> new LongAdder()).increment();
    }

    void exit(int layer) {
        exits.incrementAndGet(Math.max(0, Math.min(layers, layer)));
    }

    void firstToken(double seconds) {
        for (int i = 0; i < TTFT_BUCKETS.length; i++) {
            if (seconds <= TTFT_BUCKETS[i]) {
                ttftBuckets.incrementAndGet(i);
            }
        }
        ttftCount.incrementAndGet();
        ttftMicros.addAndGet(Math.round(seconds * 1e6));
    }

    /** Called by the engine thread after each step with the tokens it produced. */
    void produced(int tokens) {
        generatedTokens.add(tokens);
        windowTokens += tokens;
        long now = System.nanoTime();
        double elapsed = (now - windowStart) / 1e9;
        if (elapsed >= 1.0) {
            tokensPerSecond = windowTokens / elapsed;
            windowStart = now;
            windowTokens = 0;
        }
    }

    /** Called by the engine when it goes idle: the rate falls to zero instead of freezing. */
    void idle() {
        tokensPerSecond = 0;
        windowStart = System.nanoTime();
        windowTokens = 0;
    }

    public String render() {
        StringBuilder b = new StringBuilder(2048);
        b.append("# HELP earlyexit_requests_total HTTP requests by endpoint and status.\n");
        b.append("# TYPE earlyexit_requests_total counter\n");
        Map<String, Long> sorted = new TreeMap<>();
        requests.forEach((k, v) -> sorted.put(k, v.sum()));
        sorted.forEach((k, v) -> {
            String[] parts = k.split("\u0000");
            b.append("earlyexit_requests_total{endpoint=\"").append(parts[0]).append("\",status=\"").append(parts[1])
                    .append("\"} ").append(v).append('\n');
        });
        counter(b, "earlyexit_prompt_tokens_total", "Prompt tokens of admitted requests.", promptTokens.sum());
        counter(b, "earlyexit_generated_tokens_total", "Generated tokens.", generatedTokens.sum());
        gauge(b, "earlyexit_tokens_per_second", "Generated tokens per second over the last second or so.",
                tokensPerSecond);
        b.append("# HELP earlyexit_time_to_first_token_seconds From request admission to the first token.\n");
        b.append("# TYPE earlyexit_time_to_first_token_seconds histogram\n");
        for (int i = 0; i < TTFT_BUCKETS.length; i++) {
            b.append("earlyexit_time_to_first_token_seconds_bucket{le=\"").append(TTFT_BUCKETS[i]).append("\"} ")
                    .append(ttftBuckets.get(i)).append('\n');
        }
        b.append("earlyexit_time_to_first_token_seconds_bucket{le=\"+Inf\"} ").append(ttftCount.get()).append('\n');
        b.append("earlyexit_time_to_first_token_seconds_sum ").append(ttftMicros.get() / 1e6).append('\n');
        b.append("earlyexit_time_to_first_token_seconds_count ").append(ttftCount.get()).append('\n');
        gauge(b, "earlyexit_queue_length", "Requests waiting for a slot.", queueLength.getAsInt());
        gauge(b, "earlyexit_slots_busy", "Slots decoding a request.", busySlots.getAsInt());
        gauge(b, "earlyexit_slots", "Slots (requests decoded at once).", slots);
        b.append("# HELP earlyexit_exits_total Generated tokens by the layer count they were produced at.\n");
        b.append("# TYPE earlyexit_exits_total counter\n");
        for (int l = 1; l <= layers; l++) {
            b.append("earlyexit_exits_total{layer=\"").append(l).append("\"} ").append(exits.get(l)).append('\n');
        }
        counter(b, "earlyexit_drafted_tokens_total", "DSSD: tokens the exit heads drafted.", drafted.sum());
        counter(b, "earlyexit_accepted_tokens_total", "DSSD: drafted tokens the full model accepted.", accepted.sum());
        counter(b, "earlyexit_decode_steps_total", "Batched decode steps (one pass of every active slot).",
                decodeSteps.sum());
        counter(b, "earlyexit_decode_rows_total", "Rows of all batched decode steps (sum of the batch sizes).",
                batchedRows.sum());
        counter(b, "earlyexit_dssd_sweeps_total", "DSSD: passes over the layers for every DSSD slot at once.",
                dssdSweeps.sum());
        counter(b, "earlyexit_dssd_sweep_slots_total", "DSSD: slots those passes ran (sum of the batch sizes).",
                dssdSweepSlots.sum());
        return b.toString();
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(" counter\n");
        b.append(name).append(' ').append(v).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, double v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(" gauge\n");
        b.append(name).append(' ').append(v).append('\n');
    }
}
