package dev.earlyexit.decoding;

import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.SequenceProbe;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.Kernels;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Early-exit generation: where a token exits, and how the KV cache stays exact. Everything that decides
 * the exit is in this file.
 *
 * <h2>Where a token exits</h2>
 * Each new token runs layer by layer. After layer d (1-based block count), if a consulted head sits at
 * d, the head's logits, their softmax and the metric's confidence are computed; the token exits there
 * when {@link #exits confidence >= τ}, τ being that head's calibrated threshold for the chosen ε. Heads
 * are consulted in ascending layer order and the first that passes answers; otherwise the model's own
 * final norm and classifier answer after the last layer. A head is consulted only when its threshold is
 * finite (a head that can never exit at this ε costs nothing), so the consulted set is the heads passed
 * in minus those with τ = +∞; callers restrict it further by giving +∞. The answering head's logits
 * are used as they are (greedy: argmax; sampling: the {@link Sampler}'s temperature/top-k/top-p
 * distribution over the head's outputs, mapped to token ids), never computed twice. Confidence is
 * always measured on the head's plain softmax (temperature 1), the distribution it was calibrated on.
 * A (subset) head may also sit after the last layer: a token it is confident about skips only the
 * model's classifier, which on small models is most of the weights (60% of stories15M's).
 *
 * <h2>Exact KV cache</h2>
 * A token that exits after d layers owes KV entries to layers d..L-1. Its hidden state after d layers
 * is kept (one row per position). Layer j's cache holds its own length; the positions in
 * [length(j), pos) are exactly the owed ones, and each of them is at depth j (the token at pos filled
 * them at every shallower layer on its way). So when a later token reaches layer j, it runs through
 * layer j together with all owed positions as one block of contiguous positions, which reads the
 * weights once for the whole block, advances the owed rows one layer and writes their true K/V. The
 * cache therefore always equals the full model's for every position a layer holds, and a layer is
 * filled before any later token reads it. {@link #fillCache} completes every layer (for tests, or to
 * hand the cache to a full-model step). The prefill runs the prompt through every layer, so the first
 * token comes from the final layer.
 *
 * <h2>Approximate KV fill (CALM)</h2>
 * With {@link KvFill#COPY_HIDDEN}, an exiting token instead writes the skipped layers' KV entries at
 * once from its exit hidden state (each skipped layer's norm, k/v projection and RoPE applied to it, as
 * CALM propagates the hidden state), so nothing is owed; the cache then differs from the full model's.
 *
 * <h2>Many sequences at once</h2>
 * {@link EarlyExitBatch} runs the same rule and the same exact fill for several sequences in one pass
 * per layer (the server's slots); each sequence's tokens and exit layers are this decoder's.
 *
 * <p>Scratch is allocated once per decoder and sampler; the decode loop allocates nothing.
 */
public final class EarlyExitDecoder {

    /** How skipped layers get their KV entries. */
    public enum KvFill {
        /** Exact: owed positions run through the skipped layers, batched with the next token that needs them. */
        EXACT,
        /** Approximate (CALM): the exit hidden state stands in as the input of every skipped layer. */
        COPY_HIDDEN
    }

    /** Receives each generated id with the 1-based layer count it was produced at, as soon as it is chosen. */
    @FunctionalInterface
    public interface TokenListener {
        void onToken(int id, int exitLayer);
    }

    private final Transformer model;
    private final ModelConfig c;
    private final ConfidenceMetric metric;
    private final KvFill kvFill;
    private final ExitHead[] heads;          // consulted heads, ascending layer
    private final double[] thresholds;       // their τ
    private final int[] headAtDepth;         // depth (1..L) -> index into heads, or -1
    private final float[][] headLogits;
    private final float[][] headSample;      // per head, exactly outputSize long (the sampler's n)
    private final float[] probs;
    private final KVCache cache;
    private final float[] cur;
    private final float[] pending;           // [maxSeqLen, dim]: hidden state of each position at its depth
    private final float[] block;             // [maxSeqLen, dim]
    private final float[] logits;
    private final int[] stopIds;
    private int fed;                         // positions fed to the model so far

    private long layerNanos;
    private long headNanos;
    private long classifierNanos;
    private long copyNanos;
    private long fillRows;
    private long headCalls;
    private long tokenLayers;
    private int finalHeadExits;

    /**
     * @param heads      exit heads (ascending layers)
     * @param thresholds τ per head, same order; +∞ (or NaN) = never consult that head
     * @param metric     the confidence metric the thresholds were calibrated for
     */
    public EarlyExitDecoder(Transformer model, HeadSet heads, double[] thresholds, ConfidenceMetric metric) {
        this(model, heads, thresholds, metric, KvFill.EXACT);
    }

    public EarlyExitDecoder(Transformer model, HeadSet heads, double[] thresholds, ConfidenceMetric metric,
                            KvFill kvFill) {
        this.kvFill = kvFill;
        if (thresholds.length != heads.size()) {
            throw new IllegalArgumentException(heads.size() + " heads but " + thresholds.length + " thresholds");
        }
        this.model = model;
        this.c = model.config();
        this.metric = metric;
        List<ExitHead> used = new ArrayList<>();
        List<Double> taus = new ArrayList<>();
        for (int k = 0; k < heads.size(); k++) {
            ExitHead h = heads.head(k);
            if (h.layer() >= 1 && h.layer() <= c.layers() && thresholds[k] < Double.POSITIVE_INFINITY) {
                used.add(h);
                taus.add(thresholds[k]);
            }
        }
        this.heads = used.toArray(new ExitHead[0]);
        this.thresholds = taus.stream().mapToDouble(Double::doubleValue).toArray();
        this.headAtDepth = new int[c.layers() + 1];
        Arrays.fill(headAtDepth, -1);
        int widest = 1;
        this.headLogits = new float[this.heads.length][];
        this.headSample = new float[this.heads.length][];
        for (int k = 0; k < this.heads.length; k++) {
            headAtDepth[this.heads[k].layer()] = k;
            headLogits[k] = new float[this.heads[k].outputSize()];
            headSample[k] = new float[this.heads[k].outputSize()];
            widest = Math.max(widest, this.heads[k].outputSize());
        }
        this.probs = new float[widest];
        this.cache = new KVCache(c);
        this.cur = new float[c.dim()];
        this.pending = new float[c.maxSeqLen() * c.dim()];
        this.block = new float[c.maxSeqLen() * c.dim()];
        this.logits = new float[c.vocabSize()];
        this.stopIds = Generator.stopIds(c);
    }

    /** The exit rule: a head answers when its confidence reaches its threshold. */
    public static boolean exits(double confidence, double threshold) {
        return confidence >= threshold;
    }

    /**
     * A head's confidence in one hidden state: its logits into headLogits, their plain softmax into probs
     * (scratch of at least the head's output size), then the metric.
     */
    static double confidence(ExitHead h, float[] hidden, int offset, float[] headLogits, float[] probs,
                             ConfidenceMetric metric, Transformer model) {
        h.logits(hidden, offset, headLogits, model.pool());
        return confidence(headLogits, h.outputSize(), probs, metric);
    }

    /**
     * The metric's confidence in a head's logits[0, m), measured on their plain softmax; also
     * {@link EarlyExitBatch}'s, which computes the logits of many sequences at once.
     */
    static double confidence(float[] headLogits, int m, float[] probs, ConfidenceMetric metric) {
        SequenceProbe.softmaxInto(headLogits, 0, m, probs);
        return metric.confidence(probs, m);
    }

    /**
     * The same rule applied to recorded confidences (teacher-forced scoring): the index of the first head,
     * in ascending layer order, whose confidence at position t reaches its threshold, or -1 for the
     * final layer. confidence is [head][position] in the order of {@code thresholds}.
     */
    public static int exitingHead(double[][] confidence, int t, double[] thresholds) {
        for (int k = 0; k < thresholds.length; k++) {
            if (exits(confidence[k][t], thresholds[k])) {
                return k;
            }
        }
        return -1;
    }

    /** Layers of the heads this decoder consults. */
    public int[] consultedLayers() {
        return Arrays.stream(heads).mapToInt(ExitHead::layer).toArray();
    }

    public EarlyExitResult generate(int[] promptIds, int maxTokens, SamplingOptions sampling,
                                    TokenListener listener) {
        return generate(promptIds, maxTokens, sampling, listener, true);
    }

    public EarlyExitResult generate(int[] promptIds, int maxTokens, SamplingOptions sampling,
                                    TokenListener listener, boolean honorStopTokens) {
        return generate(promptIds, maxTokens, sampling, listener, honorStopTokens, null);
    }

    /**
     * As above; with {@code teacher} non-null the model is fed teacher[i] after the i-th token instead of
     * its own choice (teacher forcing through the real decode loop, approximate KV fill included), while
     * the result still reports the tokens early exit chose.
     */
    public EarlyExitResult generate(int[] promptIds, int maxTokens, SamplingOptions sampling,
                                    TokenListener listener, boolean honorStopTokens, int[] teacher) {
        Generator.checkPrompt(promptIds, c);
        if (teacher != null && teacher.length < maxTokens - 1) {
            throw new IllegalArgumentException("teacher forcing needs " + (maxTokens - 1) + " tokens, got " + teacher.length);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
        }
        int L = c.layers();
        int dim = c.dim();
        Sampler sampler = new Sampler(sampling, c.vocabSize());
        cache.clear();
        layerNanos = 0;
        headNanos = 0;
        classifierNanos = 0;
        copyNanos = 0;
        fillRows = 0;
        headCalls = 0;
        tokenLayers = 0;
        finalHeadExits = 0;
        int capacity = Math.min(maxTokens, c.maxSeqLen() - promptIds.length);
        int[] out = new int[capacity];
        int[] exitLayers = new int[capacity];
        int produced = 0;

        long t0 = System.nanoTime();
        int n = promptIds.length;
        model.embed(promptIds, 0, n, 0, block);
        model.forward(block, n, 0, L, cache);
        model.logits(block, n - 1, logits);
        int next = sampler.sample(logits, 0);
        int exitLayer = L;
        fed = n;
        long t1 = System.nanoTime();

        GenerationResult.StopReason reason = GenerationResult.StopReason.MAX_TOKENS;
        int[] one = new int[1];
        int steps = 0;
        while (true) {
            if (honorStopTokens && Generator.isStop(stopIds, next)) {
                reason = GenerationResult.StopReason.STOP_TOKEN;
                break;
            }
            out[produced] = next;
            exitLayers[produced] = exitLayer;
            produced++;
            if (listener != null) {
                listener.onToken(next, exitLayer);
            }
            if (produced == maxTokens) {
                break;
            }
            int pos = fed;
            if (pos + 1 >= c.maxSeqLen()) {
                reason = GenerationResult.StopReason.CONTEXT_FULL;
                break;
            }
            one[0] = teacher != null ? teacher[produced - 1] : next;
            model.embed(one, 0, 1, pos, cur);
            next = -1;
            exitLayer = L;
            for (int j = 0; j < L && next < 0; j++) {
                long a = System.nanoTime();
                runLayer(j, pos);
                long b = System.nanoTime();
                layerNanos += b - a;
                int k = headAtDepth[j + 1];
                if (k >= 0) {
                    ExitHead h = heads[k];
                    double confidence = confidence(h, cur, 0, headLogits[k], probs, metric, model);
                    headCalls++;
                    if (exits(confidence, thresholds[k])) {
                        next = h.tokenId(pick(sampler, headLogits[k], headSample[k]));
                        exitLayer = j + 1;
                        headNanos += System.nanoTime() - b;
                        if (j + 1 == L) {
                            finalHeadExits++; // every layer ran: nothing is owed
                        } else if (kvFill == KvFill.EXACT) {
                            System.arraycopy(cur, 0, pending, pos * dim, dim);
                        } else {
                            long e = System.nanoTime();
                            for (int skipped = j + 1; skipped < L; skipped++) {
                                model.appendKeyValues(cur, 1, skipped, cache);
                            }
                            fillRows += L - (j + 1);
                            copyNanos += System.nanoTime() - e;
                        }
                    } else {
                        headNanos += System.nanoTime() - b;
                    }
                }
            }
            if (next < 0) {
                long a = System.nanoTime();
                model.logits(cur, 0, logits);
                next = sampler.sample(logits, 0);
                classifierNanos += System.nanoTime() - a;
            }
            tokenLayers += exitLayer;
            fed = pos + 1;
            steps++;
        }
        long t2 = System.nanoTime();
        GenerationResult g = new GenerationResult(promptIds.clone(), Arrays.copyOf(out, produced), (t1 - t0) / 1e6,
                (t2 - t1) / 1e6, steps, reason);
        return new EarlyExitResult(g, Arrays.copyOf(exitLayers, produced), L, consultedLayers(), layerNanos / 1e6,
                headNanos / 1e6, classifierNanos / 1e6, copyNanos / 1e6, fillRows, headCalls, tokenLayers,
                finalHeadExits);
    }

    /** Greedy: the head's argmax; sampling: a draw from the sampler's distribution over the head's outputs. */
    static int pick(Sampler sampler, float[] headLogits, float[] scratch) {
        if (sampler.options().greedy()) {
            return Kernels.argmax(headLogits, 0, headLogits.length);
        }
        sampler.distribution(headLogits, 0, scratch);
        return sampler.sampleFrom(scratch);
    }

    /**
     * Runs the current token (hidden state in cur, position pos) through layer j, together with every
     * position that still owes layer j its KV entry (all of them at depth j), as one block.
     */
    private void runLayer(int j, int pos) {
        int s = cache.length(j);
        if (s == pos) {
            model.forward(cur, 1, j, j + 1, cache);
            return;
        }
        int dim = c.dim();
        int owed = pos - s;
        System.arraycopy(pending, s * dim, block, 0, owed * dim);
        System.arraycopy(cur, 0, block, owed * dim, dim);
        model.forward(block, owed + 1, j, j + 1, cache);
        System.arraycopy(block, 0, pending, s * dim, owed * dim);
        System.arraycopy(block, owed * dim, cur, 0, dim);
        fillRows += owed;
    }

    /** Fills every KV entry still owed, so each layer holds every position fed so far. */
    public void fillCache() {
        int dim = c.dim();
        for (int j = 0; j < c.layers(); j++) {
            int s = cache.length(j);
            if (s < fed) {
                int owed = fed - s;
                System.arraycopy(pending, s * dim, block, 0, owed * dim);
                model.forward(block, owed, j, j + 1, cache);
                System.arraycopy(block, 0, pending, s * dim, owed * dim);
            }
        }
    }

    /** Positions fed to the model by the last generation (prompt and generated tokens but the last). */
    public int positions() {
        return fed;
    }

    /** The cache of the last generation; deep layers may lag until {@link #fillCache}. */
    public KVCache cache() {
        return cache;
    }
}
