package dev.earlyexit.exits;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.TrainKernels;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Trains exit heads on a {@link HeadDataset} against the frozen model's own distribution with
 * {@link ExitLoss}, summed over heads, and AdamW. Each step takes the next {@code batch} positions of a
 * seeded shuffle, recomputes p_model for them (final norm + classifier + softmax), and for each head runs
 * forward, loss and backward on the batched kernels; then one AdamW update of all heads.
 *
 * <p>Deterministic for a seed, and independent of the thread count: every kernel computes each output
 * element on one worker in a fixed order and every sum over the batch is sequential. All buffers are
 * made in the constructor, so the step loop allocates nothing.
 */
public final class HeadTrainer {

    /** Called after every step with the step's batch metrics per head. */
    @FunctionalInterface
    public interface StepListener {
        void onStep(int step, int steps, float lr, float[] agreement, float[] entropy, float[] loss);
    }

    private final Transformer model;
    private final List<TrainableHead> heads;
    private final TrainingOptions options;
    private final TrainKernels kernels;
    private final int dim;
    private final int vocab;
    private final int batch;
    private final float[] finalBatch;
    private final float[][] hiddenBatch;
    private final int[] argmaxBatch;
    private final int[] positions;
    private final float[] pModel;
    private final float[] z;
    private final float[] q;
    private final ExitLoss loss;
    private final float[] agreement;
    private final float[] entropy;
    private final float[] lossSum;
    private double modelEntropySum;
    private double modelEntropy = Double.NaN;

    public HeadTrainer(Transformer model, List<? extends TrainableHead> heads, TrainingOptions options, TrainKernels kernels) {
        this.model = model;
        this.heads = List.copyOf(heads);
        this.options = options;
        this.kernels = kernels;
        ModelConfig c = model.config();
        this.dim = c.dim();
        this.vocab = c.vocabSize();
        this.batch = options.batch();
        this.finalBatch = new float[batch * dim];
        this.hiddenBatch = new float[heads.size()][batch * dim];
        this.argmaxBatch = new int[batch];
        this.positions = new int[batch];
        this.pModel = new float[batch * vocab];
        int maxOut = 1;
        for (TrainableHead h : heads) {
            maxOut = Math.max(maxOut, h.outputSize());
        }
        this.z = new float[batch * maxOut];
        this.q = new float[maxOut];
        this.loss = new ExitLoss(Math.max(maxOut, vocab));
        this.agreement = new float[heads.size()];
        this.entropy = new float[heads.size()];
        this.lossSum = new float[heads.size()];
    }

    /** Runs options.steps() steps and returns the per-step metrics. */
    public TrainingHistory train(HeadDataset data, StepListener listener) {
        int[] slot = slots(data);
        AdamW adam = new AdamW(heads.stream().filter(h -> !isFrozen(h)).toList(), options.weightDecay());
        TrainingHistory history = new TrainingHistory(layers(), options.steps());
        int[] order = new int[data.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(options.seed());
        int cursor = order.length;
        for (int step = 0; step < options.steps(); step++) {
            for (int b = 0; b < batch; b++) {
                if (cursor == order.length) {
                    shuffle(order, random);
                    cursor = 0;
                }
                positions[b] = order[cursor++];
            }
            for (TrainableHead h : heads) {
                h.zeroGrad();
            }
            batchLossAndGradient(data, slot, positions, batch, true);
            float lr = options.learningRate(step);
            adam.step(lr, kernels);
            history.record(step, lr, agreement, entropy, lossSum);
            if (listener != null) {
                listener.onStep(step, options.steps(), lr, agreement, entropy, lossSum);
            }
        }
        return history;
    }

    /** Metrics of every head over all positions of {@code data} (no training). */
    public List<HeadMetrics> evaluate(HeadDataset data) {
        int[] slot = slots(data);
        int k = heads.size();
        double[] agree = new double[k];
        double[] ent = new double[k];
        double[] ce = new double[k];
        double[] ls = new double[k];
        double[] ceBatch = new double[k];
        double[] conf = new double[k];
        double[] confBatch = new double[k];
        int n = data.size();
        modelEntropySum = 0;
        for (int start = 0; start < n; start += batch) {
            int B = Math.min(batch, n - start);
            for (int b = 0; b < B; b++) {
                positions[b] = start + b;
            }
            forwardBatch(data, slot, positions, B, false, ceBatch, confBatch);
            for (int h = 0; h < k; h++) {
                agree[h] += agreement[h] * B;
                ent[h] += entropy[h] * B;
                ls[h] += lossSum[h] * B;
                ce[h] += ceBatch[h] * B;
                conf[h] += confBatch[h] * B;
            }
        }
        modelEntropy = modelEntropySum / n;
        List<HeadMetrics> out = new ArrayList<>();
        for (int h = 0; h < k; h++) {
            out.add(new HeadMetrics(heads.get(h).layer(), agree[h] / n, ent[h] / n, ce[h] / n, ls[h] / n, conf[h] / n, n));
        }
        return out;
    }

    /**
     * The training objective on the given positions (mean over them, summed over heads) and, when
     * {@code gradients}, its gradient added to every trainable parameter's grad.
     */
    private double batchLossAndGradient(HeadDataset data, int[] slot, int[] pos, int B, boolean gradients) {
        forwardBatch(data, slot, pos, B, gradients, null, null);
        double total = 0;
        for (float l : lossSum) {
            total += l;
        }
        return total;
    }

    /**
     * The training objective (mean over the positions, summed over heads) on up to {@code batch} positions
     * of {@code data}, and with {@code gradients} its gradient added to every trainable parameter's grad
     * (zero them first). What a step minimises; used to check the gradient against finite differences.
     */
    public double lossAndGradient(HeadDataset data, int[] pos, boolean gradients) {
        System.arraycopy(pos, 0, positions, 0, pos.length);
        return batchLossAndGradient(data, slots(data), positions, pos.length, gradients);
    }

    private void forwardBatch(HeadDataset data, int[] slot, int[] pos, int B, boolean gradients, double[] ceOut,
                              double[] confOut) {
        for (int b = 0; b < B; b++) {
            int p = pos[b];
            System.arraycopy(data.finalHidden(), p * dim, finalBatch, b * dim, dim);
            argmaxBatch[b] = data.modelArgmax(p);
            for (int h = 0; h < heads.size(); h++) {
                System.arraycopy(data.hidden(slot[h]), p * dim, hiddenBatch[h], b * dim, dim);
            }
        }
        model.logitsBlock(finalBatch, B, pModel);
        for (int b = 0; b < B; b++) {
            Kernels.softmax(pModel, b * vocab, vocab);
            if (ceOut != null) {
                modelEntropySum += entropy(pModel, b * vocab, vocab);
            }
        }
        float scale = gradients ? 1f / B : 0f;
        float lambda = options.lambda();
        for (int h = 0; h < heads.size(); h++) {
            TrainableHead head = heads.get(h);
            int out = head.outputSize();
            head.forwardBatch(hiddenBatch[h], B, z, kernels);
            double agree = 0;
            double ent = 0;
            double ls = 0;
            double ce = 0;
            double conf = 0;
            for (int b = 0; b < B; b++) {
                float[] target = pModel;
                int tOff = b * vocab;
                if (head.kind() == HeadKind.SUBSET) {
                    subsetTarget(head, b * vocab, out);
                    target = q;
                    tOff = 0;
                }
                loss.row(z, b * out, out, target, tOff, lambda, scale);
                if (head.tokenId(loss.argmax) == argmaxBatch[b]) {
                    agree++;
                }
                ent += loss.entropy;
                ls += loss.loss;
                ce += loss.crossEntropy;
                conf += loss.confidence;
            }
            agreement[h] = (float) (agree / B);
            entropy[h] = (float) (ent / B);
            lossSum[h] = (float) (ls / B);
            if (ceOut != null) {
                ceOut[h] = ce / B;
                confOut[h] = conf / B;
            }
            if (gradients && !isFrozen(head)) {
                head.backwardBatch(hiddenBatch[h], B, z, kernels);
            }
        }
    }

    /**
     * A head after the last layer is not trained: copied, it is the model's own final norm and classifier
     * restricted to its vocabulary, which is exactly its target (p_model restricted and renormalised), so
     * training could only move it away (measured on stories15M: held-out agreement 0.937 copied, 0.866
     * after 3000 steps at λ = 0.1).
     */
    boolean isFrozen(TrainableHead head) {
        return head.layer() == model.config().layers();
    }

    /** Mean entropy (nats) of the model's own distribution over the last {@link #evaluate}d data. */
    public double modelEntropy() {
        return modelEntropy;
    }

    private static double entropy(float[] p, int off, int n) {
        double h = 0;
        for (int i = 0; i < n; i++) {
            float v = p[off + i];
            if (v > 0f) {
                h -= v * Math.log(v);
            }
        }
        return h;
    }

    /** q = p_model restricted to the head's tokens and renormalised (the head cannot place mass elsewhere). */
    private void subsetTarget(TrainableHead head, int pOff, int out) {
        double sum = 0;
        for (int i = 0; i < out; i++) {
            float v = pModel[pOff + head.tokenId(i)];
            q[i] = v;
            sum += v;
        }
        Kernels.scale(q, 0, out, (float) (1.0 / Math.max(sum, 1e-30)));
    }

    private int[] slots(HeadDataset data) {
        int[] dl = data.layers();
        int[] slot = new int[heads.size()];
        for (int h = 0; h < heads.size(); h++) {
            slot[h] = -1;
            for (int i = 0; i < dl.length; i++) {
                if (dl[i] == heads.get(h).layer()) {
                    slot[h] = i;
                }
            }
            if (slot[h] < 0) {
                throw new IllegalArgumentException("the data holds no hidden states for layer " + heads.get(h).layer());
            }
        }
        return slot;
    }

    private int[] layers() {
        int[] l = new int[heads.size()];
        for (int h = 0; h < l.length; h++) {
            l[h] = heads.get(h).layer();
        }
        return l;
    }

    private static void shuffle(int[] a, SplittableRandom r) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
