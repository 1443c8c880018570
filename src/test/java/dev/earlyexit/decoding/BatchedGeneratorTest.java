package dev.earlyexit.decoding;

import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Continuations decoded together are, each, what {@link Generator} gives for the same job alone. */
class BatchedGeneratorTest {
    static Transformer tf;
    static ModelConfig c;
    static ThreadPool pool;
    static final int[][] PROMPTS = {
            {1, 9038, 2501, 263, 931},          // "Once upon a time"
            {1, 4335, 322, 365, 2354, 892},     // "Tom and Lily were"
            {1, 450, 2217, 11203},              // "The little dog"
    };

    @BeforeAll
    static void load() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        c = m.config();
        pool = new ThreadPool(2);
        tf = new Transformer(c, m.weights(), pool);
    }

    @AfterAll
    static void close() {
        if (pool != null) {
            pool.close();
        }
    }

    @Test
    void everyJobEqualsItsLoneGeneration() {
        // 11 jobs through 4 rows: slots are refilled as jobs end, at different steps (stop tokens, lengths).
        int jobs = 11;
        int[][] prompts = new int[jobs][];
        SamplingOptions[] sampling = new SamplingOptions[jobs];
        for (int j = 0; j < jobs; j++) {
            prompts[j] = PROMPTS[j % PROMPTS.length];
            sampling[j] = j == 3 ? SamplingOptions.GREEDY : new SamplingOptions(j % 2 == 0 ? 1.0f : 0.8f, 0, 0.95f, 77 + j);
        }
        int maxTokens = 120;
        List<Integer> finished = new ArrayList<>();
        int[][] batched = BatchedGenerator.generate(tf, prompts, sampling, maxTokens, 4, finished::add);
        Generator alone = new Generator(tf);
        int stoppedEarly = 0;
        for (int j = 0; j < jobs; j++) {
            int[] expected = alone.generate(prompts[j], maxTokens, sampling[j], null).ids();
            assertThat(batched[j]).as("job %d", j).containsExactly(expected);
            stoppedEarly += expected.length < maxTokens ? 1 : 0;
        }
        assertThat(finished).as("each job reported once as it ended").hasSize(jobs).doesNotHaveDuplicates();
        assertThat(stoppedEarly).as("some jobs end at a stop token, so rows are refilled mid-run").isGreaterThan(0);
    }

    @Test
    void contextEndAndOneTokenJobs() {
        int[] longPrompt = new int[c.maxSeqLen() - 3];
        longPrompt[0] = 1;
        for (int i = 1; i < longPrompt.length; i++) {
            longPrompt[i] = 263 + (i % 50);
        }
        int[][] prompts = {longPrompt, PROMPTS[0]};
        SamplingOptions[] sampling = {SamplingOptions.GREEDY, SamplingOptions.GREEDY};
        int[][] out = BatchedGenerator.generate(tf, prompts, sampling, 1, 2, null);
        assertThat(out[1]).containsExactly(new Generator(tf).generate(PROMPTS[0], 1, SamplingOptions.GREEDY, null).ids());
        int[][] full = BatchedGenerator.generate(tf, prompts, sampling, 50, 2, null);
        assertThat(full[0]).as("room for 3 tokens after the prompt")
                .containsExactly(new Generator(tf).generate(longPrompt, 50, SamplingOptions.GREEDY, null).ids());
        assertThat(full[0].length).isLessThanOrEqualTo(3);
    }

    @Test
    void badArguments() {
        SamplingOptions[] one = {SamplingOptions.GREEDY};
        assertThatThrownBy(() -> BatchedGenerator.generate(tf, PROMPTS, one, 10, 4, null))
                .hasMessageContaining("3 prompts but 1 sampling options");
        assertThatThrownBy(() -> BatchedGenerator.generate(tf, new int[][] {PROMPTS[0]}, one, 10, 17, null))
                .hasMessageContaining("rows per step must be in [1, 16]");
        assertThatThrownBy(() -> BatchedGenerator.generate(tf, new int[][] {PROMPTS[0]}, one, 0, 4, null))
                .hasMessageContaining("max tokens must be >= 1");
        assertThatThrownBy(() -> BatchedGenerator.generate(tf, new int[][] {new int[0]}, one, 5, 4, null))
                .hasMessageContaining("the prompt is empty");
    }
}
