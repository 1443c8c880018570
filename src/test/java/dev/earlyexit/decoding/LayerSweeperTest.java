package dev.earlyexit.decoding;

import dev.earlyexit.exits.CopiedFinalHead;
import dev.earlyexit.exits.ExitHead;
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
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * DSSD decoders on their own threads, batched by one {@link LayerSweeper}, give what each gives alone:
 * the same tokens, the same drafts and acceptances (greedy and sampled), and a decoder that fails leaves
 * the others running.
 */
class LayerSweeperTest {
    static Transformer tf;
    static ModelConfig c;
    static ThreadPool pool;
    static List<ExitHead> heads;

    @BeforeAll
    static void load() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        c = m.config();
        pool = new ThreadPool(2);
        tf = new Transformer(c, m.weights(), pool);
        heads = CopiedFinalHead.at(new int[] {3, 4, 5}, c, m.weights());
    }

    @AfterAll
    static void close() {
        if (pool != null) {
            pool.close();
        }
    }

    record Request(int[] prompt, float threshold, int maxDraft, SamplingOptions sampling) {
        SelfSpeculativeDecoder decoder() {
            return new SelfSpeculativeDecoder(tf, heads, ExitCriterion.maxProbability(threshold), maxDraft);
        }
    }

    @Test
    void decodersBatchedInSweepsGiveWhatEachGivesAlone() throws Exception {
        int[] tooLong = new int[c.maxSeqLen() + 1];
        List<Request> requests = List.of(
                new Request(EarlyExitBatchTest.PROMPTS[0], 0.5f, 4, SamplingOptions.GREEDY),
                new Request(EarlyExitBatchTest.PROMPTS[1], 0.3f, 6, new SamplingOptions(0.8f, 0, 0.95f, 7)),
                new Request(EarlyExitBatchTest.PROMPTS[2], 0.7f, 3, SamplingOptions.GREEDY),
                new Request(tooLong, 0.5f, 4, SamplingOptions.GREEDY));
        int tokens = 40;
        List<SpeculativeResult> alone = new ArrayList<>();
        for (Request r : requests.subList(0, 3)) {
            alone.add(r.decoder().generate(r.prompt(), tokens, r.sampling(), null, false));
        }

        LayerSweeper sweeper = new LayerSweeper(tf);
        List<AtomicReference<Object>> results = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (Request r : requests) {
            AtomicReference<Object> result = new AtomicReference<>();
            results.add(result);
            LayerSweeper.Client client = sweeper.join();
            Thread t = new Thread(() -> {
                try (client) {
                    result.set(r.decoder().using(client).generate(r.prompt(), tokens, r.sampling(), null, false));
                } catch (RuntimeException e) {
                    result.set(e);
                }
            });
            t.start();
            threads.add(t);
        }
        while (sweeper.active() > 0) {
            sweeper.sweep();
        }
        for (Thread t : threads) {
            t.join(10_000);
        }
        for (int i = 0; i < 3; i++) {
            assertThat(results.get(i).get()).as("request %d", i).isInstanceOf(SpeculativeResult.class);
            SpeculativeResult b = (SpeculativeResult) results.get(i).get();
            SpeculativeResult a = alone.get(i);
            assertThat(b.generation().ids()).as("request %d tokens", i).containsExactly(a.generation().ids());
            assertThat(b.exitLayers()).as("request %d exit layers", i).containsExactly(a.exitLayers());
            assertThat(b.drafted()).as("request %d drafted", i).isEqualTo(a.drafted()).isPositive();
            assertThat(b.accepted()).as("request %d accepted", i).isEqualTo(a.accepted());
        }
        assertThat(results.get(3).get()).isInstanceOf(IllegalArgumentException.class);
        assertThat(sweeper.sweeps()).isPositive();
        assertThat(sweeper.clientSweeps()).as("decoders sharing sweeps").isGreaterThan(sweeper.sweeps());
    }
}
