package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise and reduction kernels on float arrays, written on the Vector API. All of them take
 * explicit offsets so that callers can work on rows of a flat [T, n] block without copying.
 */
public final class Kernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();

    private Kernels() {
    }

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return dot(a, aOff, b, bOff, n, Lanes.floats());
    }

    /** dot with the caller's {@link Lanes} scratch. */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n, float[] lanes) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        int upper = F.loopBound(n);
        for (; i < upper; i += L) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        acc.intoArray(lanes, 0);
        float sum = Lanes.sum(lanes);
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /**
     * out[t*outStride + outOff + r] = dot(w[r*n ...], x[t*n ...]) for r in [0, R), t in [0, T): a tile of
     * (dequantized) weight rows against a block of tokens. Four rows by three tokens at a time: twelve
     * FMA chains fed by seven loads a step, where a row-by-row kernel needs a load per FMA; with the loaded
     * vectors that is all 16 registers of AVX2 (a 4 x 4 tile spilled: 0.8x). Tokens are outermost, so a
     * three-token slice of x stays near while the tile's rows (in L2) pass by.
     */
    public static void gemmTile(float[] w, int R, float[] x, int T, int n, float[] out, int outStride, int outOff) {
        float[] lanes = Lanes.floats();
        int t = 0;
        for (; t + 3 <= T; t += 3) {
            int r = 0;
            for (; r + 4 <= R; r += 4) {
                tile4x3(w, r * n, x, t * n, n, out, t * outStride + outOff + r, outStride, lanes);
            }
            for (; r < R; r++) {
                for (int j = 0; j < 3; j++) {
                    out[(t + j) * outStride + outOff + r] = dot(w, r * n, x, (t + j) * n, n, lanes);
                }
            }
        }
        for (; t < T; t++) {
            for (int r = 0; r < R; r++) {
                out[t * outStride + outOff + r] = dot(w, r * n, x, t * n, n, lanes);
            }
        }
    }

    /** Four rows from wOff (stride n) by three tokens from xOff (stride n) into out[outIndex + j*outStride + i]. */
    private static void tile4x3(float[] w, int wOff, float[] x, int xOff, int n, float[] out, int outIndex,
                                int outStride, float[] lanes) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F);
        int upper = F.loopBound(n);
        for (int k = 0; k < upper; k += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + k);
            FloatVector x1 = FloatVector.fromArray(F, x, xOff + n + k);
            FloatVector x2 = FloatVector.fromArray(F, x, xOff + 2 * n + k);
            FloatVector w0 = FloatVector.fromArray(F, w, wOff + k);
            a00 = w0.fma(x0, a00);
            a01 = w0.fma(x1, a01);
            a02 = w0.fma(x2, a02);
            FloatVector w1 = FloatVector.fromArray(F, w, wOff + n + k);
            a10 = w1.fma(x0, a10);
            a11 = w1.fma(x1, a11);
            a12 = w1.fma(x2, a12);
            FloatVector w2 = FloatVector.fromArray(F, w, wOff + 2 * n + k);
            a20 = w2.fma(x0, a20);
            a21 = w2.fma(x1, a21);
            a22 = w2.fma(x2, a22);
            FloatVector w3 = FloatVector.fromArray(F, w, wOff + 3 * n + k);
            a30 = w3.fma(x0, a30);
            a31 = w3.fma(x1, a31);
            a32 = w3.fma(x2, a32);
        }
        store(out, outIndex, outStride, a00, a01, a02, w, wOff, x, xOff, upper, n, lanes);
        store(out, outIndex + 1, outStride, a10, a11, a12, w, wOff + n, x, xOff, upper, n, lanes);
        store(out, outIndex + 2, outStride, a20, a21, a22, w, wOff + 2 * n, x, xOff, upper, n, lanes);
        store(out, outIndex + 3, outStride, a30, a31, a32, w, wOff + 3 * n, x, xOff, upper, n, lanes);
    }

    /** One weight row's three results of a tile: the lanes summed, plus the scalar rest past {@code upper}. */
    private static void store(float[] out, int index, int outStride, FloatVector t0, FloatVector t1, FloatVector t2,
                              float[] w, int wOff, float[] x, int xOff, int upper, int n, float[] lanes) {
        t0.intoArray(lanes, 0);
        out[index] = Lanes.sum(lanes) + tail(w, wOff, x, xOff, upper, n);
        t1.intoArray(lanes, 0);
        out[index + outStride] = Lanes.sum(lanes) + tail(w, wOff, x, xOff + n, upper, n);
        t2.intoArray(lanes, 0);
        out[index + 2 * outStride] = Lanes.sum(lanes) + tail(w, wOff, x, xOff + 2 * n, upper, n);
    }

    /** The scalar rest of a dot product, from {@code from} to n. */
    private static float tail(float[] a, int aOff, float[] b, int bOff, int from, int n) {
        float s = 0;
        for (int i = from; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /**
     * Attention scores against keys stored transposed: out[p] = scale * sum_d q[qOff + d] * k[kOff + d*stride + p]
     * for p in [0, n). Vectorized over positions, so no horizontal sum per position; four blocks of
     * positions share each broadcast of q[d] and keep four independent FMA chains in flight.
     */
    public static void transposedScores(float[] q, int qOff, float[] k, int kOff, int stride, int hd, int n,
                                        float scale, float[] out) {
        int p = 0;
        for (; p + 4 * L <= n; p += 4 * L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int d = 0; d < hd; d++) {
                FloatVector qd = FloatVector.broadcast(F, q[qOff + d]);
                int row = kOff + d * stride + p;
                a0 = FloatVector.fromArray(F, k, row).fma(qd, a0);
                a1 = FloatVector.fromArray(F, k, row + L).fma(qd, a1);
                a2 = FloatVector.fromArray(F, k, row + 2 * L).fma(qd, a2);
                a3 = FloatVector.fromArray(F, k, row + 3 * L).fma(qd, a3);
            }
            a0.mul(scale).intoArray(out, p);
            a1.mul(scale).intoArray(out, p + L);
            a2.mul(scale).intoArray(out, p + 2 * L);
            a3.mul(scale).intoArray(out, p + 3 * L);
        }
        for (; p + L <= n; p += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int d = 0; d < hd; d++) {
                acc = FloatVector.fromArray(F, k, kOff + d * stride + p).fma(FloatVector.broadcast(F, q[qOff + d]), acc);
            }
            acc.mul(scale).intoArray(out, p);
        }
        for (; p < n; p++) {
            float sum = 0f;
            for (int d = 0; d < hd; d++) {
                sum += q[qOff + d] * k[kOff + d * stride + p];
            }
            out[p] = sum * scale;
        }
    }

    /**
     * The attention output: out[outOff + j] = sum_p weights[p] * v[vOff + p*stride + j] for j in [0, n),
     * p in [0, count). Sums stay in registers across positions (an axpy per position would store and
     * reload the output for each of them: a chain of store-to-load waits).
     */
    public static void weightedRowSum(float[] weights, int count, float[] v, int vOff, int stride,
                                      float[] out, int outOff, int n) {
        int j = 0;
        for (; j + 4 * L <= n; j += 4 * L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int p = 0; p < count; p++) {
                FloatVector wp = FloatVector.broadcast(F, weights[p]);
                int row = vOff + p * stride + j;
                a0 = FloatVector.fromArray(F, v, row).fma(wp, a0);
                a1 = FloatVector.fromArray(F, v, row + L).fma(wp, a1);
                a2 = FloatVector.fromArray(F, v, row + 2 * L).fma(wp, a2);
                a3 = FloatVector.fromArray(F, v, row + 3 * L).fma(wp, a3);
            }
            a0.intoArray(out, outOff + j);
            a1.intoArray(out, outOff + j + L);
            a2.intoArray(out, outOff + j + 2 * L);
            a3.intoArray(out, outOff + j + 3 * L);
        }
        for (; j + L <= n; j += L) {
            // One vector of columns (all of a 48-dim head with 16 lanes): four chains over interleaved
            // positions, so the sum does not wait one FMA latency per position.
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            int p = 0;
            for (; p + 4 <= count; p += 4) {
                int row = vOff + p * stride + j;
                a0 = FloatVector.fromArray(F, v, row).fma(FloatVector.broadcast(F, weights[p]), a0);
                a1 = FloatVector.fromArray(F, v, row + stride).fma(FloatVector.broadcast(F, weights[p + 1]), a1);
                a2 = FloatVector.fromArray(F, v, row + 2 * stride).fma(FloatVector.broadcast(F, weights[p + 2]), a2);
                a3 = FloatVector.fromArray(F, v, row + 3 * stride).fma(FloatVector.broadcast(F, weights[p + 3]), a3);
            }
            for (; p < count; p++) {
                a0 = FloatVector.fromArray(F, v, vOff + p * stride + j).fma(FloatVector.broadcast(F, weights[p]), a0);
            }
            a0.add(a1).add(a2.add(a3)).intoArray(out, outOff + j);
        }
        for (; j < n; j++) {
            float sum = 0f;
            for (int p = 0; p < count; p++) {
                sum += weights[p] * v[vOff + p * stride + j];
            }
            out[outOff + j] = sum;
        }
    }

    /** y[yOff..] += a * x[xOff..] */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        FloatVector va = FloatVector.broadcast(F, a);
        for (; i < upper; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(va, FloatVector.fromArray(F, y, yOff + i))
                    .intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    /** y[yOff..] += x[xOff..] */
    public static void add(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += L) {
            FloatVector.fromArray(F, y, yOff + i).add(FloatVector.fromArray(F, x, xOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += x[xOff + i];
        }
    }

    public static void scale(float[] x, int off, int n, float s) {
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += L) {
            FloatVector.fromArray(F, x, off + i).mul(s).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= s;
        }
    }

    public static float sumOfSquares(float[] x, int off, int n) {
        float[] lanes = Lanes.floats();
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        int upper = F.loopBound(n);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            acc = v.fma(v, acc);
        }
        acc.intoArray(lanes, 0);
        float sum = Lanes.sum(lanes);
        for (; i < n; i++) {
            sum += x[off + i] * x[off + i];
        }
        return sum;
    }

    public static float sum(float[] x, int off, int n) {
        float[] lanes = Lanes.floats();
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        int upper = F.loopBound(n);
        for (; i < upper; i += L) {
            acc = acc.add(FloatVector.fromArray(F, x, off + i));
        }
        acc.intoArray(lanes, 0);
        float sum = Lanes.sum(lanes);
        for (; i < n; i++) {
            sum += x[off + i];
        }
        return sum;
    }

    /** out = x * weight / rms(x), as Llama's RMSNorm. */
    public static void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = sumOfSquares(x, xOff, n) / n + eps;
        float inv = (float) (1.0 / Math.sqrt(ss));
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += L) {
            FloatVector.fromArray(F, x, xOff + i).mul(inv).mul(FloatVector.fromArray(F, weight, i))
                    .intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = weight[i] * (inv * x[xOff + i]);
        }
    }

    /** out = (x - mean) / sqrt(var + eps) * weight + bias, as torch.nn.LayerNorm (biased variance). */
    public static void layerNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, float[] bias,
                                 int n, float eps) {
        float mean = sum(x, xOff, n) / n;
        float[] lanes = Lanes.floats();
        int i = 0;
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        FloatVector vm = FloatVector.broadcast(F, mean);
        for (; i < upper; i += L) {
            FloatVector d = FloatVector.fromArray(F, x, xOff + i).sub(vm);
            acc = d.fma(d, acc);
        }
        acc.intoArray(lanes, 0);
        float var = Lanes.sum(lanes);
        for (; i < n; i++) {
            float d = x[xOff + i] - mean;
            var += d * d;
        }
        var /= n;
        float inv = (float) (1.0 / Math.sqrt(var + eps));
        i = 0;
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + i).sub(vm).mul(inv)
                    .mul(FloatVector.fromArray(F, weight, i));
            if (bias != null) {
                v = v.add(FloatVector.fromArray(F, bias, i));
            }
            v.intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            float v = (x[xOff + i] - mean) * inv * weight[i];
            out[outOff + i] = bias != null ? v + bias[i] : v;
        }
    }

    /** In-place softmax of x[off, off+n). Returns nothing; x becomes a distribution. */
    public static void softmax(float[] x, int off, int n) {
        float max = max(x, off, n);
        float[] lanes = Lanes.floats();
        int i = 0;
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        for (; i < upper; i += L) {
            FloatVector e = exp(FloatVector.fromArray(F, x, off + i).sub(max));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        acc.intoArray(lanes, 0);
        float sum = Lanes.sum(lanes);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        scale(x, off, n, 1f / sum);
    }

    // exp(x) = 2^n * e^r, n = round(x / ln 2), |r| <= ln 2 / 2; ln 2 split so that n * LN2_HI is exact.
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUNDER = 12582912f; // 1.5 * 2^23: adding it rounds to an integer in the low bits
    private static final float EXP_MIN = -87.33654f; // below this e^x is not a normal float: the result is 0
    private static final float EXP_MAX = 88f;         // e^88 = 1.65e38, below the largest float

    /**
     * e^x per lane, within about 2 ulp, from IEEE arithmetic and bit operations only. Not the Vector
     * API's EXP: its compiled form (a math library's vector routine) and its interpreted form (Math.exp
     * per lane) differ in the last bits, so softmax, attention and head training gave different results
     * before and after the JIT compiled them (a seeded training differed between its first and second
     * run in one JVM). These operations round the same way at every tier.
     */
    public static FloatVector exp(FloatVector x) {
        FloatVector clamped = x.min(EXP_MAX).max(EXP_MIN);
        FloatVector t = clamped.mul(LOG2E).add(ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(x.broadcast(-LN2_HI), clamped).add(n.mul(-LN2_LO)); // x - n ln 2, in two parts
        // Cephes' expf polynomial: e^r = 1 + r + r^2 p(r) on [-ln 2 / 2, ln 2 / 2]
        FloatVector p = r.mul(1.9875691500e-4f).add(1.3981999507e-3f);
        p = p.fma(r, x.broadcast(8.3334519073e-3f));
        p = p.fma(r, x.broadcast(4.1665795894e-2f));
        p = p.fma(r, x.broadcast(1.6666665459e-1f));
        p = p.fma(r, x.broadcast(5.0000001201e-1f));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        // 2^n straight into the exponent bits: t's bits exceed ROUNDER's by exactly n
        FloatVector scale = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUNDER)).add(127)
                .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(scale).blend(0f, x.lt(EXP_MIN));
    }

    public static float max(float[] x, int off, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; i < upper; i += L) {
            acc = acc.max(FloatVector.fromArray(F, x, off + i));
        }
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    public static int argmax(float[] x, int off, int n) {
        int best = 0;
        float bestValue = x[off];
        for (int i = 1; i < n; i++) {
            if (x[off + i] > bestValue) {
                bestValue = x[off + i];
                best = i;
            }
        }
        return best;
    }

    /** SwiGLU: gate[i] = silu(gate[i]) * up[i]. */
    public static void siluMul(float[] gate, int gateOff, float[] up, int upOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gateOff + i];
            gate[gateOff + i] = g / (1f + (float) Math.exp(-g)) * up[upOff + i];
        }
    }

    /** Exact GELU, x * Phi(x), as torch's default. */
    public static void geluExact(float[] x, int off, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[off + i];
            x[off + i] = (float) (0.5 * v * (1.0 + Erf.erf(v / Math.sqrt(2.0))));
        }
    }

    /** GELU with the tanh approximation ("gelu_new", "gelu_pytorch_tanh"). */
    public static void geluTanh(float[] x, int off, int n) {
        final double c = Math.sqrt(2.0 / Math.PI);
        for (int i = 0; i < n; i++) {
            double v = x[off + i];
            x[off + i] = (float) (0.5 * v * (1.0 + Math.tanh(c * (v + 0.044715 * v * v * v))));
        }
    }
}
