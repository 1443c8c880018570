package dev.earlyexit.perf;

import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;

import java.nio.file.Path;
import java.util.Arrays;

/** Development harness: java -cp ... QuickDecodeBench model.bin threads dtype. */
public final class QuickDecodeBench {
    public static void main(String[] args) throws Exception {
        var loaded = Llama2cCheckpoint.load(Path.of(args[0]), DType.parse(args[2]));
        try (ThreadPool pool = new ThreadPool(Integer.parseInt(args[1]))) {
            Transformer tf = new Transformer(loaded.config(), loaded.weights(), pool);
            Generator g = new Generator(tf);
            int[] prompt = {1, 9038, 2501, 263, 931};
            double[] r = new double[8];
            for (int i = 0; i < r.length; i++) {
                GenerationResult res = g.generate(prompt, 256, SamplingOptions.GREEDY, null);
                r[i] = res.decodeTokensPerSecond();
                System.out.printf("run %d: %d tokens, %.1f tok/s, prefill %.1f ms%n", i, res.ids().length, r[i], res.prefillMs());
            }
            Arrays.sort(r);
            System.out.printf("median %.1f tok/s%n", (r[3] + r[4]) / 2);
        }
    }
}
