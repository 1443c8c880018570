package dev.earlyexit.tensor;

import java.nio.ByteBuffer;

/**
 * Our quantizers into ggml's block layouts. Each block's parameters are chosen to minimise the plain
 * squared error against the float weights (what RMSE measures), searching a few candidate scales and
 * rounding every value with the scale as it is finally stored (f16 / 6-bit), so no block is worse than
 * a single max-based choice. docs/quantization.md compares the RMSE with ggml's.
 */
final class GgmlQuantizers {
    private GgmlQuantizers() {
    }

    static void q8_0(float[] x, int off, int n, ByteBuffer out) {
        for (int b = 0; b < n; b += 32) {
            float amax = 0;
            for (int i = 0; i < 32; i++) {
                amax = Math.max(amax, Math.abs(x[off + b + i]));
            }
            // the max-based scale and a few smaller ones (which round the bulk of the values finer)
            short h = Half.fromFloat(amax / 127f);
            double bestErr = Double.POSITIVE_INFINITY;
            for (int c = 0; c <= 8 && amax > 0; c++) {
                short hc = Half.fromFloat(amax / (127f + 0.25f * c));
                float dc = Half.toFloat(hc & 0xFFFF);
                double err = 0;
                for (int i = 0; i < 32; i++) {
                    double e = clamp(Math.round(x[off + b + i] / dc), -128, 127) * dc - x[off + b + i];
                    err += e * e;
                }
                if (err < bestErr) {
                    bestErr = err;
                    h = hc;
                }
            }
            float d = Half.toFloat(h & 0xFFFF);
            out.putShort(h);
            for (int i = 0; i < 32; i++) {
                out.put((byte) (d == 0 ? 0 : clamp(Math.round(x[off + b + i] / d), -128, 127)));
            }
        }
    }

    static void q4_0(float[] x, int off, int n, ByteBuffer out) {
        byte[] best = new byte[32];
        byte[] trial = new byte[32];
        for (int b = 0; b < n; b += 32) {
            int o = off + b;
            float amax = 0;
            float max = 0;
            for (int i = 0; i < 32; i++) {
                if (Math.abs(x[o + i]) > amax) {
                    amax = Math.abs(x[o + i]);
                    max = x[o + i];
                }
            }
            short bestH = 0;
            double bestErr = Double.POSITIVE_INFINITY;
            // the max-based scale (the extreme value maps to -8) and nearby ones, either sign
            for (int c = 0; c <= 16 && amax > 0; c++) {
                float div = c <= 8 ? -8f + 0.125f * c : 7f + 0.125f * (c - 9); // -8..-7, then 7..7.875
                short h = Half.fromFloat(max / div);
                double err = round4(x, o, Half.toFloat(h & 0xFFFF), trial);
                if (err < bestErr) {
                    bestErr = err;
                    bestH = h;
                    System.arraycopy(trial, 0, best, 0, 32);
                }
            }
            if (amax == 0) {
                java.util.Arrays.fill(best, (byte) 8);
            }
            out.putShort(bestH);
            for (int i = 0; i < 16; i++) {
                out.put((byte) (best[i] | best[i + 16] << 4));
            }
        }
    }

    /** Nearest levels 0..15 of (l - 8) * d for x[o, o+32); returns the squared error. */
    private static double round4(float[] x, int o, float d, byte[] levels) {
        double err = 0;
        for (int i = 0; i < 32; i++) {
            int l = d == 0 ? 8 : clamp(Math.round(x[o + i] / d) + 8, 0, 15);
            levels[i] = (byte) l;
            double e = (l - 8) * d - x[o + i];
            err += e * e;
        }
        return err;
    }

    static void q4_K(float[] x, int off, int n, ByteBuffer out) {
        kQuant(x, off, n, out, 15);
    }

    /** Q5_K: Q4_K's search with 32 levels; the fifth bits go to qh (bit j of byte l: value l of sub-block j). */
    static void q5_K(float[] x, int off, int n, ByteBuffer out) {
        kQuant(x, off, n, out, 31);
    }

    /** Q4_K (nmax 15) or Q5_K (nmax 31): per 32 values d*sc * l - dmin*m, l in 0..nmax. */
    private static void kQuant(float[] x, int off, int n, ByteBuffer out, int nmax) {
        float[] scale = new float[8];
        float[] min = new float[8];
        int[] sc = new int[8];
        int[] mn = new int[8];
        byte[] levels = new byte[256];
        for (int s = 0; s < n; s += 256) {
            int o = off + s;
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 8; j++) {
                fitAffine(x, o + 32 * j, scale, min, j, nmax);
                maxScale = Math.max(maxScale, scale[j]);
                maxMin = Math.max(maxMin, min[j]);
            }
            short dh = Half.fromFloat(maxScale / 63f);
            short mh = Half.fromFloat(maxMin / 63f);
            float d = Half.toFloat(dh & 0xFFFF);
            float dm = Half.toFloat(mh & 0xFFFF);
            for (int j = 0; j < 8; j++) {
                int o32 = o + 32 * j;
                int sc0 = d == 0 ? 0 : clamp(Math.round(scale[j] / d), 0, 63);
                int mn0 = dm == 0 ? 0 : clamp(Math.round(min[j] / dm), 0, 63);
                // the rounded 6-bit codes and their neighbours, each judged with the values as stored
                double bestErr = Double.POSITIVE_INFINITY;
                for (int a = Math.max(0, sc0 - 1); a <= Math.min(63, sc0 + 1); a++) {
                    for (int m = Math.max(0, mn0 - 1); m <= Math.min(63, mn0 + 1); m++) {
                        double err = affineError(x, o32, d * a, dm * m, null, 0, nmax);
                        if (err < bestErr) {
                            bestErr = err;
                            sc[j] = a;
                            mn[j] = m;
                        }
                    }
                }
                affineError(x, o32, d * sc[j], dm * mn[j], levels, 32 * j, nmax);
            }
            out.putShort(dh);
            out.putShort(mh);
            byte[] packed = new byte[12];
            for (int j = 0; j < 8; j++) {
                if (j < 4) {
                    packed[j] = (byte) sc[j];
                    packed[j + 4] = (byte) mn[j];
                } else {
                    packed[j + 4] = (byte) ((sc[j] & 0xF) | (mn[j] & 0xF) << 4);
                    packed[j - 4] |= (byte) ((sc[j] >> 4) << 6);
                    packed[j] |= (byte) ((mn[j] >> 4) << 6);
                }
            }
            out.put(packed);
            if (nmax > 15) {
                for (int l = 0; l < 32; l++) {
                    int h = 0;
                    for (int j = 0; j < 8; j++) {
                        h |= (levels[32 * j + l] >> 4) << j;
                    }
                    out.put((byte) h);
                }
            }
            for (int j = 0; j < 4; j++) {
                for (int l = 0; l < 32; l++) {
                    out.put((byte) ((levels[64 * j + l] & 0xF) | (levels[64 * j + 32 + l] & 0xF) << 4));
                }
            }
        }
    }

    /** Squared error of x[o, o+32) as the nearest of d1 * l - m1, l in 0..nmax; writes the levels when asked. */
    private static double affineError(float[] x, int o, float d1, float m1, byte[] levels, int at, int nmax) {
        double err = 0;
        for (int i = 0; i < 32; i++) {
            int l = d1 == 0 ? 0 : clamp(Math.round((x[o + i] + m1) / d1), 0, nmax);
            if (levels != null) {
                levels[at + i] = (byte) l;
            }
            double e = d1 * l - m1 - x[o + i];
            err += e * e;
        }
        return err;
    }

    /**
     * The scale and (non-negative) min of x[o, o+32) as d * l - m with l in 0..nmax: for a range of
     * candidate steps, round, then refit d and m by least squares; keeps the lowest squared error.
     */
    private static void fitAffine(float[] x, int o, float[] scale, float[] min, int j, int nmax) {
        float lo = x[o];
        float hi = x[o];
        for (int i = 1; i < 32; i++) {
            lo = Math.min(lo, x[o + i]);
            hi = Math.max(hi, x[o + i]);
        }
        lo = Math.min(lo, 0);
        if (hi <= lo) {
            scale[j] = 0;
            min[j] = -lo;
            return;
        }
        float bestD = (hi - lo) / nmax;
        float bestM = -lo;
        double bestErr = affineError(x, o, bestD, bestM, null, 0, nmax);
        for (int c = 0; c <= 24; c++) {
            float steps = nmax - 1.5f + 0.125f * c;
            float iscale = steps / (hi - lo);
            double sl = 0, sl2 = 0, sx = 0, sxl = 0;
            for (int i = 0; i < 32; i++) {
                int l = clamp(Math.round((x[o + i] - lo) * iscale), 0, nmax);
                sl += l;
                sl2 += (double) l * l;
                sx += x[o + i];
                sxl += (double) l * x[o + i];
            }
            double det = 32 * sl2 - sl * sl;
            if (det <= 0) {
                continue;
            }
            double dd = (32 * sxl - sx * sl) / det;
            double b = (sl2 * sx - sl * sxl) / det; // x ~ dd * l + b, b = -m
            if (b > 0) {
                b = 0;
                dd = sxl / sl2;
            }
            if (dd <= 0) {
                continue;
            }
            double err = affineError(x, o, (float) dd, (float) -b, null, 0, nmax);
            if (err < bestErr) {
                bestErr = err;
                bestD = (float) dd;
                bestM = (float) -b;
            }
        }
        scale[j] = bestD;
        min[j] = bestM;
    }

    /** Super-scale candidates for Q6_K: the largest group scale maps to this 8-bit code. */
    private static final float[] Q6_CODE_OF_MAX = {-128f, -127.5f, -127f, -126f, 127f, 126f};

    /**
     * Q6_K: each 16-value group's scale fitted by least squares over candidate steps (levels -32..31),
     * then, for a few f16 super-scales d (the largest group scale at one of {@link #Q6_CODE_OF_MAX}),
     * each group's signed 8-bit code and its two neighbours, every value rounded with d*code as stored;
     * keeps the d and codes of least squared error.
     */
    static void q6_K(float[] x, int off, int n, ByteBuffer out) {
        float[] scale = new float[16];
        int[] codes = new int[16];
        int[] trialCodes = new int[16];
        byte[] levels = new byte[256];
        byte[] block = new byte[210];
        for (int s = 0; s < n; s += 256) {
            int o = off + s;
            float maxScale = 0;
            for (int g = 0; g < 16; g++) {
                scale[g] = fitSymmetric(x, o + 16 * g);
                if (Math.abs(scale[g]) > Math.abs(maxScale)) {
                    maxScale = scale[g];
                }
            }
            short bestH = 0;
            java.util.Arrays.fill(codes, 0);
            double bestErr = Double.POSITIVE_INFINITY;
            for (int c = 0; c < Q6_CODE_OF_MAX.length && maxScale != 0; c++) {
                short h = Half.fromFloat(maxScale / Q6_CODE_OF_MAX[c]);
                float d = Half.toFloat(h & 0xFFFF);
                if (d == 0 || !Float.isFinite(d)) {
                    continue;
                }
                double err = 0;
                for (int g = 0; g < 16 && err < bestErr; g++) {
                    int c0 = clamp(Math.round(scale[g] / d), -128, 127);
                    double groupBest = Double.POSITIVE_INFINITY;
                    for (int k = Math.max(-128, c0 - 1); k <= Math.min(127, c0 + 1); k++) {
                        double e = symmetricError(x, o + 16 * g, d * k, null, 0);
                        if (e < groupBest) {
                            groupBest = e;
                            trialCodes[g] = k;
                        }
                    }
                    err += groupBest;
                }
                if (err < bestErr) {
                    bestErr = err;
                    bestH = h;
                    System.arraycopy(trialCodes, 0, codes, 0, 16);
                }
            }
            float d = Half.toFloat(bestH & 0xFFFF);
            for (int g = 0; g < 16; g++) {
                symmetricError(x, o + 16 * g, d * codes[g], levels, 16 * g);
            }
            // ql[128], qh[64], scales[16], d: each half of 128 values as four runs of 32
            for (int half = 0; half < 2; half++) {
                for (int l = 0; l < 32; l++) {
                    int v = 128 * half + l;
                    int l1 = levels[v];
                    int l2 = levels[v + 32];
                    int l3 = levels[v + 64];
                    int l4 = levels[v + 96];
                    block[64 * half + l] = (byte) ((l1 & 0xF) | (l3 & 0xF) << 4);
                    block[64 * half + 32 + l] = (byte) ((l2 & 0xF) | (l4 & 0xF) << 4);
                    block[128 + 32 * half + l] = (byte) (l1 >> 4 | (l2 >> 4) << 2 | (l3 >> 4) << 4 | (l4 >> 4) << 6);
                }
            }
            for (int g = 0; g < 16; g++) {
                block[192 + g] = (byte) codes[g];
            }
            out.put(block, 0, 208);
            out.putShort(bestH);
        }
    }

    /**
     * Squared error of x[o, o+16) as the nearest of ds * l, l in -32..31 (computed as the dequantization
     * does); writes the stored levels l + 32 when asked.
     */
    private static double symmetricError(float[] x, int o, float ds, byte[] levels, int at) {
        double err = 0;
        for (int i = 0; i < 16; i++) {
            int l = ds == 0 ? 0 : clamp(Math.round(x[o + i] / ds), -32, 31);
            if (levels != null) {
                levels[at + i] = (byte) (l + 32);
            }
            double e = ds * l - x[o + i];
            err += e * e;
        }
        return err;
    }

    /**
     * The scale of x[o, o+16) as ds * l with l in -32..31: the value of largest magnitude mapped to
     * -t (either sign of the scale; the levels reach one further on the negative side) for a range of
     * t, rounded, then the scale refitted by least squares; keeps the lowest squared error.
     */
    private static float fitSymmetric(float[] x, int o) {
        float max = 0;
        for (int i = 0; i < 16; i++) {
            if (Math.abs(x[o + i]) > Math.abs(max)) {
                max = x[o + i];
            }
        }
        if (max == 0) {
            return 0;
        }
        float best = -max / 32f;
        double bestErr = symmetricError(x, o, best, null, 0);
        for (int c = 0; c <= 20; c++) {
            // t in 27..33 with the extreme at a negative level, 28..31.5 at a positive one
            float ds = c <= 12 ? -max / (27f + 0.5f * c) : max / (28f + 0.5f * (c - 13));
            double sxl = 0;
            double sll = 0;
            for (int i = 0; i < 16; i++) {
                int l = clamp(Math.round(x[o + i] / ds), -32, 31);
                sxl += (double) x[o + i] * l;
                sll += (double) l * l;
            }
            if (sll == 0) {
                continue;
            }
            for (int k = 0; k < 2; k++) {
                float cand = k == 0 ? ds : (float) (sxl / sll);
                double err = symmetricError(x, o, cand, null, 0);
                if (err < bestErr) {
                    bestErr = err;
                    best = cand;
                }
            }
        }
        return best;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }
}
