package dev.earlyexit.decoding;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * DSSD and the LayerSkip baseline on the real stories15M model, with untrained logit-lens heads after
 * layers 2 and 4: the output equals the reference greedy tokens, and the cache after all the rollbacks
 * equals a fresh full-model run.
 */
class SelfSpeculativeDecoderTest {
    /** Tokens per prompt: enough for several draft rounds with rejections, few enough for a loaded machine. */
    static final int TOKENS = 32;
    static ThreadPool pool;
    static Transformer tf;
    static ModelConfig c;
    static List<ExitHead> heads;
    static List<int[]> prompts = new ArrayList<>();
    static List<int[]> expected = new ArrayList<>();

    @BeforeAll
    static void load() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        c = m.config();
        pool = new ThreadPool(2);
        tf = new Transformer(c, m.weights(), pool);
        heads = List.of(new FinalNormClassifierTestHead(c, m.weights(), 2), new FinalNormClassifierTestHead(c, m.weights(), 4));
        ObjectMapper om = new ObjectMapper();
        for (String line : Files.readAllLines(TestModels.resource("reference/stories15M/greedy.jsonl"))) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode ref = om.readTree(line);
            int[] tokens = new int[ref.get("tokens").size()];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = ref.get("tokens").get(i).asInt();
            }
            int n = ref.get("prompt_tokens").asInt();
            prompts.add(Arrays.copyOf(tokens, n));
            expected.add(Arrays.copyOfRange(tokens, n, n + TOKENS));
        }
    }

    @AfterAll
    static void close() {
        if (pool != null) {
            pool.close();
        }
    }

    @ParameterizedTest(name = "threshold {0}, max draft {1}")
    @CsvSource({"0.5, 4", "0.3, 8", "0.8, 2"})
    void greedyDssdReproducesTheReferenceGreedyTokens(float threshold, int maxDraft) {
        SelfSpeculativeDecoder d = new SelfSpeculativeDecoder(tf, heads, ExitCriterion.maxProbability(threshold), maxDraft);
        long drafted = 0;
        long accepted = 0;
        for (int i = 0; i < prompts.size(); i++) {
            SpeculativeResult r = d.generate(prompts.get(i), TOKENS, SamplingOptions.GREEDY, null, false);
            assertThat(r.ids()).as("prompt %d", i).containsExactly(expected.get(i));
            assertThat(r.exitLayers()).hasSize(TOKENS);
            assertThat(r.exitsPerHead()[0] + r.exitsPerHead()[1]).isEqualTo((int) r.accepted());
            drafted += r.drafted();
            accepted += r.accepted();
        }
        System.out.printf("threshold %.2f, max draft %d: drafted %d, accepted %d%n", threshold, maxDraft, drafted, accepted);
        assertThat(drafted).isPositive();
        assertThat(accepted).isPositive().isLessThan(drafted); // drafts were both kept and rejected
    }

    /** A rule like a draft plan's: chance = the head's max probability, drafts while the window stays likely. */
    private static DraftRule windowRule(double draft, double keep) {
        return windowRule(draft, keep, 0.0);
    }

    /** ... and runs the last draft at verification only when the window reaches {@code last}. */
    private static DraftRule windowRule(double draft, double keep, double last) {
        return new DraftRule() {
            @Override
            public boolean runLastDraft(double window) {
                return window >= last;
            }

            @Override
            public double exitChance(int headIndex, float[] headProbs, int n, double window) {
                double p = 0;
                for (int i = 0; i < n; i++) {
                    p = Math.max(p, headProbs[i]);
                }
                p = Math.min(p, 0.99); // as an acceptance model's estimate: never a certainty
                return window * p >= draft ? p : 0;
            }

            @Override
            public boolean keepDrafting(double window) {
                return window >= keep;
            }
        };
    }

    @ParameterizedTest(name = "draft {0}, keep {1}, run the last draft from {2}")
    @CsvSource({"0.2, 0.4, 0", "0.05, 0.0, 0", "0.5, 0.9, 0", "0.05, 0.0, 1.5", "0.2, 0.3, 0.6"})
    void aWindowAwareRuleKeepsTheReferenceGreedyTokens(double draft, double keep, double last) {
        SelfSpeculativeDecoder d = new SelfSpeculativeDecoder(tf, heads, windowRule(draft, keep, last), 8);
        long drafted = 0;
        for (int i = 0; i < prompts.size(); i++) {
            SpeculativeResult r = d.generate(prompts.get(i), TOKENS, SamplingOptions.GREEDY, null, false);
            assertThat(r.ids()).as("prompt %d", i).containsExactly(expected.get(i));
            drafted += r.drafted();
        }
        assertThat(drafted).isPositive();
    }

    @Test
    void theStopRuleEndsADraftBeforeTheNextStep() {
        // Every chance is at most 0.99, so after one draft the window is below 0.995: one draft per round.
        SelfSpeculativeDecoder d = new SelfSpeculativeDecoder(tf, heads, windowRule(0.0, 0.995), 8);
        SpeculativeResult r = d.generate(prompts.get(0), TOKENS, SamplingOptions.GREEDY, null, false);
        assertThat(r.ids()).containsExactly(expected.get(0));
        assertThat(r.drafted()).isPositive().isEqualTo(r.verifications());
    }

    @Test
    void layerSkipBaselineReproducesTheReferenceGreedyTokens() {
        SelfSpeculativeDecoder d = SelfSpeculativeDecoder.layerSkip(tf, heads.get(1), 3);
        for (int i = 0; i < 2; i++) {
            SpeculativeResult r = d.generate(prompts.get(i), TOKENS, SamplingOptions.GREEDY, null, false);
            assertThat(r.ids()).as("prompt %d", i).containsExactly(expected.get(i));
            assertThat(r.drafted()).isPositive();
            assertThat(r.accepted()).isLessThan(r.drafted());
            assertThat(r.plainSteps()).isLessThanOrEqualTo(1); // the last token alone, when one is left
        }
    }

    @Test
    void cacheAfterRollbacksEqualsAFreshFullRun() {
        SelfSpeculativeDecoder d = new SelfSpeculativeDecoder(tf, heads, ExitCriterion.maxProbability(0.3f), 6);
        int[] prompt = prompts.get(1);
        SpeculativeResult r = d.generate(prompt, 40, SamplingOptions.GREEDY, null, false);
        assertThat(r.accepted()).isLessThan(r.drafted());
        assertThat(r.toJson()).containsKeys("ids", "tokens_per_s", "drafted", "accepted", "exit_layers", "acceptance_rate",
                "mean_accepted_per_verification", "exits_per_head");
        assertThat((int[]) r.toJson().get("exit_layers")).hasSize(40);
        int[] all = new int[prompt.length + r.ids().length - 1]; // the last output token is not run yet
        System.arraycopy(prompt, 0, all, 0, prompt.length);
        System.arraycopy(r.ids(), 0, all, prompt.length, r.ids().length - 1);
        KVCache fresh = new KVCache(c);
        float[] x = new float[all.length * c.dim()];
        tf.embed(all, 0, all.length, 0, x);
        tf.forward(x, all.length, 0, c.layers(), fresh);
        assertCachesEqual(d.cache(), fresh, all.length);
    }

    static void assertCachesEqual(KVCache actual, KVCache expected, int length) {
        for (int l = 0; l < expected.layers(); l++) {
            assertThat(actual.length(l)).as("layer %d length", l).isEqualTo(length);
            for (int p = 0; p < length; p++) {
                float[] k1 = actual.key(l, p);
                float[] k2 = expected.key(l, p);
                float[] v1 = actual.value(l, p);
                float[] v2 = expected.value(l, p);
                for (int i = 0; i < k1.length; i++) {
                    assertThat(Math.abs(k1[i] - k2[i])).as("key layer %d position %d", l, p).isLessThan(1e-4f);
                    assertThat(Math.abs(v1[i] - v2[i])).as("value layer %d position %d", l, p).isLessThan(1e-4f);
                }
            }
        }
    }

    @Test
    void criteriaDecideOnTheHeadsDistribution() {
        float[] probs = {0.1f, 0.6f, 0.3f};
        assertThat(ExitCriterion.maxProbability(0.6f).exits(0, probs, 3)).isTrue();
        assertThat(ExitCriterion.maxProbability(0.61f).exits(0, probs, 3)).isFalse();
        assertThat(ExitCriterion.maxProbability(0.6f).exits(0, probs, 1)).isFalse(); // only [0, n) counts
        ExitCriterion perHead = ExitCriterion.maxProbability(new float[] {0.9f, 0.5f});
        assertThat(perHead.exits(0, probs, 3)).isFalse();
        assertThat(perHead.exits(1, probs, 3)).isTrue();
        ExitCriterion.Confidence maxProb = (p, n) -> Math.max(Math.max(p[0], p[1]), p[2]);
        ExitCriterion calibrated = ExitCriterion.atLeast(maxProb, new double[] {Double.POSITIVE_INFINITY, 0.5, Double.NaN});
        assertThat(calibrated.exits(0, probs, 3)).isFalse();
        assertThat(calibrated.exits(1, probs, 3)).isTrue();
        assertThat(calibrated.exits(2, probs, 3)).isFalse();
        assertThat(ExitCriterion.always().exits(0, probs, 3)).isTrue();
    }

    @Test
    void headsMustBeAscendingAndWithinTheModel() {
        var w = heads.get(0);
        assertThatThrownBy(() -> new SelfSpeculativeDecoder(tf, List.of(heads.get(1), w), ExitCriterion.always(), 4))
                .hasMessageContaining("ascending");
        assertThatThrownBy(() -> SelfSpeculativeDecoder.layerSkip(tf, new ExitHeadAt(c.layers() + 1, w), 4))
                .hasMessageContaining("cannot draft");
        assertThatThrownBy(() -> SelfSpeculativeDecoder.layerSkip(tf, w, 0)).hasMessageContaining("draft length");
    }

    /** A head moved to another layer (for argument checks). */
    private record ExitHeadAt(int layer, ExitHead h) implements ExitHead {
        public int outputSize() {
            return h.outputSize();
        }

        public int tokenId(int index) {
            return h.tokenId(index);
        }

        public int indexOf(int tokenId) {
            return h.indexOf(tokenId);
        }

        public void logits(float[] hidden, int offset, float[] out, ThreadPool pool) {
            h.logits(hidden, offset, out, pool);
        }

        public long bytesPerCall() {
            return h.bytesPerCall();
        }
    }
}
