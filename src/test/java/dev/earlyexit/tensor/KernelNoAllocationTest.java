package dev.earlyexit.tensor;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every weight type's products allocate nothing once compiled: a matrix-vector product (decode), a
 * block of 8 rows (DSSD verification, short prefill) and a tiled block of 49 rows (prefill), whose
 * scratch the pool keeps.
 *
 * <p>Runs in the build's no-allocation JVM (its own fork, -Xbatch; see the pom): in the JVM shared with
 * every other test, what ran before changes what the JIT makes of the kernels (CI once saw the Q6_K
 * tiled product allocate 98 KB a product there, steadily, after hundreds of other tests, though C2 had
 * compiled its row widening without a failed inline), which made the check flaky without pointing at
 * a kernel.
 */
class KernelNoAllocationTest {
    private static final GgmlType[] TYPES = {
            GgmlType.F32, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K};

    @Test
    void productsAllocateNothing() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random r = new Random(5);
        int rows = 64;
        int cols = 512;
        int tiled = 49;
        float[] x = KQuantMatrixTest.gaussian(r, tiled * cols);
        float[] out = new float[tiled * rows];
        // this pool's workers only: another test's pool left open would count its own work here
        java.util.Set<Thread> existing = Thread.getAllStackTraces().keySet();
        try (ThreadPool pool = new ThreadPool(2)) {
            for (GgmlType t : TYPES) {
                float[] w = KQuantMatrixTest.gaussian(r, rows * cols);
                Matrix m = GgmlMatrices.of(t, ByteBuffer.wrap(GgmlMatrices.quantize(t, w, 0, rows, cols)), rows, cols);
                for (int T : new int[] {1, 8, tiled}) {
                    long[] ids = Thread.getAllStackTraces().keySet().stream()
                            .filter(th -> th == Thread.currentThread()
                                    || th.getName().startsWith("earlyexit-worker") && !existing.contains(th))
                            .mapToLong(Thread::getId).toArray();
                    long[] start = new long[ids.length];
                    long[] end = new long[ids.length];
                    long last = Long.MAX_VALUE;
                    // windows until one allocates nothing: interpreted and C1 Vector API code allocates
                    for (int window = 0; window < 60 && last > 0; window++) {
                        threads.getThreadAllocatedBytes(ids); // the first call allocates its own bookkeeping
                        System.arraycopy(threads.getThreadAllocatedBytes(ids), 0, start, 0, ids.length);
                        for (int i = 0; i < 200; i++) {
                            m.matmul(x, T, out, pool);
                        }
                        System.arraycopy(threads.getThreadAllocatedBytes(ids), 0, end, 0, ids.length);
                        last = 0;
                        for (int k = 0; k < ids.length; k++) {
                            last += Math.max(0, end[k] - start[k] - 64); // the array the reading returns
                        }
                    }
                    assertThat(last).as("bytes allocated by 200 %s products of T=%d after warm-up", t, T).isZero();
                }
            }
        }
    }
}
