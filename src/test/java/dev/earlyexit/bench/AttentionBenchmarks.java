package dev.earlyexit.bench;

import dev.earlyexit.tensor.Kernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/** Attention of one stories15M head (48 dims) against a full 256-position cache: scores, then softmax. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class AttentionBenchmarks {
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
