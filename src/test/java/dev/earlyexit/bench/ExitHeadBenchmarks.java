package dev.earlyexit.bench;

import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.SequenceProbe;
import dev.earlyexit.exits.CopiedFinalHead;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadFactory;
import dev.earlyexit.exits.HeadInit;
import dev.earlyexit.exits.HeadKind;
import dev.earlyexit.exits.VocabularySubset;
import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.ThreadPool;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import java.util.SplittableRandom;

/**
 * One exit-head consultation as early-exit decoding does it, on stories15M's shapes with random weights:
 * the head's logits from one hidden state, their softmax and the max-prob confidence. {@code subset}
 * is a vocabulary-subset head ({@link HeadKind#SUBSET}, 1358 tokens, the size train-heads chose for
 * stories15M in the README); {@code copied} is the untrained {@link CopiedFinalHead}, the model's final
 * norm and whole 32000 x 288 classifier. Run with scripts/jmh.sh.
 */
public class ExitHeadBenchmarks extends StoriesBenchmarkDefaults {
    /** stories15M (llama2.c): dim 288, 6 layers of 6 heads, 32000-token vocabulary, 256 positions. */
    static final ModelConfig STORIES15M = new ModelConfig("llama", 288, 768, 6, 6, 6, 48, 32000, 256,
            ModelConfig.NormKind.RMS, 1e-5f, 10000f, 48, ModelConfig.RopeStyle.INTERLEAVED, ModelConfig.MlpKind.SWIGLU,
            ModelConfig.ResidualKind.SEQUENTIAL, false, 1, 2, RopeScaling.NONE, false);
    private static final int SUBSET_SIZE = 1358;
    private static final int HEAD_LAYER = 4;

    @Param({"subset", "copied"})
    public String head;

    @Param({"1", "2"})
    public int threads;

    private ExitHead exitHead;
    private ConfidenceMetric metric;
    private float[] hidden;
    private float[] logits;
    private float[] probs;
    private ThreadPool pool;

    @Setup(Level.Trial)
    public void setUp() {
        ModelConfig c = STORIES15M;
        SplittableRandom r = new SplittableRandom(3);
        float[] finalNorm = gaussian(r, c.dim(), 0.1f);
        for (int i = 0; i < finalNorm.length; i++) {
            finalNorm[i] += 1f;
        }
        Matrix classifier = Matrix.of(DType.F32, gaussian(r, c.vocabSize() * c.dim(), (float) (1 / Math.sqrt(c.dim()))),
                c.vocabSize(), c.dim());
        ModelWeights w = new ModelWeights(classifier, null, new LayerWeights[0], finalNorm, null, classifier, null);
        if (head.equals("subset")) {
            int[] ids = new int[SUBSET_SIZE];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = i * (c.vocabSize() / SUBSET_SIZE); // spread over the vocabulary, as real frequent tokens are
            }
            exitHead = HeadFactory.create(HeadKind.SUBSET, HeadInit.RANDOM, HEAD_LAYER, c, w,
                    new VocabularySubset(ids, c.vocabSize()), 0, r);
        } else {
            exitHead = new CopiedFinalHead(HEAD_LAYER, c, w);
        }
        metric = ConfidenceMetric.byName("max-prob");
        hidden = gaussian(r, c.dim(), 1f);
        logits = new float[exitHead.outputSize()];
        probs = new float[exitHead.outputSize()];
        pool = new ThreadPool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
    }

    /** What EarlyExitDecoder does at a consulted layer before deciding: logits, softmax, confidence. */
    @Benchmark
    public double headCall() {
        exitHead.logits(hidden, 0, logits, pool);
        SequenceProbe.softmaxInto(logits, 0, logits.length, probs);
        return metric.confidence(probs, probs.length);
    }

    private static float[] gaussian(SplittableRandom r, int n, float std) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * std);
        }
        return x;
    }
}
