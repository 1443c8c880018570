package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Batched kernels for training small layers (exit heads) on the Vector API and the thread pool. With
 * Z[B, rows] = X[B, cols] · Wᵀ computed by {@link Matrix#matmul}, the backward pass needs
 * <ul>
 *   <li>{@link #accumulateWeightGradient}: dW[rows, cols] += dZᵀ · X, split across workers by rows of W;</li>
 *   <li>{@link #inputGradient}: dX[B, cols] = dZ · W, split across workers by rows of the batch;</li>
 *   <li>{@link #adamW}: one AdamW update, element-wise, split in chunks.</li>
 * </ul>
 * Every output element is computed by one worker in a fixed order, so results do not depend on the
 * thread count. Each instance owns reusable task objects (no allocation per call) and is driven from
 * one thread at a time.
 */
public final class TrainKernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Rows of W kept hot in cache while every batch row of a worker consumes them. */
    private static final int ROW_BLOCK = 64;
    private static final int ADAM_CHUNK = 8192;

    private final ThreadPool pool;
    private final WeightGradTask weightGrad = new WeightGradTask();
    private final InputGradTask inputGrad = new InputGradTask();
    private final AdamTask adam = new AdamTask();

    public TrainKernels(ThreadPool pool) {
        this.pool = pool;
    }

    public ThreadPool pool() {
        return pool;
    }

    /** dW[r, :] += Σ_b dZ[b*rows + r] · X[b*cols + :] for r in [0, rows). */
    public void accumulateWeightGradient(float[] dZ, int B, int rows, float[] X, int cols, float[] dW) {
        WeightGradTask t = weightGrad;
        t.dZ = dZ;
        t.B = B;
        t.rows = rows;
        t.X = X;
        t.cols = cols;
        t.dW = dW;
        pool.parallelFor(rows, t);
        t.dZ = t.X = t.dW = null;
    }

    /** dX[b, :] = Σ_r dZ[b*rows + r] · W[r, :] for b in [0, B) (overwrites dX). */
    public void inputGradient(float[] dZ, int B, float[] W, int rows, int cols, float[] dX) {
        inputGradient(dZ, B, W, 0, rows, cols, dX);
    }

    /** As above, with W[r, c] at W[wOffset + r*cols + c]. */
    public void inputGradient(float[] dZ, int B, float[] W, int wOffset, int rows, int cols, float[] dX) {
        InputGradTask t = inputGrad;
        t.dZ = dZ;
        t.B = B;
        t.rows = rows;
        t.W = W;
        t.wOffset = wOffset;
        t.cols = cols;
        t.dX = dX;
        pool.parallelFor(B, t);
        t.dZ = t.W = t.dX = null;
    }

    /**
     * One AdamW step on w[0, n) with gradient g, moments m and v: m = β1·m + (1-β1)·g,
     * v = β2·v + (1-β2)·g², w -= lr·(m/bc1 / (sqrt(v/bc2) + eps) + wd·w) where bc1 = 1-β1^t and
     * bc2 = 1-β2^t are the bias corrections (decoupled weight decay).
     */
    public void adamW(float[] w, float[] g, float[] m, float[] v, int n, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float bc1, float bc2) {
        AdamTask t = adam;
        t.w = w;
        t.g = g;
        t.m = m;
        t.v = v;
        t.n = n;
        t.lr = lr;
        t.beta1 = beta1;
        t.beta2 = beta2;
        t.eps = eps;
        t.wd = weightDecay;
        t.bc1 = bc1;
        t.bc2 = bc2;
        pool.parallelFor((n + ADAM_CHUNK - 1) / ADAM_CHUNK, t);
        t.w = t.g = t.m = t.v = null;
    }

    private static final class WeightGradTask implements ThreadPool.RangeTask {
        float[] dZ;
        float[] X;
        float[] dW;
        int B;
        int rows;
        int cols;

        @Override
        public void run(int start, int end, int worker) {
            for (int r = start; r < end; r++) {
                int wOff = r * cols;
                int c = 0;
                // Four vectors of the row stay in registers while every batch row adds into them.
                for (; c + 4 * L <= cols; c += 4 * L) {
                    FloatVector a0 = FloatVector.fromArray(F, dW, wOff + c);
                    FloatVector a1 = FloatVector.fromArray(F, dW, wOff + c + L);
                    FloatVector a2 = FloatVector.fromArray(F, dW, wOff + c + 2 * L);
                    FloatVector a3 = FloatVector.fromArray(F, dW, wOff + c + 3 * L);
                    for (int b = 0; b < B; b++) {
                        float s = dZ[b * rows + r];
                        FloatVector sv = FloatVector.broadcast(F, s);
                        int xOff = b * cols + c;
                        a0 = FloatVector.fromArray(F, X, xOff).fma(sv, a0);
                        a1 = FloatVector.fromArray(F, X, xOff + L).fma(sv, a1);
                        a2 = FloatVector.fromArray(F, X, xOff + 2 * L).fma(sv, a2);
                        a3 = FloatVector.fromArray(F, X, xOff + 3 * L).fma(sv, a3);
                    }
                    a0.intoArray(dW, wOff + c);
                    a1.intoArray(dW, wOff + c + L);
                    a2.intoArray(dW, wOff + c + 2 * L);
                    a3.intoArray(dW, wOff + c + 3 * L);
                }
                for (; c + L <= cols; c += L) {
                    FloatVector a0 = FloatVector.fromArray(F, dW, wOff + c);
                    for (int b = 0; b < B; b++) {
                        a0 = FloatVector.fromArray(F, X, b * cols + c).fma(FloatVector.broadcast(F, dZ[b * rows + r]), a0);
                    }
                    a0.intoArray(dW, wOff + c);
                }
                for (; c < cols; c++) {
                    float acc = dW[wOff + c];
                    for (int b = 0; b < B; b++) {
                        acc = Math.fma(X[b * cols + c], dZ[b * rows + r], acc);
                    }
                    dW[wOff + c] = acc;
                }
            }
        }
    }

    private static final class InputGradTask implements ThreadPool.RangeTask {
        float[] dZ;
        float[] W;
        float[] dX;
        int wOffset;
        int B;
        int rows;
        int cols;

        @Override
        public void run(int start, int end, int worker) {
            java.util.Arrays.fill(dX, start * cols, end * cols, 0f);
            for (int r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
                int r1 = Math.min(rows, r0 + ROW_BLOCK);
                for (int b = start; b < end; b++) {
                    int zOff = b * rows;
                    int xOff = b * cols;
                    for (int r = r0; r < r1; r++) {
                        float s = dZ[zOff + r];
                        if (s != 0f) {
                            Kernels.axpy(s, W, wOffset + r * cols, dX, xOff, cols);
                        }
                    }
                }
            }
        }
    }

    private static final class AdamTask implements ThreadPool.RangeTask {
        float[] w;
        float[] g;
        float[] m;
        float[] v;
        int n;
        float lr;
        float beta1;
        float beta2;
        float eps;
        float wd;
        float bc1;
        float bc2;

        @Override
        public void run(int start, int end, int worker) {
            int from = start * ADAM_CHUNK;
            int to = Math.min(n, end * ADAM_CHUNK);
            float c1 = 1f - beta1;
            float c2 = 1f - beta2;
            float step = lr / bc1;
            float invBc2 = 1f / bc2;
            float decay = 1f - lr * wd;
            int i = from;
            int upper = from + F.loopBound(to - from);
            for (; i < upper; i += L) {
                FloatVector gv = FloatVector.fromArray(F, g, i);
                FloatVector mv = FloatVector.fromArray(F, m, i).mul(beta1).add(gv.mul(c1));
                FloatVector vv = FloatVector.fromArray(F, v, i).mul(beta2).add(gv.mul(gv).mul(c2));
                mv.intoArray(m, i);
                vv.intoArray(v, i);
                FloatVector denom = vv.mul(invBc2).lanewise(VectorOperators.SQRT).add(eps);
                FloatVector wv = FloatVector.fromArray(F, w, i).mul(decay).sub(mv.mul(step).div(denom));
                wv.intoArray(w, i);
            }
            for (; i < to; i++) {
                float gi = g[i];
                float mi = m[i] * beta1 + gi * c1;
                float vi = v[i] * beta2 + gi * gi * c2;
                m[i] = mi;
                v[i] = vi;
                float denom = (float) Math.sqrt(vi * invBc2) + eps;
                w[i] = w[i] * decay - mi * step / denom;
            }
        }
    }
}
