package dev.earlyexit.server;

import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.EarlyExitResult;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.Sampler;
import dev.earlyexit.decoding.SelfSpeculativeDecoder;
import dev.earlyexit.decoding.SpeculativeResult;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The one thread that drives the model. Full-model requests decode in slots: every step, the next
 * token of each active slot runs through the model as one block ({@link Transformer#forwardRows}), so
 * each weight is read once per step for all of them, and the classifier runs once for the block. A
 * new request is prefilled alone (its prompt as one block) when a slot is free, then joins the next
 * step. Each slot has its own KV cache and sampler, so its output is what {@link Generator} gives for
 * the same request alone (greedy: identical).
 *
 * <p>Early-exit and DSSD requests run through {@link EarlyExitDecoder} / {@link SelfSpeculativeDecoder}
 * one at a time: when one reaches the head of the queue, no new request is admitted until the running
 * slots have finished, then it runs alone. Their per-slot form inside the batch is not built.
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

    // Batch buffers, sized for every slot at once: the step allocates nothing but the events it sends.
    private final float[] x;
    private final float[] row;
    private final float[] logits;
    private final float[] prefillLogits;
    private final KVCache[] rowCaches;
    private final Slot[] rowSlots;
    private final int[] oneToken = new int[1];

    private static final class Slot {
        final KVCache cache;
        Job job;
        Sampler sampler;
        int produced;
        int position;   // where `next` goes when it is fed
        int next;

        Slot(ModelConfig c) {
            this.cache = new KVCache(c);
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
        this.slots = new Slot[slotCount];
        for (int i = 0; i < slotCount; i++) {
            slots[i] = new Slot(c);
        }
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.queueCapacity = queueCapacity;
        this.x = new float[slotCount * c.dim()];
        this.row = new float[c.dim()];
        this.logits = new float[slotCount * c.vocabSize()];
        this.prefillLogits = new float[c.vocabSize()];
        this.rowCaches = new KVCache[slotCount];
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
                    if (job.spec.mode() != ExitSpec.Mode.FULL) {
                        if (busy == 0) {
                            pending = null;
                            waiting.decrementAndGet();
                            runAlone(job);
                        }
                        break;
                    }
                    Slot free = freeSlot();
                    if (free == null) {
                        break;
                    }
                    pending = queue.poll();
                    waiting.decrementAndGet();
                    start(free, job);
                }
                if (busy > 0) {
                    step();
                } else {
                    metrics.idle();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
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
            int n = job.promptIds.length;
            s.cache.clear();
            float[] block = new float[n * c.dim()];
            model.embed(job.promptIds, 0, n, 0, block);
            model.forward(block, n, 0, c.layers(), s.cache);
            model.logits(block, n - 1, prefillLogits);
            s.job = job;
            s.sampler = new Sampler(job.sampling, c.vocabSize());
            s.produced = 0;
            busy++;
            int next = s.sampler.sample(prefillLogits, 0);
            accept(s, next, prefillLogits, 0);
            metrics.produced(1);
        } catch (RuntimeException e) {
            job.emit(new Job.Failed(String.valueOf(e.getMessage())));
            release(s);
        }
    }

    /** One decode step for every active slot, as one block through the model. */
    private void step() {
        int T = 0;
        int dim = c.dim();
        for (Slot s : slots) {
            if (s.job == null) {
                continue;
            }
            if (s.job.cancelled()) {
                s.job.emit(new Job.Done(Job.Finish.CANCELLED, Map.of()));
                release(s);
                continue;
            }
            oneToken[0] = s.next;
            model.embed(oneToken, 0, 1, s.position, row);
            System.arraycopy(row, 0, x, T * dim, dim);
            rowCaches[T] = s.cache;
            rowSlots[T] = s;
            T++;
        }
        if (T == 0) {
            return;
        }
        model.forwardRows(x, T, rowCaches);
        model.logitsBlock(x, T, logits);
        metrics.decodeSteps.increment();
        metrics.batchedRows.add(T);
        int vocab = c.vocabSize();
        for (int t = 0; t < T; t++) {
            Slot s = rowSlots[t];
            accept(s, s.sampler.sample(logits, t * vocab), logits, t * vocab);
            rowSlots[t] = null;
            rowCaches[t] = null;
        }
        metrics.produced(T);
    }

    /** A slot's newly chosen token, with Generator's order of checks: stop token, max tokens, context. */
    private void accept(Slot s, int next, float[] logitRows, int off) {
        Job job = s.job;
        if (Generator.isStop(stopIds, next)) {
            finish(s, Job.Finish.STOP);
            return;
        }
        s.produced++;
        emitToken(job, next, c.layers(), logitRows, off);
        metrics.exit(c.layers());
        int pos = job.promptIds.length + s.produced - 1;
        if (s.produced == job.maxTokens || pos + 1 >= c.maxSeqLen()) {
            finish(s, Job.Finish.LENGTH);
            return;
        }
        s.next = next;
        s.position = pos;
    }

    private void finish(Slot s, Job.Finish finish) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("mode", ExitSpec.Mode.FULL.id());
        report.put("mean_layers", (double) c.layers());
        report.put("exits_per_layer", s.produced == 0 ? Map.of() : Map.of(String.valueOf(c.layers()), s.produced));
        report.put("drafted", 0);
        report.put("accepted", 0);
        s.job.emit(new Job.Done(finish, report));
        release(s);
    }

    private void release(Slot s) {
        if (s.job != null && s.sampler != null) {
            busy--;
        }
        s.job = null;
        s.sampler = null;
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

    // ------------------------------------------------------------------ early exit and DSSD, one at a time

    /** Thrown from a decoder's token listener to abandon a cancelled request. */
    private static final class Cancelled extends RuntimeException {
        Cancelled() {
            super(null, null, false, false);
        }
    }

    private void runAlone(Job job) {
        metrics.promptTokens.add(job.promptIds.length);
        busy++;
        try {
            exits.require(job.spec.mode());
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("mode", job.spec.mode().id());
            report.put("epsilon", job.spec.epsilon());
            GenerationResult.StopReason reason;
            if (job.spec.mode() == ExitSpec.Mode.EARLY_EXIT) {
                double[] tau = exits.thresholds(job.spec.epsilon());
                EarlyExitDecoder decoder = new EarlyExitDecoder(model, exits.heads(), tau, exits.metric());
                EarlyExitResult r = decoder.generate(job.promptIds, job.maxTokens, job.sampling, (id, layer) -> {
                    if (job.cancelled()) {
                        throw new Cancelled();
                    }
                    emitToken(job, id, layer, null, 0);
                    metrics.exit(layer);
                    metrics.produced(1);
                });
                reason = r.generation().stopReason();
                report.put("mean_layers", round(r.meanLayers()));
                report.put("exits_per_layer", perLayer(r.exitLayers()));
                report.put("drafted", 0);
                report.put("accepted", 0);
            } else {
                Optional<CalibratedDraft> draft = exits.draft(job.spec.epsilon(), job.spec.maxDraft());
                report.put("max_draft", draft.map(CalibratedDraft::maxDraft).orElse(job.spec.maxDraft()));
                int[] layers = new int[Math.max(1, job.maxTokens)];
                int[] count = {0};
                Generator.TokenListener listener = id -> {
                    if (job.cancelled()) {
                        throw new Cancelled();
                    }
                    emitToken(job, id, c.layers(), null, 0);
                    metrics.produced(1);
                    count[0]++;
                };
                if (draft.isEmpty()) {
                    // No head is trusted at this ε: every token comes from the full model.
                    GenerationResult g = new Generator(model).generate(job.promptIds, job.maxTokens, job.sampling,
                            listener);
                    reason = g.stopReason();
                    java.util.Arrays.fill(layers, 0, g.ids().length, c.layers());
                    report.put("mean_layers", (double) c.layers());
                    report.put("exits_per_layer", perLayer(java.util.Arrays.copyOf(layers, g.ids().length)));
                    report.put("drafted", 0);
                    report.put("accepted", 0);
                    exitsToMetrics(java.util.Arrays.copyOf(layers, g.ids().length));
                } else {
                    SelfSpeculativeDecoder decoder = draft.get().decoder(model);
                    SpeculativeResult r = decoder.generate(job.promptIds, job.maxTokens, job.sampling, listener);
                    reason = r.generation().stopReason();
                    double mean = java.util.Arrays.stream(r.exitLayers()).average().orElse(c.layers());
                    report.put("mean_layers", round(mean));
                    report.put("exits_per_layer", perLayer(r.exitLayers()));
                    report.put("drafted", r.drafted());
                    report.put("accepted", r.accepted());
                    metrics.drafted.add(r.drafted());
                    metrics.accepted.add(r.accepted());
                    exitsToMetrics(r.exitLayers());
                }
            }
            Job.Finish finish = reason == GenerationResult.StopReason.STOP_TOKEN ? Job.Finish.STOP : Job.Finish.LENGTH;
            job.emit(new Job.Done(finish, report));
        } catch (Cancelled e) {
            job.emit(new Job.Done(Job.Finish.CANCELLED, Map.of()));
        } catch (ApiException e) {
            job.emit(new Job.Failed(e.getMessage()));
        } catch (RuntimeException e) {
            job.emit(new Job.Failed(String.valueOf(e.getMessage())));
        } finally {
            busy--;
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
            if (s.job != null) {
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
    }
}
