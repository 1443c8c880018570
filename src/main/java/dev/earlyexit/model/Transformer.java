package dev.earlyexit.model;

import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.ThreadPool;

/**
 * The forward pass of a decoder-only transformer, for every architecture {@link ModelConfig} can
 * describe. Work is expressed on blocks of T tokens held as a flat hidden state x[T, dim]:
 *
 * <ul>
 *   <li>{@link #embed} turns ids into x;</li>
 *   <li>{@link #forward} runs x through layers [from, to), appending T positions to each of those
 *       layers' KV cache (the positions follow that layer's own filled length);</li>
 *   <li>{@link #logits} applies the final norm and the classifier to chosen rows of x.</li>
 * </ul>
 *
 * Early exit and speculative decoding are built from these three calls. Scratch buffers grow to the
 * largest block seen, so a decode step (T = 1) allocates nothing. One instance is driven by one
 * thread at a time.
 */
public final class Transformer {
    private final ModelConfig c;
    private final ModelWeights w;
    private final ThreadPool pool;
    private final float[] ropeCos;
    private final float[] ropeSin;
    private final AttentionTask attentionTask = new AttentionTask();
    private final float[][] scores;

    private int blockCapacity;
    private float[] xb;      // normed input [T, dim]
    private float[] xb2;     // second norm for parallel residual [T, dim]
    private float[] qkv;     // [T, qkvDim]
    private float[] att;     // attention output [T, qDim]
    private float[] proj;    // [T, dim]
    private float[] up;      // [T, 2*hidden] or [T, hidden]
    private float[] act;     // [T, hidden]
    private float[] mlpOut;  // [T, dim]
    private final float[] normRow;

    public Transformer(ModelConfig config, ModelWeights weights, ThreadPool pool) {
        this.c = config;
        this.w = weights;
        this.pool = pool;
        checkQkNorms(config, weights);
        int half = c.rotaryDim() / 2;
        double[] invFreq = c.ropeScaling().inverseFrequencies(c.rotaryDim(), c.ropeTheta());
        this.ropeCos = new float[c.maxSeqLen() * Math.max(half, 1)];
        this.ropeSin = new float[c.maxSeqLen() * Math.max(half, 1)];
        for (int p = 0; p < c.maxSeqLen(); p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                ropeCos[p * half + i] = (float) Math.cos(angle);
                ropeSin[p * half + i] = (float) Math.sin(angle);
            }
        }
        this.scores = new float[pool.threads()][c.maxSeqLen()];
        this.normRow = new float[c.dim()];
        ensureBlock(1);
    }

    /** The per-head q/k norm weights exist exactly when the config says so: never silently unused. */
    private static void checkQkNorms(ModelConfig c, ModelWeights w) {
        for (int l = 0; l < w.layers().length; l++) {
            LayerWeights lw = w.layers()[l];
            for (float[] n : new float[][] {lw.qNorm(), lw.kNorm()}) {
                if (c.qkNorm() ? n == null || n.length != c.headDim() : n != null) {
                    throw new IllegalArgumentException("layer " + l + ": " + (c.qkNorm()
                            ? "q/k norm weights of length " + c.headDim() + " expected (config has qkNorm)"
                            : "q/k norm weights given but the config has no qkNorm"));
                }
            }
        }
    }

    public ModelConfig config() {
        return c;
    }

    public ModelWeights weights() {
        return w;
    }

    public ThreadPool pool() {
        return pool;
    }

    private void ensureBlock(int T) {
        if (T <= blockCapacity) {
            return;
        }
        int cap = Math.max(T, blockCapacity * 2);
        int upRows = c.mlp() == ModelConfig.MlpKind.SWIGLU ? 2 * c.hiddenDim() : c.hiddenDim();
        xb = new float[cap * c.dim()];
        xb2 = new float[cap * c.dim()];
        qkv = new float[cap * c.qkvDim()];
        att = new float[cap * c.qDim()];
        proj = new float[cap * c.dim()];
        up = new float[cap * upRows];
        act = new float[cap * c.hiddenDim()];
        mlpOut = new float[cap * c.dim()];
        blockCapacity = cap;
    }

    /** x[t] = embedding(tokens[off + t]) (+ position embedding of startPos + t), t in [0, T). */
    public void embed(int[] tokens, int off, int T, int startPos, float[] x) {
        int dim = c.dim();
        for (int t = 0; t < T; t++) {
            int id = tokens[off + t];
            if (id < 0 || id >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, "
                        + c.vocabSize() + ")");
            }
            w.tokenEmbedding().row(id, x, t * dim);
            if (w.positionEmbedding() != null) {
                int pos = startPos + t;
                if (pos >= c.maxSeqLen()) {
                    throw new IllegalArgumentException("position " + pos + " is beyond the context of "
                            + c.maxSeqLen());
                }
                Kernels.add(w.positionEmbedding(), pos * dim, x, t * dim, dim);
            }
        }
    }

    /** Runs the block x[T, dim] through layers [from, to) in place. */
    public void forward(float[] x, int T, int from, int to, KVCache cache) {
        if (from < 0 || to > c.layers() || from > to) {
            throw new IllegalArgumentException("layer range [" + from + ", " + to + ") is outside [0, "
                    + c.layers() + "]");
        }
        for (int l = from; l < to; l++) {
            if (cache.length(l) + T > cache.capacity()) {
                throw new IllegalStateException("context is full: layer " + l + " holds " + cache.length(l)
                        + " positions and " + T + " more exceed the context of " + cache.capacity());
            }
        }
        ensureBlock(T);
        for (int l = from; l < to; l++) {
            layer(l, x, T, cache);
        }
    }

    private void layer(int l, float[] x, int T, KVCache cache) {
        LayerWeights lw = w.layers()[l];
        int dim = c.dim();
        int pos0 = cache.append(l, T);

        for (int t = 0; t < T; t++) {
            norm(xb, t * dim, x, t * dim, lw.attnNorm(), lw.attnNormBias());
            if (c.residual() == ModelConfig.ResidualKind.PARALLEL) {
                norm(xb2, t * dim, x, t * dim, lw.mlpNorm(), lw.mlpNormBias());
            }
        }

        // Attention
        int qkvDim = c.qkvDim();
        lw.wqkv().matmul(xb, T, qkv, pool);
        addBias(qkv, T, qkvDim, lw.bqkv());
        int qDim = c.qDim();
        int kvDim = c.kvDim();
        float[] keys = cache.keys[l];
        float[] values = cache.values[l];
        for (int t = 0; t < T; t++) {
            int row = t * qkvDim;
            int pos = pos0 + t;
            for (int h = 0; h < c.heads(); h++) {
                headNorm(qkv, row + h * c.headDim(), lw.qNorm());
                rope(qkv, row + h * c.headDim(), pos);
            }
            for (int h = 0; h < c.kvHeads(); h++) {
                headNorm(qkv, row + qDim + h * c.headDim(), lw.kNorm());
                rope(qkv, row + qDim + h * c.headDim(), pos);
            }
            int capacity = cache.capacity();
            for (int d = 0; d < kvDim; d++) {
                keys[d * capacity + pos] = qkv[row + qDim + d];
            }
            System.arraycopy(qkv, row + qDim + kvDim, values, pos * kvDim, kvDim);
        }
        attentionTask.set(keys, values, cache.capacity(), pos0, T);
        pool.parallelFor(c.heads() * T, attentionTask);
        attentionTask.clear();
        lw.wo().matmul(att, T, proj, pool);
        addBias(proj, T, dim, lw.bo());

        // MLP and residual
        switch (c.residual()) {
            case SEQUENTIAL -> {
                Kernels.add(proj, 0, x, 0, T * dim);
                for (int t = 0; t < T; t++) {
                    norm(xb, t * dim, x, t * dim, lw.mlpNorm(), lw.mlpNormBias());
                }
                mlp(lw, xb, T);
                Kernels.add(mlpOut, 0, x, 0, T * dim);
            }
            case PARALLEL -> {
                mlp(lw, xb2, T);
                Kernels.add(proj, 0, x, 0, T * dim);
                Kernels.add(mlpOut, 0, x, 0, T * dim);
            }
            case PARALLEL_SHARED_NORM -> {
                mlp(lw, xb, T);
                Kernels.add(proj, 0, x, 0, T * dim);
                Kernels.add(mlpOut, 0, x, 0, T * dim);
            }
        }
    }

    /** mlpOut[T, dim] = MLP(in[T, dim]). */
    private void mlp(LayerWeights lw, float[] in, int T) {
        int hidden = c.hiddenDim();
        if (c.mlp() == ModelConfig.MlpKind.SWIGLU) {
            lw.wUp().matmul(in, T, up, pool);
            addBias(up, T, 2 * hidden, lw.bUp()); // gate|up bias (HF Llama mlp_bias)
            for (int t = 0; t < T; t++) {
                int row = t * 2 * hidden;
                Kernels.siluMul(up, row, up, row + hidden, hidden);
                System.arraycopy(up, row, act, t * hidden, hidden);
            }
        } else {
            lw.wUp().matmul(in, T, act, pool);
            addBias(act, T, hidden, lw.bUp());
            if (c.mlp() == ModelConfig.MlpKind.GELU_EXACT) {
                Kernels.geluExact(act, 0, T * hidden);
            } else {
                Kernels.geluTanh(act, 0, T * hidden);
            }
        }
        lw.wDown().matmul(act, T, mlpOut, pool);
        addBias(mlpOut, T, c.dim(), lw.bDown());
    }

    private void norm(float[] out, int outOff, float[] x, int xOff, float[] weight, float[] bias) {
        if (c.norm() == ModelConfig.NormKind.RMS) {
            Kernels.rmsNorm(out, outOff, x, xOff, weight, c.dim(), c.normEps());
        } else {
            Kernels.layerNorm(out, outOff, x, xOff, weight, bias, c.dim(), c.normEps());
        }
    }

    private static void addBias(float[] y, int T, int n, float[] bias) {
        if (bias == null) {
            return;
        }
        for (int t = 0; t < T; t++) {
            Kernels.add(bias, 0, y, t * n, n);
        }
    }

    /** In-place RMSNorm of one head (Qwen3's q_norm / k_norm); nothing when the model has none. */
    private void headNorm(float[] v, int off, float[] weight) {
        if (weight != null) {
            Kernels.rmsNorm(v, off, v, off, weight, c.headDim(), c.normEps());
        }
    }

    private void rope(float[] v, int off, int pos) {
        int half = c.rotaryDim() / 2;
        int base = pos * half;
        if (c.ropeStyle() == ModelConfig.RopeStyle.INTERLEAVED) {
            for (int i = 0; i < half; i++) {
                float cos = ropeCos[base + i];
                float sin = ropeSin[base + i];
                float a = v[off + 2 * i];
                float b = v[off + 2 * i + 1];
                v[off + 2 * i] = a * cos - b * sin;
                v[off + 2 * i + 1] = a * sin + b * cos;
            }
        } else {
            for (int i = 0; i < half; i++) {
                float cos = ropeCos[base + i];
                float sin = ropeSin[base + i];
                float a = v[off + i];
                float b = v[off + i + half];
                v[off + i] = a * cos - b * sin;
                v[off + i + half] = b * cos + a * sin;
            }
        }
    }

    /** Causal attention of each (head, token) pair of the block against the layer's cache. */
    private final class AttentionTask implements ThreadPool.RangeTask {
        private float[] keys;
        private float[] values;
        private int capacity;
        private int pos0;
        private int T;

        void set(float[] keys, float[] values, int capacity, int pos0, int T) {
            this.keys = keys;
            this.values = values;
            this.capacity = capacity;
            this.pos0 = pos0;
            this.T = T;
        }

        void clear() {
            keys = null;
            values = null;
        }

        @Override
        public void run(int start, int end, int worker) {
            int hd = c.headDim();
            int kvDim = c.kvDim();
            int qkvDim = c.qkvDim();
            int qDim = c.qDim();
            int group = c.heads() / c.kvHeads();
            float scale = (float) (1.0 / Math.sqrt(hd));
            float[] s = scores[worker];
            for (int job = start; job < end; job++) {
                int t = job / c.heads();
                int h = job % c.heads();
                int qOff = t * qkvDim + h * hd;
                int kvOff = (h / group) * hd;
                int last = pos0 + t;
                Kernels.transposedScores(qkv, qOff, keys, kvOff * capacity, capacity, hd, last + 1, scale, s);
                Kernels.softmax(s, 0, last + 1);
                Kernels.weightedRowSum(s, last + 1, values, kvOff, kvDim, att, t * qDim + h * hd, hd);
            }
        }
    }

    /**
     * Appends T positions to one layer's KV cache computed from x[T, dim] taken as that layer's input,
     * without running the rest of the layer (norm, q|k|v projection, RoPE). This is CALM's approximate
     * fill for layers an early-exited token skipped: its exit hidden state stands in for the true input.
     * x is left untouched.
     */
    public void appendKeyValues(float[] x, int T, int layer, KVCache cache) {
        if (cache.length(layer) + T > cache.capacity()) {
            throw new IllegalStateException("context is full at layer " + layer);
        }
        ensureBlock(T);
        LayerWeights lw = w.layers()[layer];
        int dim = c.dim();
        int pos0 = cache.append(layer, T);
        for (int t = 0; t < T; t++) {
            norm(xb, t * dim, x, t * dim, lw.attnNorm(), lw.attnNormBias());
        }
        int qkvDim = c.qkvDim();
        lw.wqkv().matmul(xb, T, qkv, pool);
        addBias(qkv, T, qkvDim, lw.bqkv());
        int qDim = c.qDim();
        int kvDim = c.kvDim();
        float[] keys = cache.keys[layer];
        float[] values = cache.values[layer];
        int capacity = cache.capacity();
        for (int t = 0; t < T; t++) {
            int row = t * qkvDim;
            int pos = pos0 + t;
            for (int h = 0; h < c.kvHeads(); h++) {
                headNorm(qkv, row + qDim + h * c.headDim(), lw.kNorm());
                rope(qkv, row + qDim + h * c.headDim(), pos);
            }
            for (int d = 0; d < kvDim; d++) {
                keys[d * capacity + pos] = qkv[row + qDim + d];
            }
            System.arraycopy(qkv, row + qDim + kvDim, values, pos * kvDim, kvDim);
        }
    }

    /** logits[vocab] for row {@code row} of x: final norm, then classifier (+ bias). */
    public void logits(float[] x, int row, float[] out) {
        norm(normRow, 0, x, row * c.dim(), w.finalNorm(), w.finalNormBias());
        w.classifier().matmul(normRow, 1, out, pool);
        if (w.classifierBias() != null) {
            Kernels.add(w.classifierBias(), 0, out, 0, c.vocabSize());
        }
    }

    /** logits[T, vocab] for every row of the block x[T, dim]. */
    public void logitsBlock(float[] x, int T, float[] out) {
        ensureBlock(T);
        for (int t = 0; t < T; t++) {
            norm(xb, t * c.dim(), x, t * c.dim(), w.finalNorm(), w.finalNormBias());
        }
        w.classifier().matmul(xb, T, out, pool);
        addBias(out, T, c.vocabSize(), w.classifierBias());
    }

    /** The classifier itself, for exit heads that reuse it. */
    public Matrix classifier() {
        return w.classifier();
    }
}
