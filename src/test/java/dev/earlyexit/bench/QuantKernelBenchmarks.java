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
 * Kernels at Llama-3.2-1B's shapes: a 2048 x 2048 projection (attention q/o) and a 8192 x 2048 one
 * (ffn gate/up), per storage type (ggml's Q8_0 as q8, Q4_0, Q4_K, Q5_K, Q6_K, and bf16 for reference), as a
 * matrix-vector product (tokens = 1, decode) and a block of 8 rows (verification / prefill).
 * Divide {@code Matrix.bytes()} (printed once at setup) by the time for GB/s.
 */
public class QuantKernelBenchmarks extends StoriesBenchmarkDefaults {

    @Param({"8192x2048", "2048x2048"})
    public String shape;

    @Param({"bf16", "q8", "q4_0", "q4_k", "q5_k", "q6_k"})
    public String dtype;

    @Param({"1", "8"})
    public int tokens;

    @Param({"2"})
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
            w[i] = (float) r.nextGaussian() * 0.02f;
        }
        matrix = Matrix.of(DType.parse(dtype), w, rows, cols);
        System.out.println("matrix bytes " + matrix.bytes() + " (" + matrix.dtype() + ")");
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
