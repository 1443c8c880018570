package dev.earlyexit.decoding;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.format.HfCheckpoint;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Greedy DSSD and LayerSkip on the tiny real-layout checkpoints of every architecture (3 layers, logit-lens
 * heads after layers 1 and 2): the same ids and stop reason as the full model's {@link Generator}, for
 * several thresholds and draft lengths, on the reference prompt and generated ones, and the same KV cache
 * afterwards. GPT-2's 64-position context makes its runs end with a full context.
 */
class SelfSpeculativeArchTest {
    static final float[] THRESHOLDS = {0f, 0.02f, 0.04f, 0.08f};
    static final int[] MAX_DRAFTS = {1, 3, 6};
    static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(1);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt_neox", "phi", "qwen2", "llama_gqa", "qwen3", "llama31", "phi3"})
    void greedyOutputAndCacheEqualTheFullModel(String name) throws Exception {
        Path dir = TestModels.resource("reference/arch/" + name);
        HfCheckpoint.Loaded m = HfCheckpoint.load(dir, DType.F32);
        ModelConfig c = m.config();
        Transformer tf = new Transformer(c, m.weights(), pool);
        List<ExitHead> heads = List.of(new FinalNormClassifierTestHead(c, m.weights(), 1),
                new FinalNormClassifierTestHead(c, m.weights(), 2));
        Generator full = new Generator(tf);
        List<int[]> prompts = prompts(dir, c);
        long drafted = 0;
        long accepted = 0;
        for (int[] prompt : prompts) {
            GenerationResult want = full.generate(prompt, 72, SamplingOptions.GREEDY, null);
            int length = full.cache().length(0);
            for (float threshold : THRESHOLDS) {
                for (int maxDraft : MAX_DRAFTS) {
                    SelfSpeculativeDecoder d = new SelfSpeculativeDecoder(tf, heads, ExitCriterion.maxProbability(threshold), maxDraft);
                    SpeculativeResult r = d.generate(prompt, 72, SamplingOptions.GREEDY, null);
                    String what = name + " threshold " + threshold + " max draft " + maxDraft;
                    assertThat(r.ids()).as(what).containsExactly(want.ids());
                    assertThat(r.generation().stopReason()).as(what).isEqualTo(want.stopReason());
                    SelfSpeculativeDecoderTest.assertCachesEqual(d.cache(), full.cache(), length);
                    drafted += r.drafted();
                    accepted += r.accepted();
                }
            }
            for (ExitHead head : heads) {
                SelfSpeculativeDecoder d = SelfSpeculativeDecoder.layerSkip(tf, head, 4);
                SpeculativeResult r = d.generate(prompt, 72, SamplingOptions.GREEDY, null);
                assertThat(r.ids()).as(name + " layerskip at " + head.layer()).containsExactly(want.ids());
                SelfSpeculativeDecoderTest.assertCachesEqual(d.cache(), full.cache(), length);
            }
            // Reduced-vocabulary heads (even ids only, reversed): drafts map through tokenId.
            int[] even = SpeculativeSamplingTest.evenIdsReversed(c.vocabSize());
            List<ExitHead> reduced = List.of(new FinalNormClassifierTestHead(c, m.weights(), 1, even),
                    new FinalNormClassifierTestHead(c, m.weights(), 2, even));
            SelfSpeculativeDecoder d = new SelfSpeculativeDecoder(tf, reduced, ExitCriterion.maxProbability(0.03f), 3);
            SpeculativeResult r = d.generate(prompt, 72, SamplingOptions.GREEDY, null);
            assertThat(r.ids()).as(name + " reduced-vocabulary heads").containsExactly(want.ids());
            SelfSpeculativeDecoderTest.assertCachesEqual(d.cache(), full.cache(), length);
            for (int i = 0; i < r.ids().length; i++) {
                if (r.exitLayers()[i] < c.layers()) {
                    assertThat(r.ids()[i] % 2).as("a drafted token comes from the heads' even ids").isZero();
                }
            }
        }
        System.out.printf("%s: drafted %d, accepted %d%n", name, drafted, accepted);
        assertThat(drafted).isPositive();
        assertThat(accepted).isPositive().isLessThan(drafted);
    }

    /** Generations that end on the stop token, found among seeded random prompts: same ids, reason and cache. */
    @ParameterizedTest
    @ValueSource(strings = {"gpt_neox", "phi", "llama_gqa"})
    void stopTokensEndGenerationAsForTheFullModel(String name) throws Exception {
        Path dir = TestModels.resource("reference/arch/" + name);
        HfCheckpoint.Loaded m = HfCheckpoint.load(dir, DType.F32);
        ModelConfig c = m.config();
        Transformer tf = new Transformer(c, m.weights(), pool);
        List<ExitHead> heads = List.of(new FinalNormClassifierTestHead(c, m.weights(), 1),
                new FinalNormClassifierTestHead(c, m.weights(), 2));
        Generator full = new Generator(tf);
        SplittableRandom random = new SplittableRandom(7);
        int found = 0;
        for (int tries = 0; tries < 300 && found < 3; tries++) {
            int[] prompt = new int[4];
            for (int i = 0; i < prompt.length; i++) {
                prompt[i] = random.nextInt(c.vocabSize());
            }
            GenerationResult want = full.generate(prompt, 40, SamplingOptions.GREEDY, null);
            if (want.stopReason() != GenerationResult.StopReason.STOP_TOKEN) {
                continue;
            }
            found++;
            for (SelfSpeculativeDecoder d : List.of(
                    new SelfSpeculativeDecoder(tf, heads, ExitCriterion.maxProbability(0.02f), 4),
                    new SelfSpeculativeDecoder(tf, heads, ExitCriterion.always(), 2),
                    SelfSpeculativeDecoder.layerSkip(tf, heads.get(1), 5))) {
                SpeculativeResult r = d.generate(prompt, 40, SamplingOptions.GREEDY, null);
                assertThat(r.ids()).containsExactly(want.ids());
                assertThat(r.generation().stopReason()).isEqualTo(GenerationResult.StopReason.STOP_TOKEN);
                assertThat(r.exitLayers()).hasSameSizeAs(want.ids());
                SelfSpeculativeDecoderTest.assertCachesEqual(d.cache(), full.cache(), full.cache().length(0));
            }
        }
        assertThat(found).as("prompts whose greedy output ends on a stop token").isPositive();
    }

    @org.junit.jupiter.api.Test
    void sweepsCoverEverySetting() throws Exception {
        Path dir = TestModels.resource("reference/arch/llama_gqa");
        HfCheckpoint.Loaded m = HfCheckpoint.load(dir, DType.F32);
        ModelConfig c = m.config();
        Transformer tf = new Transformer(c, m.weights(), pool);
        List<ExitHead> heads = List.of(new FinalNormClassifierTestHead(c, m.weights(), 1),
                new FinalNormClassifierTestHead(c, m.weights(), 2));
        List<int[]> prompts = prompts(dir, c);
        List<SpeculativeSweep.Row> baseline = SpeculativeSweep.layerSkip(tf, heads, new int[] {1, 2, 4}, prompts, 24);
        assertThat(baseline).hasSize(6).allSatisfy(r -> {
            assertThat(r.tokens()).isEqualTo(3 * 23);
            assertThat(r.drafted()).isPositive();
            assertThat(r.verifications()).isPositive();
        });
        assertThat(baseline).extracting(SpeculativeSweep.Row::exitLayer).containsExactly(1, 1, 1, 2, 2, 2);
        assertThat(baseline).contains(SpeculativeSweep.fastest(baseline), SpeculativeSweep.mostAcceptedPerVerification(baseline));
        var criteria = new java.util.LinkedHashMap<String, DraftRule>();
        criteria.put("max p 0.02", DraftRule.of(ExitCriterion.maxProbability(0.02f)));
        criteria.put("max p 0.05", DraftRule.of(ExitCriterion.maxProbability(0.05f)));
        List<SpeculativeSweep.Row> dssd = SpeculativeSweep.dssd(tf, heads, criteria, new int[] {2, 6}, prompts, 24);
        assertThat(dssd).extracting(SpeculativeSweep.Row::setting).containsExactly(
                "max p 0.02, max draft 2", "max p 0.02, max draft 6", "max p 0.05, max draft 2", "max p 0.05, max draft 6");
        baseline.forEach(System.out::println);
        dssd.forEach(System.out::println);
    }

    /** The reference greedy prompt and two generated ones. */
    static List<int[]> prompts(Path dir, ModelConfig c) throws Exception {
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        List<int[]> prompts = new ArrayList<>();
        int[] p = new int[ref.get("greedy_prompt").size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = ref.get("greedy_prompt").get(i).asInt();
        }
        prompts.add(p);
        SplittableRandom random = new SplittableRandom(42);
        for (int len : new int[] {3, 12}) {
            int[] q = new int[len];
            for (int i = 0; i < len; i++) {
                q[i] = random.nextInt(c.vocabSize());
            }
            prompts.add(q);
        }
        return prompts;
    }
}
