package dev.earlyexit.exits;

import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The self-supervised loss of one head on one position (Valade 2024):
 * <pre>
 *   loss = (1-λ)·CE(p_model, p_head) − λ·H(p_head),   CE = −Σ p_model·log p_head,  H = −Σ p_head·log p_head
 * </pre>
 * with p_head = softmax(z). Its gradient with respect to the head's logits z is
 * <pre>
 *   dLoss/dz = (1-λ)·(p_head − p_model) + λ·p_head ⊙ (log p_head + H)
 * </pre>
 * (the entropy term pushes the head away from over-confidence). Everything is in nats. One instance
 * holds one row of scratch; it is used from one thread.
 */
public final class ExitLoss {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private final float[] p;

    /** Results of the last {@link #row} call. */
    public float loss;
    public float crossEntropy;
    public float entropy;
    public int argmax;
    /** The head's probability of its argmax (its confidence). */
    public float confidence;

    public ExitLoss(int maxOutputs) {
        this.p = new float[maxOutputs];
    }

    /**
     * Loss of the logits z[zOff, zOff+n) against the target distribution q[qOff, qOff+n); when
     * {@code gradScale} is not 0, z is overwritten by gradScale·dLoss/dz (pass 1/B for a batch mean),
     * else z is left as it was. Sets {@link #loss}, {@link #crossEntropy}, {@link #entropy},
     * {@link #argmax} (index of the largest logit), {@link #confidence}.
     */
    public void row(float[] z, int zOff, int n, float[] q, int qOff, float lambda, float gradScale) {
        argmax = Kernels.argmax(z, zOff, n);
        float[] lanes = Lanes.floats();
        float max = z[zOff + argmax];
        // log-sum-exp
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i < upper; i += F.length()) {
            acc = acc.add(Kernels.exp(FloatVector.fromArray(F, z, zOff + i).sub(max)));
        }
        acc.intoArray(lanes, 0);
        double sum = Lanes.sum(lanes);
        for (; i < n; i++) {
            sum += Math.exp(z[zOff + i] - max);
        }
        float lse = max + (float) Math.log(sum);
        confidence = (float) (1.0 / sum);
        // p = exp(z - lse), H = -Σ p·logp, CE = -Σ q·logp
        FloatVector hAcc = FloatVector.zero(F);
        FloatVector ceAcc = FloatVector.zero(F);
        i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector logp = FloatVector.fromArray(F, z, zOff + i).sub(lse);
            FloatVector pv = Kernels.exp(logp);
            pv.intoArray(p, i);
            hAcc = pv.mul(logp).add(hAcc);
            ceAcc = FloatVector.fromArray(F, q, qOff + i).mul(logp).add(ceAcc);
        }
        hAcc.intoArray(lanes, 0);
        double h = -Lanes.sum(lanes);
        ceAcc.intoArray(lanes, 0);
        double ce = -Lanes.sum(lanes);
        for (; i < n; i++) {
            float logp = z[zOff + i] - lse;
            float pi = (float) Math.exp(logp);
            p[i] = pi;
            h -= pi * logp;
            ce -= q[qOff + i] * logp;
        }
        entropy = (float) h;
        crossEntropy = (float) ce;
        loss = (1 - lambda) * crossEntropy - lambda * entropy;
        if (gradScale == 0f) {
            return;
        }
        float a = (1 - lambda) * gradScale;
        float b = lambda * gradScale;
        float hl = entropy - lse; // log p + H = z - lse + H
        i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector pv = FloatVector.fromArray(F, p, i);
            FloatVector zv = FloatVector.fromArray(F, z, zOff + i);
            FloatVector g = pv.sub(FloatVector.fromArray(F, q, qOff + i)).mul(a).add(pv.mul(zv.add(hl)).mul(b));
            g.intoArray(z, zOff + i);
        }
        for (; i < n; i++) {
            float pi = p[i];
            z[zOff + i] = a * (pi - q[qOff + i]) + b * pi * (z[zOff + i] + hl);
        }
    }
}
