package dev.earlyexit.server;

import dev.earlyexit.decoding.SamplingOptions;

import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One generation request inside the engine. The engine thread writes events; the HTTP thread that
 * submitted the job reads them and may cancel it (client gone, stop string found), which frees the
 * slot before the next decode step.
 *
 * @param topLogprobs -1: no log-probabilities; 0..20: the chosen token's and that many alternatives
 */
public final class Job {

    public enum Finish {
        STOP("stop"), LENGTH("length"), CANCELLED("cancelled");

        private final String id;

        Finish(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }
    }

    /** What the engine reports, in order: tokens, then one Done or Failed. */
    public sealed interface Event permits Token, Done, Failed {
    }

    /** A chosen token; logprob fields are set only when the request asked for them. */
    public record Token(int id, int exitLayer, float logprob, int[] topIds, float[] topLogprobs) implements Event {
    }

    /** @param earlyExit the report of what early exit / DSSD did (the response's {@code early_exit}) */
    public record Done(Finish finish, Map<String, Object> earlyExit) implements Event {
    }

    public record Failed(String message) implements Event {
    }

    final int[] promptIds;
    final int maxTokens;
    final SamplingOptions sampling;
    final int topLogprobs;
    final ExitSpec spec;
    final long submittedNanos = System.nanoTime();
    volatile long firstTokenNanos;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private volatile boolean cancelled;

    public Job(int[] promptIds, int maxTokens, SamplingOptions sampling, int topLogprobs, ExitSpec spec) {
        this.promptIds = promptIds;
        this.maxTokens = maxTokens;
        this.sampling = sampling;
        this.topLogprobs = topLogprobs;
        this.spec = spec;
    }

    public void cancel() {
        cancelled = true;
    }

    public boolean cancelled() {
        return cancelled;
    }

    public int[] promptIds() {
        return promptIds;
    }

    public ExitSpec spec() {
        return spec;
    }

    void emit(Event e) {
        events.add(e);
    }

    /** The next event, or null when none came within the timeout. */
    public Event next(long timeout, TimeUnit unit) throws InterruptedException {
        return events.poll(timeout, unit);
    }
}
