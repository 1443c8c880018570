package dev.earlyexit.calibration;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.Kernels;

import java.util.Arrays;
import java.util.List;

/**
 * Runs a token sequence teacher-forced through the full model once (one block, layer by layer) and
 * records, at every position, what the full model and every head would answer: argmax, log-probability
 * of the next token of the sequence, and each metric's confidence. With the exact KV fill of
 * {@link dev.earlyexit.decoding.EarlyExitDecoder}, these are exactly the hidden states early-exit
 * decoding sees, so calibration, scoring and agreement measures are all read off one probe.
 */
public final class SequenceProbe {
    private static final int CHUNK = 32;

    private final Transformer model;
    private final HeadSet heads;
    private final List<ConfidenceMetric> metrics;
    private final KVCache cache;
    private final float[] chunkOut;
    private final float[] chunkIn;
    private final float[] probs;
    /** The tokens whose K/V the cache holds, positions [0, cachedLength). */
    private int[] cachedIds = new int[0];
    private int cachedLength;

    /**
     * What every exit and the full model answer at each position t of a sequence of n tokens (the
     * prediction made after reading tokens 0..t).
     *
     * @param modelArgmax  [n] the full model's argmax
     * @param modelLogProb [n] log p_model(ids[t + 1]); NaN at the last position
     * @param headArgmax   [K][n] token id of each head's argmax
     * @param headLogProb  [K][n] log p_head(ids[t + 1]); -∞ where the head cannot produce it; NaN last
     * @param confidence   [metric][K][n] each head's confidence
     */
    public record Result(int length, int[] modelArgmax, float[] modelLogProb, int[][] headArgmax, float[][] headLogProb,
                         double[][][] confidence) {
    }

    public SequenceProbe(Transformer model, HeadSet heads, List<ConfidenceMetric> metrics) {
        this.model = model;
        this.heads = heads;
        this.metrics = List.copyOf(metrics);
        ModelConfig c = model.config();
        this.cache = new KVCache(c);
        int widest = c.vocabSize();
        for (ExitHead h : heads.heads()) {
            widest = Math.max(widest, h.outputSize());
        }
        this.chunkOut = new float[CHUNK * widest];
        this.chunkIn = new float[CHUNK * c.dim()];
        this.probs = new float[widest];
    }

    public List<ConfidenceMetric> metrics() {
        return metrics;
    }

    /** Every position of the sequence, computed from scratch. */
    public Result run(int[] ids) {
        cache.clear();
        cachedLength = 0;
        return run(ids, 0, ids.length);
    }

    /**
     * Runs tokens [0, to) and records the answers at positions [from, to) only; the others hold -1 (argmax)
     * and NaN. Scoring a continuation needs just its own positions, and the classifier (32000 x 288 on
     * stories15M) is most of the cost of a position. The KV entries of the longest prefix shared with the
     * previous call's tokens (at most {@code from} of them) are kept rather than recomputed: a causal
     * model's K/V at a position depend only on the tokens up to it, so choices that share a context run
     * that context once.
     */
    public Result run(int[] ids, int from, int to) {
        ModelConfig c = model.config();
        int n = ids.length;
        if (from < 0 || from > to || to > n) {
            throw new IllegalArgumentException("positions [" + from + ", " + to + ") are outside [0, " + n + "]");
        }
        int dim = c.dim();
        int K = heads.size();
        int reuse = 0;
        int shared = Math.min(Math.min(cachedLength, from), to);
        while (reuse < shared && cachedIds[reuse] == ids[reuse]) {
            reuse++;
        }
        cache.truncateAll(reuse);
        cachedLength = reuse; // until this run completes, only the shared prefix is known to be in the cache
        int fed = to - reuse;
        float[] x = new float[fed * dim];
        float[][] hidden = new float[K][];
        if (fed > 0) {
            model.embed(ids, reuse, fed, reuse, x);
            for (int l = 0; l < c.layers(); l++) {
                model.forward(x, fed, l, l + 1, cache);
                for (int k = 0; k < K; k++) {
                    if (heads.head(k).layer() == l + 1) {
                        hidden[k] = x.clone();
                    }
                }
            }
        }
        cachedIds = ids.clone();
        cachedLength = to;
        int[] modelArgmax = new int[n];
        float[] modelLogProb = new float[n];
        int[][] headArgmax = new int[K][n];
        float[][] headLogProb = new float[K][n];
        double[][][] conf = new double[metrics.size()][K][n];
        Arrays.fill(modelArgmax, -1);
        Arrays.fill(modelLogProb, Float.NaN);
        for (int k = 0; k < K; k++) {
            Arrays.fill(headArgmax[k], -1);
            Arrays.fill(headLogProb[k], Float.NaN);
            for (double[][] m : conf) {
                Arrays.fill(m[k], Double.NaN);
            }
        }
        for (int t0 = from; t0 < to; t0 += CHUNK) {
            int T = Math.min(CHUNK, to - t0);
            int row0 = t0 - reuse; // x holds positions [reuse, to)
            System.arraycopy(x, row0 * dim, chunkIn, 0, T * dim);
            model.logitsBlock(chunkIn, T, chunkOut);
            for (int t = 0; t < T; t++) {
                int pos = t0 + t;
                int next = pos + 1 < n ? ids[pos + 1] : -1;
                int off = t * c.vocabSize();
                modelArgmax[pos] = Kernels.argmax(chunkOut, off, c.vocabSize());
                modelLogProb[pos] = next < 0 ? Float.NaN : logProb(chunkOut, off, c.vocabSize(), next);
            }
            for (int k = 0; k < K; k++) {
                ExitHead h = heads.head(k);
                int m = h.outputSize();
                h.logitsBlock(hidden[k], row0 * dim, dim, T, chunkOut, model.pool());
                for (int t = 0; t < T; t++) {
                    int pos = t0 + t;
                    int off = t * m;
                    headArgmax[k][pos] = h.tokenId(Kernels.argmax(chunkOut, off, m));
                    int next = pos + 1 < n ? ids[pos + 1] : -1;
                    if (next < 0) {
                        headLogProb[k][pos] = Float.NaN;
                    } else {
                        int idx = h.indexOf(next);
                        headLogProb[k][pos] = idx < 0 ? Float.NEGATIVE_INFINITY : logProb(chunkOut, off, m, idx);
                    }
                    softmaxInto(chunkOut, off, m, probs);
                    for (int mi = 0; mi < metrics.size(); mi++) {
                        conf[mi][k][pos] = metrics.get(mi).confidence(probs, m);
                    }
                }
            }
        }
        return new Result(n, modelArgmax, modelLogProb, headArgmax, headLogProb, conf);
    }

    /** log softmax(logits)[index] over logits[off, off + n). */
    static float logProb(float[] logits, int off, int n, int index) {
        float max = Kernels.max(logits, off, n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        return (float) (logits[off + index] - max - Math.log(sum));
    }

    /** out[0, n) = softmax(logits[off, off + n)); logits untouched. */
    public static void softmaxInto(float[] logits, int off, int n, float[] out) {
        System.arraycopy(logits, off, out, 0, n);
        Kernels.softmax(out, 0, n);
    }
}
