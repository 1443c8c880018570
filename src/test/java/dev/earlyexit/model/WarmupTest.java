package dev.earlyexit.model;

import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

class WarmupTest {

    @Test
    void runsToTheEndForEveryStorageType() {
        for (DType d : DType.values()) {
            Warmup.run(d);
        }
    }

    /** The warm-up shares nothing with a real model: generation while it runs gives the same tokens. */
    @Test
    void generationBesideAWarmupIsUnchanged() throws Exception {
        Llama2cCheckpoint.Loaded m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        int[] prompt = {1, 9038, 2501, 263, 931};
        SamplingOptions greedy = SamplingOptions.GREEDY;
        int[] alone;
        try (ThreadPool pool = new ThreadPool(2)) {
            alone = new Generator(new Transformer(m.config(), m.weights(), pool)).generate(prompt, 40, greedy, null).ids();
        }
        Warmup.Running warmup = Warmup.startInBackground(DType.F32);
        int[] beside;
        try (ThreadPool pool = new ThreadPool(2)) {
            beside = new Generator(new Transformer(m.config(), m.weights(), pool)).generate(prompt, 40, greedy, null).ids();
        }
        warmup.join();
        assertThat(beside).isEqualTo(alone);
    }

    /** Stopped when the real model is ready, the warm-up thread ends after its current step, not at its end. */
    @Test
    @Timeout(30)
    void aStoppedWarmupEndsEarly() throws Exception {
        int whole = Warmup.run(DType.F32);
        Warmup.Running warmup = Warmup.startInBackground(DType.F32);
        warmup.stop();
        warmup.join();
        assertThat(warmup.steps()).isLessThan(whole);
    }
}
