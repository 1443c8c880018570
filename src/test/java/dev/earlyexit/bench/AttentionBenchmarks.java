package dev.earlyexit.bench;

import dev.earlyexit.tensor.Kernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;

import java.util.Random;

/**
 * Attention of one stories15M head (48 dims) against a full 256-position cache: the scores and their
 * softmax, then the weighted sum of the value rows (stored [position, 288]). {@code valuesAxpyPerPosition}
 * is the way the engine used to do the sum, kept here as the reference the kernel is measured against.
 */
public class AttentionBenchmarks extends StoriesBenchmarkDefaults {
    private static final int DIMS = 48;
    private static final int POSITIONS = 256;
    private static final int KV_DIM = 288;
    private final float[] q = new float[DIMS];
    private final float[] keys = new float[DIMS * POSITIONS];
    private final float[] values = new float[POSITIONS * KV_DIM];
    private final float[] scores = new float[POSITIONS];
    private final float[] out = new float[DIMS];

    @Setup
    public void setUp() {
        Random r = new Random(2);
        for (float[] a : new float[][] {keys, values, q}) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) r.nextGaussian();
            }
        }
        for (int p = 0; p < POSITIONS; p++) {
            scores[p] = 1f / POSITIONS;
        }
    }

    @Benchmark
    public float[] scoresAndSoftmax() {
        Kernels.transposedScores(q, 0, keys, 0, POSITIONS, DIMS, POSITIONS, 0.144f, scores);
        Kernels.softmax(scores, 0, POSITIONS);
        return scores;
    }

    @Benchmark
    public float[] valuesWeightedRowSum() {
        Kernels.weightedRowSum(scores, POSITIONS, values, 0, KV_DIM, out, 0, DIMS);
        return out;
    }

    @Benchmark
    public float[] valuesAxpyPerPosition() {
        java.util.Arrays.fill(out, 0f);
        for (int p = 0; p < POSITIONS; p++) {
            Kernels.axpy(scores[p], values, p * KV_DIM, out, 0, DIMS);
        }
        return out;
    }
}
