package dev.earlyexit.decoding;

import dev.earlyexit.calibration.ConfidenceMetrics;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.ExitHeadProvider;
import dev.earlyexit.exits.HeadFactory;
import dev.earlyexit.exits.HeadInit;
import dev.earlyexit.exits.HeadKind;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.exits.VocabularySubset;
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
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A subset head after the last layer stands in for the classifier: on stories15M it is an exact copy of
 * the classifier's rows for a vocabulary that holds every token the full model chooses here, so its
 * argmax is the model's, and both decoders must reproduce full greedy output while skipping the classifier.
 */
class FinalLayerHeadTest {
    static final int[] PROMPT = {1, 9038, 2501, 263, 931}; // "Once upon a time"
    static final int TOKENS = 40;
    static ThreadPool pool;
    static Transformer tf;
    static ModelConfig c;
    static int[] fullIds;
    static ExitHead lastHead;
    static ExitHead copiedLayer4;

    @BeforeAll
    static void load() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        c = m.config();
        pool = new ThreadPool(2);
        tf = new Transformer(c, m.weights(), pool);
        fullIds = new Generator(tf).generate(PROMPT, TOKENS, SamplingOptions.GREEDY, null, false).ids();
        // The model's own choices plus 300 other tokens, so the head still has to pick among many.
        int[] ids = IntStream.concat(Arrays.stream(fullIds), IntStream.range(1000, 1300)).distinct().toArray();
        VocabularySubset subset = new VocabularySubset(ids, c.vocabSize());
        lastHead = HeadFactory.create(HeadKind.SUBSET, HeadInit.COPY, c.layers(), c, m.weights(), subset, 0,
                new SplittableRandom(1));
        copiedLayer4 = ExitHeadProvider.copied(new int[] {4}).heads(c, m.weights()).head(0);
    }

    @AfterAll
    static void close() {
        if (pool != null) {
            pool.close();
        }
    }

    @Test
    void earlyExitThroughTheLastLayerHeadSkipsTheClassifierAndKeepsTheOutput() {
        HeadSet heads = new HeadSet("test", "test", List.of(lastHead));
        EarlyExitDecoder d = new EarlyExitDecoder(tf, heads, new double[] {0.0}, ConfidenceMetrics.MAX_PROB);
        EarlyExitResult r = d.generate(PROMPT, TOKENS, SamplingOptions.GREEDY, null, false);
        assertThat(r.generation().ids()).containsExactly(fullIds);
        assertThat(r.exitLayers()).containsOnly(c.layers());
        // Every decoded token came from the head; only the prefill's token from the classifier.
        assertThat(r.finalHeadExits()).isEqualTo(TOKENS - 1);
        assertThat(r.exitsPerHead()).containsExactly(TOKENS - 1, 1);
        assertThat(r.fillRows()).isZero();
        for (int l = 0; l < c.layers(); l++) {
            assertThat(d.cache().length(l)).isEqualTo(d.positions());
        }
    }

    @Test
    void aLastLayerHeadBehindAnIntermediateOneCountsItsOwnExits() {
        HeadSet heads = new HeadSet("test", "test", List.of(copiedLayer4, lastHead));
        EarlyExitDecoder d = new EarlyExitDecoder(tf, heads, new double[] {0.8, 0.9}, ConfidenceMetrics.MAX_PROB);
        EarlyExitResult r = d.generate(PROMPT, TOKENS, SamplingOptions.GREEDY, null, false);
        int[] counts = r.exitsPerHead();
        assertThat(Arrays.stream(counts).sum()).isEqualTo(r.exitLayers().length);
        assertThat(counts[0]).isEqualTo((int) Arrays.stream(r.exitLayers()).filter(e -> e == 4).count());
        assertThat(counts[1]).isEqualTo(r.finalHeadExits()).isPositive();
        assertThat(counts[2]).isPositive(); // the prefill's token at least
        assertThat(HeadSet.exitLabels(r.headLayers(), c.layers()))
                .containsExactly("4", c.layers() + "-head", Integer.toString(c.layers()));
    }

    @Test
    void dssdDraftingFromTheLastLayerHeadReproducesGreedyOutput() {
        List<ExitHead> heads = new ArrayList<>(List.of(copiedLayer4, lastHead));
        for (int maxDraft : new int[] {2, 6}) {
            SelfSpeculativeDecoder d = new SelfSpeculativeDecoder(tf, heads, ExitCriterion.maxProbability(0.5f), maxDraft);
            SpeculativeResult r = d.generate(PROMPT, TOKENS, SamplingOptions.GREEDY, null, false);
            assertThat(r.ids()).as("max draft %d", maxDraft).containsExactly(fullIds);
            int[] counts = r.exitsPerHead();
            assertThat(counts[0] + counts[1]).isEqualTo((int) r.accepted());
            assertThat(counts[1]).isEqualTo(r.finalHeadAccepted()).isPositive();
        }
    }
}
