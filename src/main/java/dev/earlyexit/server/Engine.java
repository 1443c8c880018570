package dev.earlyexit.server;

import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.decoding.EarlyExitBatch;
import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.LayerSweeper;
import dev.earlyexit.decoding.SelfSpeculativeDecoder;
import dev.earlyexit.decoding.SpeculativeResult;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The one thread that drives the model. Full-model and early-exit requests decode in slots: every
 * step gives each active slot its next token through one {@link EarlyExitBatch#step}, where each layer
 * runs once, as one block, for every slot still at it (so each weight is read once per step for all of
 * them), an early-exit token leaves the block at the head it exits at, and the classifier runs once for
 * the tokens that reach it. A new request is prefilled alone (its prompt as one block) when a slot is
 * free, then joins the next step. Each slot has its own KV cache, sampler and thresholds, so its output
 * is what {@link Generator} or {@link EarlyExitDecoder} gives for the same request alone (greedy:
 * identical tokens and exit layers).
 *
 * <p>DSSD requests take slots too: each runs {@link SelfSpeculativeDecoder} on a decoder thread of its
 * own, whose model work goes through a {@link LayerSweeper}: every engine iteration runs one sweep over
 * the layers for all DSSD slots, in which each drafts a token or verifies its window, each layer as
 * one block for all of them. Their output is the full model's (greedy: identical), as alone. A DSSD
 * request at an ε no head can draft at decodes with the full model in the batch. The full/early-exit
 * step and the DSSD sweep run one after the other, so the two kinds do not share weight reads.
 *
 * <p>Waiting requests sit in a bounded queue; {@link #submit} refuses beyond it (the caller answers
 * 429). A cancelled job (client gone, stop string) leaves its slot before the next step.
 */
public final class Engine implements AutoCloseable {
    private final Transformer model;
    private final ModelConfig c;
    private final ExitModes exits;
    private final Metrics metrics;
    private final int[] stopIds;
    private final Slot[] slots;
    private final ArrayBlockingQueue<Job> queue;
    private final int queueCapacity;
    private final java.util.concurrent.atomic.AtomicInteger waiting = new java.util.concurrent.atomic.AtomicInteger();
    private final Thread thread;
    private volatile boolean closing;
    private volatile int busy;
    private Job pending;

    // The step allocates nothing but the events it sends.
    private final EarlyExitBatch batch;
    private final LayerSweeper sweeper;
    private final java.util.concurrent.ExecutorService decoderThreads;
    private final java.util.concurrent.atomic.AtomicInteger dssdProduced = new java.util.concurrent.atomic.AtomicInteger();
    private final EarlyExitBatch.Sequence[] rowSequences;
    private final Slot[] rowSlots;

    private static final class Slot {
        final EarlyExitBatch.Sequence seq;
        boolean dssd;               // decoded by a SelfSpeculativeDecoder on a decoder thread
        volatile boolean dssdDone;  // that thread has finished with the job
        final int[] exitsPerLayer;  // [layer count + 1], by 1-based exit layer
        Job job;
        int produced;
        long layerSum;
        int next;                   // the last token chosen, fed at the next step

        Slot(EarlyExitBatch batch, int layers) {
            this.seq = batch.newSequence();
            this.exitsPerLayer = new int[layers + 1];
        }
    }

    public Engine(Transformer model, int slotCount, int queueCapacity, ExitModes exits, Metrics metrics) {
        if (slotCount < 1) {
            throw new IllegalArgumentException("--slots must be >= 1, got " + slotCount);
        }
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("--queue must be >= 1, got " + queueCapacity);
        }
        this.model = model;
        this.c = model.config();
        this.exits = exits;
        this.metrics = metrics;
        this.stopIds = Generator.stopIds(c);
        this.batch = new EarlyExitBatch(model, exits.available() ? exits.heads() : null,
                exits.available() ? exits.metric() : null);
        this.sweeper = new LayerSweeper(model);
        java.util.concurrent.atomic.AtomicInteger threadNumber = new java.util.concurrent.atomic.AtomicInteger();
        this.decoderThreads = java.util.concurrent.Executors.newFixedThreadPool(slotCount, r -> {
            Thread t = new Thread(r, "earlyexit-dssd-" + threadNumber.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.slots = new Slot[slotCount];
        for (int i = 0; i < slotCount; i++) {
            slots[i] = new Slot(batch, c.layers());
        }
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.queueCapacity = queueCapacity;
        this.rowSequences = new EarlyExitBatch.Sequence[slotCount];
        this.rowSlots = new Slot[slotCount];
        metrics.bind(slotCount, this::queueLength, () -> busy);
        this.thread = new Thread(this::loop, "earlyexit-engine");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    public ModelConfig config() {
        return c;
    }

    public ExitModes exits() {
        return exits;
    }

    public int slots() {
        return slots.length;
    }

    /** Requests submitted and not yet admitted to a slot (the one the engine holds back included). */
    public int queueLength() {
        return waiting.get();
    }

    public boolean alive() {
        return thread.isAlive();
    }

    /** Queues a job; false when the queue is full (or the engine is closing). */
    public boolean submit(Job job) {
        if (closing) {
            return false;
        }
        if (waiting.incrementAndGet() > queueCapacity || !queue.offer(job)) {
            waiting.decrementAndGet();
            return false;
        }
        return true;
    }

    /** Whether any request is decoding or waiting. */
    public boolean idle() {
        return busy == 0 && queueLength() == 0;
    }

    private void loop() {
        try {
            while (!(closing && idle())) {
                if (pending == null) {
                    pending = busy == 0 ? queue.poll(50, TimeUnit.MILLISECONDS) : queue.poll();
                }
                while (pending != null) {
                    Job job = pending;
                    if (job.cancelled()) {
                        waiting.decrementAndGet();
                        job.emit(new Job.Done(Job.Finish.CANCELLED, Map.of()));
                        pending = queue.poll();
                        continue;
                    }
                    Slot free = freeSlot();
                    if (free == null) {
                        break;
                    }
                    pending = queue.poll();
                    waiting.decrementAndGet();
                    if (job.spec.mode() == ExitSpec.Mode.DSSD) {
                        startDssd(free, job);
                    } else {
                        start(free, job);
                    }
                }
                if (busy > 0) {
                    step();
                    if (sweeper.active() > 0) {
                        long sweeps = sweeper.sweeps();
                        long slotSweeps = sweeper.clientSweeps();
                        sweeper.sweep();
                        metrics.dssdSweeps.add(sweeper.sweeps() - sweeps);
                        metrics.dssdSweepSlots.add(sweeper.clientSweeps() - slotSweeps);
                        metrics.produced(dssdProduced.getAndSet(0));
                    }
                    reapDssd();
                } else {
                    metrics.idle();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            sweeper.fail("the engine stopped: " + e);
            failAll("the engine stopped: " + e);
            throw e;
        }
        failAll("the server is shutting down");
    }

    private Slot freeSlot() {
        for (Slot s : slots) {
            if (s.job == null) {
                return s;
            }
        }
        return null;
    }

    /** Prefills a job's prompt in a slot and emits its first token. */
    private void start(Slot s, Job job) {
        metrics.promptTokens.add(job.promptIds.length);
        try {
            double[] thresholds = null;
            if (job.spec.mode() == ExitSpec.Mode.EARLY_EXIT) {
                exits.require(job.spec.mode());
                thresholds = exits.thresholds(job.spec.epsilon());
            }
            s.seq.start(job.promptIds, job.sampling, thresholds);
        } catch (RuntimeException e) {
            job.emit(new Job.Failed(String.valueOf(e.getMessage())));
            return;
        }
        s.job = job;
        s.produced = 0;
        s.layerSum = 0;
        java.util.Arrays.fill(s.exitsPerLayer, 0);
        busy++;
        accept(s);
        metrics.produced(1);
    }

    /** One decode step for every active slot: one batch step, each layer once for the slots still at it. */
    private void step() {
        int T = 0;
        for (Slot s : slots) {
            if (s.job == null || s.dssd) {
                continue;
            }
            if (s.job.cancelled()) {
                s.job.emit(new Job.Done(Job.Finish.CANCELLED, Map.of()));
                release(s);
                continue;
            }
            s.seq.feed(s.next);
            rowSequences[T] = s.seq;
            rowSlots[T] = s;
            T++;
        }
        if (T == 0) {
            return;
        }
        batch.step(rowSequences, T);
        metrics.decodeSteps.increment();
        metrics.batchedRows.add(T);
        for (int t = 0; t < T; t++) {
            accept(rowSlots[t]);
            rowSlots[t] = null;
            rowSequences[t] = null;
        }
        metrics.produced(T);
    }

    /**
     * The token a slot's sequence just chose, with Generator's order of checks: stop token, max tokens,
     * context.
     */
    private void accept(Slot s) {
        Job job = s.job;
        int next = s.seq.token();
        if (Generator.isStop(stopIds, next)) {
            finish(s, Job.Finish.STOP);
            return;
        }
        int layer = s.seq.exitLayer();
        s.produced++;
        s.layerSum += layer;
        s.exitsPerLayer[layer]++;
        int off = s.seq.logitsOffset();
        emitToken(job, next, layer, off < 0 ? null : batch.logits(), off);
        metrics.exit(layer);
        int pos = job.promptIds.length + s.produced - 1;
        if (s.produced == job.maxTokens || pos + 1 >= c.maxSeqLen()) {
            finish(s, Job.Finish.LENGTH);
            return;
        }
        s.next = next;
    }

    private void finish(Slot s, Job.Finish finish) {
        Map<String, Object> report = new LinkedHashMap<>();
        ExitSpec.Mode mode = s.job.spec.mode();
        report.put("mode", mode.id());
        if (mode != ExitSpec.Mode.FULL) {
            report.put("epsilon", s.job.spec.epsilon());
        }
        if (mode == ExitSpec.Mode.DSSD) {
            report.put("max_draft", s.job.spec.maxDraft()); // no head drafts at this ε: the full model decoded
        }
        report.put("mean_layers", s.produced == 0 ? (double) c.layers() : round((double) s.layerSum / s.produced));
        Map<String, Integer> perLayer = new LinkedHashMap<>();
        for (int l = 1; l <= c.layers(); l++) {
            if (s.exitsPerLayer[l] > 0) {
                perLayer.put(String.valueOf(l), s.exitsPerLayer[l]);
            }
        }
        report.put("exits_per_layer", perLayer);
        report.put("drafted", 0);
        report.put("accepted", 0);
        s.job.emit(new Job.Done(finish, report));
        release(s);
    }

    private void release(Slot s) {
        if (s.job != null) {
            busy--;
        }
        s.job = null;
        s.dssd = false;
    }

    private void emitToken(Job job, int id, int exitLayer, float[] logitRows, int off) {
        if (job.firstTokenNanos == 0) {
            job.firstTokenNanos = System.nanoTime();
            metrics.firstToken((job.firstTokenNanos - job.submittedNanos) / 1e9);
        }
        if (job.topLogprobs < 0 || logitRows == null) {
            job.emit(new Job.Token(id, exitLayer, Float.NaN, null, null));
            return;
        }
        job.emit(LogProbs.of(logitRows, off, c.vocabSize(), id, exitLayer, job.topLogprobs));
    }

    // ------------------------------------------------------------------------- DSSD, on decoder threads

    /** Thrown from a decoder's token listener to abandon a cancelled request. */
    private static final class Cancelled extends RuntimeException {
        Cancelled() {
            super(null, null, false, false);
        }
    }

    /**
     * Starts a DSSD job in a slot: its decoder runs on a decoder thread, its model work in the engine's
     * sweeps. At an ε no head can draft at, it decodes with the full model in the batch instead.
     */
    private void startDssd(Slot s, Job job) {
        Optional<CalibratedDraft> draft;
        try {
            exits.require(job.spec.mode());
            draft = exits.draft(job.spec.epsilon(), job.spec.maxDraft());
        } catch (RuntimeException e) {
            metrics.promptTokens.add(job.promptIds.length);
            job.emit(new Job.Failed(String.valueOf(e.getMessage())));
            return;
        }
        if (draft.isEmpty()) {
            start(s, job);
            return;
        }
        metrics.promptTokens.add(job.promptIds.length);
        SelfSpeculativeDecoder decoder = draft.get().decoder(model);
        LayerSweeper.Client client = sweeper.join(); // before the thread starts: the next sweep waits for it
        s.job = job;
        s.dssd = true;
        s.dssdDone = false;
        busy++;
        decoderThreads.execute(() -> {
            try {
                runDssd(job, decoder.using(client), draft.get().maxDraft());
            } finally {
                client.close();
                s.dssdDone = true;
            }
        });
    }

    /** Frees the slots whose decoder thread has finished (engine thread). */
    private void reapDssd() {
        for (Slot s : slots) {
            if (s.job != null && s.dssd && s.dssdDone) {
                release(s);
            }
        }
    }

    /** A DSSD job on its decoder thread; every event it sends is its last word on the job. */
    private void runDssd(Job job, SelfSpeculativeDecoder decoder, int maxDraft) {
        try {
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("mode", job.spec.mode().id());
            report.put("epsilon", job.spec.epsilon());
            report.put("max_draft", maxDraft);
            SpeculativeResult r = decoder.generate(job.promptIds, job.maxTokens, job.sampling, id -> {
                if (job.cancelled()) {
                    throw new Cancelled();
                }
                emitToken(job, id, c.layers(), null, 0);
                dssdProduced.incrementAndGet();
            });
            double mean = java.util.Arrays.stream(r.exitLayers()).average().orElse(c.layers());
            report.put("mean_layers", round(mean));
            report.put("exits_per_layer", perLayer(r.exitLayers()));
            report.put("drafted", r.drafted());
            report.put("accepted", r.accepted());
            metrics.drafted.add(r.drafted());
            metrics.accepted.add(r.accepted());
            exitsToMetrics(r.exitLayers());
            Job.Finish finish = r.generation().stopReason() == GenerationResult.StopReason.STOP_TOKEN
                    ? Job.Finish.STOP : Job.Finish.LENGTH;
            job.emit(new Job.Done(finish, report));
        } catch (Cancelled e) {
            job.emit(new Job.Done(Job.Finish.CANCELLED, Map.of()));
        } catch (RuntimeException e) {
            job.emit(new Job.Failed(String.valueOf(e.getMessage())));
        }
    }

    private void exitsToMetrics(int[] layers) {
        // DSSD's layers are known only at the end (the drafting head of each accepted token).
        for (int l : layers) {
            metrics.exit(l);
        }
    }

    private static Map<String, Integer> perLayer(int[] exitLayers) {
        Map<Integer, Integer> counts = new TreeMap<>();
        for (int l : exitLayers) {
            counts.merge(l, 1, Integer::sum);
        }
        Map<String, Integer> out = new LinkedHashMap<>();
        counts.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    private static double round(double v) {
        return Math.round(v * 1000.0) / 1000.0;
    }

    private void failAll(String message) {
        Job j;
        if (pending != null) {
            pending.emit(new Job.Failed(message));
            pending = null;
            waiting.decrementAndGet();
        }
        while ((j = queue.poll()) != null) {
            j.emit(new Job.Failed(message));
            waiting.decrementAndGet();
        }
        for (Slot s : slots) {
            if (s.job != null && !s.dssd) {
                s.job.emit(new Job.Failed(message));
                release(s);
            }
        }
    }

    /** Cancels every running and waiting request (after a grace period the server gave them). */
    public void cancelAll() {
        for (Job job : queue) {
            job.cancel();
        }
        Job p = pending;
        if (p != null) {
            p.cancel();
        }
        for (Slot s : slots) {
            Job job = s.job;
            if (job != null) {
                job.cancel();
            }
        }
    }

    /** Stops admitting new jobs; the thread ends once running and queued jobs are done. */
    public void beginClose() {
        closing = true;
    }

    @Override
    public void close() throws InterruptedException {
        closing = true;
        cancelAll();
        thread.join(10_000);
        decoderThreads.shutdownNow();
    }
}
