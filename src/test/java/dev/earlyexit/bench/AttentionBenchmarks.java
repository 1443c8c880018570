package dev.earlyexit.bench;

import dev.earlyexit.tensor.Kernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;

import java.util.Random;

/** Attention of one stories15M head (48 dims) against a full 256-position cache: scores, then softmax. */
public class AttentionBenchmarks extends StoriesBenchmarkDefaults {
    private final float[] q = new float[48];
    private final float[] keys = new float[48 * 256];
    private final float[] scores = new float[256];

    @Setup
    public void setUp() {
        Random r = new Random(2);
        for (int i = 0; i < keys.length; i++) {
            keys[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) r.nextGaussian();
        }
    }

    @Benchmark
    public float[] scoresAndSoftmax() {
        Kernels.transposedScores(q, 0, keys, 0, 256, 48, 256, 0.144f, scores);
        Kernels.softmax(scores, 0, 256);
        return scores;
    }
}
