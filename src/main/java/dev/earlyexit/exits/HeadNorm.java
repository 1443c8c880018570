package dev.earlyexit.exits;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.tensor.Kernels;

import java.util.Arrays;

/**
 * A head's input norm, of the same kind as the model's final norm: RMSNorm with a gain, or LayerNorm
 * with a gain and a bias. {@link #apply} uses the model's own kernels, so a head initialised as a copy
 * normalises exactly as the model does.
 */
final class HeadNorm {
    final ModelConfig.NormKind kind;
    final float eps;
    final float[] gain;
    final float[] bias; // LayerNorm only, else null
    private final float[] ones;

    HeadNorm(ModelConfig.NormKind kind, float eps, float[] gain, float[] bias) {
        this.kind = kind;
        this.eps = eps;
        this.gain = gain;
        this.bias = kind == ModelConfig.NormKind.LAYER ? (bias != null ? bias : new float[gain.length]) : null;
        this.ones = new float[gain.length];
        Arrays.fill(ones, 1f);
    }

    /** A copy of the model's final norm, or (random init) unit gain and zero bias. */
    static HeadNorm of(ModelConfig c, float[] finalNorm, float[] finalNormBias, boolean copy) {
        float[] g = new float[c.dim()];
        if (copy) {
            System.arraycopy(finalNorm, 0, g, 0, g.length);
        } else {
            Arrays.fill(g, 1f);
        }
        float[] b = null;
        if (c.norm() == ModelConfig.NormKind.LAYER) {
            b = new float[c.dim()];
            if (copy && finalNormBias != null) {
                System.arraycopy(finalNormBias, 0, b, 0, b.length);
            }
        }
        return new HeadNorm(c.norm(), c.normEps(), g, b);
    }

    int dim() {
        return gain.length;
    }

    /** out = norm(x) with gain (and bias). */
    void apply(float[] x, int xOff, float[] out, int outOff) {
        if (kind == ModelConfig.NormKind.RMS) {
            Kernels.rmsNorm(out, outOff, x, xOff, gain, gain.length, eps);
        } else {
            Kernels.layerNorm(out, outOff, x, xOff, gain, bias, gain.length, eps);
        }
    }

    /** out = the normalised x before gain and bias (what the gain multiplies). */
    void normalize(float[] x, int xOff, float[] out, int outOff) {
        if (kind == ModelConfig.NormKind.RMS) {
            Kernels.rmsNorm(out, outOff, x, xOff, ones, ones.length, eps);
        } else {
            Kernels.layerNorm(out, outOff, x, xOff, ones, null, ones.length, eps);
        }
    }

    /** dGain += Σ_b dU[b]·n[b], dBias += Σ_b dU[b], for B rows; n from {@link #normalize}. */
    void accumulateGradient(float[] dU, float[] n, int B, float[] dGain, float[] dBias) {
        int d = gain.length;
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < d; i++) {
                dGain[i] += dU[b * d + i] * n[b * d + i];
            }
            if (dBias != null) {
                Kernels.add(dU, b * d, dBias, 0, d);
            }
        }
    }

    long bytes() {
        return 4L * gain.length * (bias != null ? 2 : 1);
    }
}
