package dev.earlyexit.perf;

import dev.earlyexit.decoding.Sampler;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;

/** Development probe: bytes allocated by each part of a decode step on the driving thread. */
public final class AllocProbe {
    public static void main(String[] args) throws Exception {
        var tm = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        var m = Llama2cCheckpoint.load(Path.of(args[0]), DType.parse(args[1]));
        var c = m.config();
        try (ThreadPool pool = new ThreadPool(Integer.parseInt(args[2]))) {
            Transformer tf = new Transformer(c, m.weights(), pool);
            KVCache cache = new KVCache(c);
            float[] x = new float[c.dim()];
            float[] logits = new float[c.vocabSize()];
            Sampler nucleus = new Sampler(new SamplingOptions(0.8f, 40, 0.9f, 1), c.vocabSize());
            int[] tok = {1};
            long[] a = new long[4];
            long worker = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("earlyexit-worker")).mapToLong(Thread::getId).findFirst().orElse(-1);
            for (int round = 0; round < 12; round++) {
                cache.clear();
                java.util.Arrays.fill(a, 0);
                long w0 = tm.getThreadAllocatedBytes(worker);
                for (int p = 0; p < 200; p++) {
                    long t0 = tm.getCurrentThreadAllocatedBytes();
                    tf.embed(tok, 0, 1, p, x);
                    long t1 = tm.getCurrentThreadAllocatedBytes();
                    tf.forward(x, 1, 0, c.layers(), cache);
                    long t2 = tm.getCurrentThreadAllocatedBytes();
                    tf.logits(x, 0, logits);
                    long t3 = tm.getCurrentThreadAllocatedBytes();
                    tok[0] = nucleus.sample(logits, 0);
                    long t4 = tm.getCurrentThreadAllocatedBytes();
                    a[0] += t1 - t0; a[1] += t2 - t1; a[2] += t3 - t2; a[3] += t4 - t3;
                }
                System.out.printf("round %d: embed %d forward %d logits %d sample %d worker %d%n", round, a[0], a[1], a[2],
                        a[3], tm.getThreadAllocatedBytes(worker) - w0);
            }
        }
    }
}
