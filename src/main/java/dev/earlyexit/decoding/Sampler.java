package dev.earlyexit.decoding;

import dev.earlyexit.tensor.Kernels;

import java.util.SplittableRandom;

/**
 * Picks a token from logits: greedy, or temperature sampling with optional top-k and top-p filters.
 * Deterministic for a seed; all working arrays are allocated once per vocabulary size.
 */
public final class Sampler {
    private final SamplingOptions options;
    private final SplittableRandom random;
    private final float[] probs;
    private final int[] order;
    private final float[] orderKeys;
    private final boolean[] probsKeep;

    public Sampler(SamplingOptions options, int vocabSize) {
        this.options = options;
        this.random = new SplittableRandom(options.seed());
        this.probs = new float[vocabSize];
        this.order = new int[vocabSize];
        this.orderKeys = new float[vocabSize];
        this.probsKeep = new boolean[vocabSize];
    }

    public SamplingOptions options() {
        return options;
    }

    /** Chooses a token from logits[off, off + vocab); the logits are left untouched. */
    public int sample(float[] logits, int off) {
        int n = probs.length;
        if (options.greedy()) {
            return Kernels.argmax(logits, off, n);
        }
        distribution(logits, off, probs);
        return sampleFrom(probs);
    }

    /** The filtered, renormalized distribution sampling draws from (temperature, top-k, top-p applied). */
    public void distribution(float[] logits, int off, float[] out) {
        int n = out.length;
        float invT = 1f / options.temperature();
        for (int i = 0; i < n; i++) {
            out[i] = logits[off + i] * invT;
        }
        Kernels.softmax(out, 0, n);
        int k = options.topK() > 0 ? Math.min(options.topK(), n) : n;
        if (k == n && options.topP() >= 1f) {
            return;
        }
        // Candidates in descending probability; keep the top k and the smallest prefix whose mass reaches top-p.
        // A token below (1 - topP) / (n - 1) can never enter the nucleus (llama2.c's observation),
        // which leaves a short list to sort instead of the whole vocabulary.
        float cutoff = k == n ? (1f - options.topP()) / (n - 1) : 0f;
        int candidates = 0;
        for (int i = 0; i < n; i++) {
            if (out[i] >= cutoff) {
                order[candidates] = i;
                orderKeys[candidates] = out[i];
                candidates++;
            }
        }
        sortDescending(order, orderKeys, 0, candidates - 1);
        k = Math.min(k, candidates);
        float cumulative = 0f;
        int keep = 0;
        while (keep < k) {
            cumulative += orderKeys[keep];
            keep++;
            if (cumulative >= options.topP()) {
                break;
            }
        }
        for (int i = 0; i < n; i++) {
            probsKeep[i] = false;
        }
        for (int i = 0; i < keep; i++) {
            probsKeep[order[i]] = true;
        }
        for (int i = 0; i < n; i++) {
            if (!probsKeep[i]) {
                out[i] = 0f;
            }
        }
        Kernels.scale(out, 0, n, 1f / cumulative);
    }

    /** Draws an index from a distribution that sums to one. */
    public int sampleFrom(float[] distribution) {
        double r = random.nextDouble();
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < distribution.length; i++) {
            if (distribution[i] > 0f) {
                cumulative += distribution[i];
                last = i;
                if (r < cumulative) {
                    return i;
                }
            }
        }
        return last; // rounding left r just above the total
    }

    /** One uniform draw in [0, 1), from the same seeded stream (speculative sampling's accept test). */
    public double nextUniform() {
        return random.nextDouble();
    }

    /** Quicksort of (index, key) pairs by key descending, ties by index ascending; no boxing. */
    private static void sortDescending(int[] idx, float[] key, int lo, int hi) {
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            float pk = key[mid];
            int pi = idx[mid];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (before(key[i], idx[i], pk, pi)) {
                    i++;
                }
                while (before(pk, pi, key[j], idx[j])) {
                    j--;
                }
                if (i <= j) {
                    float tk = key[i];
                    key[i] = key[j];
                    key[j] = tk;
                    int ti = idx[i];
                    idx[i] = idx[j];
                    idx[j] = ti;
                    i++;
                    j--;
                }
            }
            // Recurse into the smaller side to bound the stack depth.
            if (j - lo < hi - i) {
                sortDescending(idx, key, lo, j);
                lo = i;
            } else {
                sortDescending(idx, key, i, hi);
                hi = j;
            }
        }
    }

    private static boolean before(float ka, int ia, float kb, int ib) {
        return ka > kb || (ka == kb && ia < ib);
    }
}
