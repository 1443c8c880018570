package dev.earlyexit.bench;

import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.ThreadPool;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import java.util.Random;

/**
 * Kernel micro-benchmarks on stories15M's shapes: the classifier (32000 x 288) and a layer's fused
 * q|k|v (864 x 288) and down projection (288 x 768), as matrix-vector (T = 1, decoding) and
 * matrix-matrix (T = 16, a speculative verification block) products, per storage type.
 * Run with scripts/jmh.sh.
 */
public class KernelBenchmarks extends StoriesBenchmarkDefaults {

    @Param({"32000x288", "864x288", "288x768"})
    public String shape;

    @Param({"f32", "bf16", "q8"})
    public String dtype;

    @Param({"1", "16"})
    public int tokens;

    @Param({"1", "2"})
    public int threads;

    private Matrix matrix;
    private float[] x;
    private float[] out;
    private ThreadPool pool;

    @Setup(Level.Trial)
    public void setUp() {
        String[] rc = shape.split("x");
        int rows = Integer.parseInt(rc[0]);
        int cols = Integer.parseInt(rc[1]);
        Random r = new Random(1);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        matrix = Matrix.of(DType.parse(dtype), w, rows, cols);
        x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        out = new float[tokens * rows];
        pool = new ThreadPool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
    }

    @Benchmark
    public float[] matmul() {
        matrix.matmul(x, tokens, out, pool);
        return out;
    }
}
