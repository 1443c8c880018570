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
        checkForward(T, from, to, cache);
        ensureBlock(T);
        for (int l = from; l < to; l++) {
            layer(l, x, T, cache);
        }
    }

    /** What {@link #forward} refuses: a layer range outside the model, or a layer whose cache has no room. */
    public void checkForward(int T, int from, int to, KVCache cache) {
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
        for (int t = 0; t < T; t++) {
            positionQueries(t * qkvDim, pos0 + t, lw);
            storeKeyValues(t * qkvDim, pos0 + t, lw, cache, l);
        }
        attentionTask.set(cache.keys[l], cache.values[l], cache.stride(l), pos0, T);
        pool.parallelFor(c.heads() * T, attentionTask);
        attentionTask.clear();
        lw.wo().matmul(att, T, proj, pool);
        addBias(proj, T, dim, lw.bo());

        mlpAndResidual(lw, x, T);
    }

    /** The MLP and the residual additions of a layer, after attention left its output in proj. */
    private void mlpAndResidual(LayerWeights lw, float[] x, int T) {
        int dim = c.dim();
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

    /** The query heads of qkv row {@code row}: per-head norm (where the model has one), then RoPE at pos. */
    private void positionQueries(int row, int pos, LayerWeights lw) {
        for (int h = 0; h < c.heads(); h++) {
            headNorm(qkv, row + h * c.headDim(), lw.qNorm());
            rope(qkv, row + h * c.headDim(), pos);
        }
    }

    /**
     * The key heads of qkv row {@code row} (norm, RoPE at pos) and its values, written to position pos of
     * layer l's cache: keys transposed, [kvDim][stride], values [stride][kvDim].
     */
    private void storeKeyValues(int row, int pos, LayerWeights lw, KVCache cache, int l) {
        int qDim = c.qDim();
        int kvDim = c.kvDim();
        for (int h = 0; h < c.kvHeads(); h++) {
            headNorm(qkv, row + qDim + h * c.headDim(), lw.kNorm());
            rope(qkv, row + qDim + h * c.headDim(), pos);
        }
        float[] keys = cache.keys[l];
        int stride = cache.stride(l);
        for (int d = 0; d < kvDim; d++) {
            keys[d * stride + pos] = qkv[row + qDim + d];
        }
        System.arraycopy(qkv, row + qDim + kvDim, cache.values[l], pos * kvDim, kvDim);
    }

    /**
     * Causal attention of query head h of block row t over positions [0, last] of one layer's keys and
     * values, into att; s is the worker's score scratch.
     */
    private void attendHead(int t, int h, float[] keys, float[] values, int stride, int last, float[] s) {
        int hd = c.headDim();
        int kvOff = (h / (c.heads() / c.kvHeads())) * hd;
        float scale = (float) (1.0 / Math.sqrt(hd));
        Kernels.transposedScores(qkv, t * c.qkvDim() + h * hd, keys, kvOff * stride, stride, hd, last + 1, scale, s);
        Kernels.softmax(s, 0, last + 1);
        Kernels.weightedRowSum(s, last + 1, values, kvOff, c.kvDim(), att, t * c.qDim() + h * hd, hd);
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
        private int stride;
        private int pos0;
        private int T;

        void set(float[] keys, float[] values, int stride, int pos0, int T) {
            this.keys = keys;
            this.values = values;
            this.stride = stride;
            this.pos0 = pos0;
            this.T = T;
        }

        void clear() {
            keys = null;
            values = null;
        }

        @Override
        public void run(int start, int end, int worker) {
            for (int job = start; job < end; job++) {
                int t = job / c.heads();
                attendHead(t, job % c.heads(), keys, values, stride, pos0 + t, scores[worker]);
            }
        }
    }

    /**
     * Runs a block of T rows that belong to T different sequences through every layer, in place: row t
     * is the next token of the sequence whose cache is {@code caches[t]} and goes to that cache's next
     * position. The projections and the MLP read each weight once for the whole block; attention runs
     * per row against its own cache. Each row's result equals a lone {@code forward(x, 1, ...)} on its
     * cache bit for bit with float32, bf16, Q8_0 and Q4_0 weights, up to 17 rows (see
     * {@code decoding.EarlyExitBatch} for the others). The server's batched step is
     * {@link #forwardLayerRows}, layer by layer. Every layer of each cache must hold the same length, and no two rows
     * may share a cache.
     */
    public void forwardRows(float[] x, int T, KVCache[] caches) {
        for (int t = 0; t < T; t++) {
            KVCache cache = caches[t];
            for (int l = 0; l < c.layers(); l++) {
                if (cache.length(l) != cache.length(0) || cache.length(l) + 1 > cache.capacity()) {
                    throw new IllegalStateException("row " + t + ": layer " + l + " holds " + cache.length(l)
                            + " positions (layer 0: " + cache.length(0) + ", context " + cache.capacity() + ")");
                }
            }
        }
        ensureBlock(T);
        if (rowPositions.length < T) {
            rowPositions = new int[Math.max(T, 2 * rowPositions.length)];
            rowCaches = new KVCache[rowPositions.length];
        }
        for (int l = 0; l < c.layers(); l++) {
            layerRows(l, x, T, caches);
        }
        java.util.Arrays.fill(rowCaches, null);
    }

    /**
     * Runs R rows through layer l alone, in place, where rows may come from different sequences and a
     * sequence may bring several: the rows of one cache must be consecutive and are that cache's next
     * positions at layer l, in order (each row attends to its own cache up to its own position). The
     * projections and the MLP read each weight once for all R rows. This is the per-layer step of a
     * batch whose sequences leave at different layers ({@code decoding.EarlyExitBatch}); each row's result
     * equals {@link #forward} of its own sequence's rows, with the same caveat as {@link #forwardRows}.
     */
    public void forwardLayerRows(int l, float[] x, int R, KVCache[] caches) {
        if (l < 0 || l >= c.layers()) {
            throw new IllegalArgumentException("layer " + l + " is outside [0, " + c.layers() + ")");
        }
        for (int t = 0; t < R; t++) {
            KVCache cache = caches[t];
            int ahead = 1;
            while (t + ahead < R && caches[t + ahead] == cache) {
                ahead++;
            }
            if (cache.length(l) + ahead > cache.capacity()) {
                throw new IllegalStateException("context is full: layer " + l + " holds " + cache.length(l)
                        + " positions and " + ahead + " more exceed the context of " + cache.capacity());
            }
            t += ahead - 1;
        }
        ensureBlock(R);
        if (rowPositions.length < R) {
            rowPositions = new int[Math.max(R, 2 * rowPositions.length)];
            rowCaches = new KVCache[rowPositions.length];
        }
        layerRows(l, x, R, caches);
        java.util.Arrays.fill(rowCaches, 0, R, null);
    }

    private int[] rowPositions = new int[0];
    private KVCache[] rowCaches = new KVCache[0];
    private final RowAttentionTask rowAttentionTask = new RowAttentionTask();

    /** {@link #layer} for rows of different sequences: the same steps, attention per row and cache. */
    private void layerRows(int l, float[] x, int T, KVCache[] caches) {
        LayerWeights lw = w.layers()[l];
        int dim = c.dim();
        for (int t = 0; t < T; t++) {
            rowPositions[t] = caches[t].append(l, 1);
            rowCaches[t] = caches[t];
            norm(xb, t * dim, x, t * dim, lw.attnNorm(), lw.attnNormBias());
            if (c.residual() == ModelConfig.ResidualKind.PARALLEL) {
                norm(xb2, t * dim, x, t * dim, lw.mlpNorm(), lw.mlpNormBias());
            }
        }
        int qkvDim = c.qkvDim();
        lw.wqkv().matmul(xb, T, qkv, pool);
        addBias(qkv, T, qkvDim, lw.bqkv());
        for (int t = 0; t < T; t++) {
            positionQueries(t * qkvDim, rowPositions[t], lw);
            storeKeyValues(t * qkvDim, rowPositions[t], lw, caches[t], l);
        }
        rowAttentionTask.layer = l;
        pool.parallelFor(c.heads() * T, rowAttentionTask);
        lw.wo().matmul(att, T, proj, pool);
        addBias(proj, T, dim, lw.bo());
        mlpAndResidual(lw, x, T);
    }

    /** Causal attention of each (row, head) pair against the row's own cache at one layer. */
    private final class RowAttentionTask implements ThreadPool.RangeTask {
        int layer;

        @Override
        public void run(int start, int end, int worker) {
            for (int job = start; job < end; job++) {
                int t = job / c.heads();
                KVCache cache = rowCaches[t];
                attendHead(t, job % c.heads(), cache.keys[layer], cache.values[layer], cache.stride(layer), rowPositions[t],
                        scores[worker]);
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
        for (int t = 0; t < T; t++) {
            storeKeyValues(t * qkvDim, pos0 + t, lw, cache, layer);
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
