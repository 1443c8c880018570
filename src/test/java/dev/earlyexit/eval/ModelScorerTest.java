package dev.earlyexit.eval;

import dev.earlyexit.calibration.ConfidenceMetrics;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.ExitHeadProvider;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import dev.earlyexit.tokenizer.Tokenizer;
import dev.earlyexit.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Log-likelihoods on the real stories15M against a plain forward pass, in full mode and under early exit. */
class ModelScorerTest {

    /** Sum of log-softmax over the continuation, and whether each token was the argmax, from layers [0, layers). */
    record Reference(double logLikelihood, boolean greedy) {
    }

    static Reference plain(Transformer tf, PairTokenizer.Pair p, int layers) {
        int[] ids = p.ids();
        int n = ids.length - 1; // the last token is only a target
        int dim = tf.config().dim();
        int vocab = tf.config().vocabSize();
        float[] x = new float[n * dim];
        tf.embed(ids, 0, n, 0, x);
        tf.forward(x, n, 0, layers, new KVCache(tf.config()));
        float[] logits = new float[vocab];
        double ll = 0;
        boolean greedy = true;
        for (int t = p.continuationStart() - 1; t < n; t++) {
            tf.logits(x, t, logits);
            double max = Double.NEGATIVE_INFINITY;
            int argmax = 0;
            for (int i = 0; i < vocab; i++) {
                if (logits[i] > max) {
                    max = logits[i];
                    argmax = i;
                }
            }
            double sum = 0;
            for (float l : logits) {
                sum += Math.exp(l - max);
            }
            ll += logits[ids[t + 1]] - max - Math.log(sum);
            greedy &= argmax == ids[t + 1];
        }
        return new Reference(ll, greedy);
    }

    @Test
    void logLikelihoodsMatchAPlainForwardAndEarlyExitFollowsItsHeads() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        Tokenizer tok = Tokenizers.load(TestModels.stories15M().resolveSibling("tokenizer.bin"));
        try (ThreadPool pool = new ThreadPool(1)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            HeadSet heads = ExitHeadProvider.copiedEveryLayer().heads(m.config(), m.weights());
            double inf = Double.POSITIVE_INFINITY;
            double[] never = {inf, inf, inf, inf, inf};
            double[] alwaysAtThree = {inf, inf, Double.NEGATIVE_INFINITY, inf, inf};
            PairTokenizer pt = new PairTokenizer(tok, tok.bosId(), m.config().maxSeqLen());
            ModelScorer scorer = new ModelScorer(tf, pt, heads, ConfidenceMetrics.MAX_PROB, List.of(never, alwaysAtThree));
            assertThat(scorer.settings()).isEqualTo(3);
            assertThat(scorer.exitLayers()).containsExactly(3, 6); // only the head some setting consults is run

            List<Request> requests = new ArrayList<>(
                    TaskPromptsTest.load(Task.HELLASWAG, "hellaswag.jsonl").get(0).requests()); // one shared context
            requests.add(new Request("Once upon a time, there was a little girl named", " Lily"));
            String story = "Tom and his dog ran to the park and played with a red ball all day long. ";
            requests.add(new Request(story.repeat(20), "They were very happy.")); // longer than the context window
            Outcome[][] scored = scorer.score(requests);

            for (int i = 0; i < requests.size(); i++) {
                PairTokenizer.Pair p = pt.encode(requests.get(i));
                Reference full = plain(tf, p, 6);
                Outcome o = scored[i][0];
                assertThat(o.logLikelihood()).as("request %d", i).isCloseTo(full.logLikelihood(), within(1e-4));
                assertThat(o.greedy()).as("request %d", i).isEqualTo(full.greedy());
                assertThat(o.tokens()).isEqualTo(p.continuationLength()).isPositive();
                assertThat(o.layers()).isEqualTo(6L * o.tokens());
                assertThat(o.agreeing()).isEqualTo(o.tokens());
                assertThat(o.truncated()).isEqualTo(i == requests.size() - 1);

                // No head passes +inf: early exit is the full model, exactly.
                Outcome none = scored[i][1];
                assertThat(none.logLikelihood()).isEqualTo(o.logLikelihood());
                assertThat(none.greedy()).isEqualTo(o.greedy());
                assertThat(none.layers()).isEqualTo(o.layers());
                assertThat(none.exitsPerLayer()).containsExactly(0, o.tokens());

                // The layer-3 head always passes: every token is scored by the copied head after layer 3.
                Reference three = plain(tf, p, 3);
                Outcome early = scored[i][2];
                assertThat(early.logLikelihood()).as("request %d", i).isCloseTo(three.logLikelihood(), within(1e-4));
                assertThat(early.greedy()).isEqualTo(three.greedy());
                assertThat(early.layers()).isEqualTo(3L * o.tokens());
                assertThat(early.exitsPerLayer()).containsExactly(o.tokens(), 0);
            }
            assertThat(scored[4][0].greedy()).as("' Lily' after 'a little girl named'").isTrue();
        }
    }

    /** A reduced-vocabulary head for the test: the model's final norm and classifier after a layer, on a few tokens. */
    record SubsetHead(Transformer tf, int layer, int[] ids) implements ExitHead {
        @Override
        public int outputSize() {
            return ids.length;
        }

        @Override
        public int tokenId(int index) {
            return ids[index];
        }

        @Override
        public int indexOf(int tokenId) {
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] == tokenId) {
                    return i;
                }
            }
            return -1;
        }

        @Override
        public void logits(float[] hidden, int offset, float[] out, ThreadPool pool) {
            float[] full = new float[tf.config().vocabSize()];
            tf.logits(Arrays.copyOfRange(hidden, offset, offset + tf.config().dim()), 0, full);
            for (int i = 0; i < ids.length; i++) {
                out[i] = full[ids[i]];
            }
        }

        @Override
        public long bytesPerCall() {
            return 0;
        }
    }

    @Test
    void aTokenTheAnsweringHeadCannotProduceGetsTheUncoveredFloor() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        Tokenizer tok = Tokenizers.load(TestModels.stories15M().resolveSibling("tokenizer.bin"));
        try (ThreadPool pool = new ThreadPool(1)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            PairTokenizer pt = new PairTokenizer(tok, tok.bosId(), m.config().maxSeqLen());
            Request request = new Request("Once upon a time, there was a little", " girl named Lily");
            PairTokenizer.Pair p = pt.encode(request);
            int[] cont = Arrays.copyOfRange(p.ids(), p.continuationStart(), p.ids().length);
            assertThat(cont.length).isGreaterThanOrEqualTo(3);
            // The head knows the first continuation token and a hundred others, not the rest of the continuation.
            int[] subset = new int[101];
            for (int i = 0; i < 100; i++) {
                subset[i] = 1000 + i;
            }
            subset[100] = cont[0];
            HeadSet heads = new HeadSet("subset-test", "subset-test", List.of(new SubsetHead(tf, 3, subset)));
            ModelScorer scorer = new ModelScorer(tf, pt, heads, ConfidenceMetrics.MAX_PROB,
                    List.<double[]>of(new double[] {Double.NEGATIVE_INFINITY}));
            Outcome o = scorer.score(List.of(request))[0][1];
            int uncovered = (int) Arrays.stream(cont).filter(id -> Arrays.stream(subset).noneMatch(s -> s == id)).count();
            assertThat(o.uncovered()).isEqualTo(uncovered).isEqualTo(cont.length - 1);

            // Covered: log-softmax over the subset's logits after layer 3; uncovered: log(1e-9) each.
            int n = p.ids().length - 1;
            int dim = m.config().dim();
            float[] x = new float[n * dim];
            tf.embed(p.ids(), 0, n, 0, x);
            tf.forward(x, n, 0, 3, new KVCache(m.config()));
            float[] logits = new float[m.config().vocabSize()];
            tf.logits(x, p.continuationStart() - 1, logits);
            double max = Double.NEGATIVE_INFINITY;
            for (int id : subset) {
                max = Math.max(max, logits[id]);
            }
            double sum = 0;
            for (int id : subset) {
                sum += Math.exp(logits[id] - max);
            }
            double expected = logits[cont[0]] - max - Math.log(sum)
                    + uncovered * Math.log(dev.earlyexit.decoding.TeacherForcedExit.UNCOVERED_PROBABILITY);
            assertThat(o.logLikelihood()).isCloseTo(expected, within(1e-4));
            assertThat(o.layers()).isEqualTo(3L * cont.length);
        }
    }

    @Test
    void aRangedProbeWithAReusedPrefixEqualsAFreshOne() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        Tokenizer tok = Tokenizers.load(TestModels.stories15M().resolveSibling("tokenizer.bin"));
        try (ThreadPool pool = new ThreadPool(1)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            HeadSet heads = ExitHeadProvider.copied(new int[] {2, 4}).heads(m.config(), m.weights());
            var probe = new dev.earlyexit.calibration.SequenceProbe(tf, heads, List.of(ConfidenceMetrics.MAX_PROB));
            int[] a = PairTokenizerTest.concatWithBos(tok, "The sun was warm and the birds sang in the trees.");
            int[] b = PairTokenizerTest.concatWithBos(tok, "The sun was warm and the children played outside.");
            var fresh = probe.run(b);
            probe.run(a, 3, a.length);
            int from = 8;
            var reused = probe.run(b, from, b.length - 1);
            for (int t = 0; t < b.length; t++) {
                boolean inRange = t >= from && t < b.length - 1;
                assertThat(reused.modelArgmax()[t]).isEqualTo(inRange ? fresh.modelArgmax()[t] : -1);
                if (inRange) {
                    assertThat(reused.modelLogProb()[t]).isCloseTo(fresh.modelLogProb()[t], within(1e-5f));
                    for (int k = 0; k < 2; k++) {
                        assertThat(reused.headArgmax()[k][t]).isEqualTo(fresh.headArgmax()[k][t]);
                        assertThat(reused.headLogProb()[k][t]).isCloseTo(fresh.headLogProb()[k][t], within(1e-5f));
                        assertThat(reused.confidence()[0][k][t]).isCloseTo(fresh.confidence()[0][k][t], within(1e-6));
                    }
                } else {
                    assertThat(reused.modelLogProb()[t]).isNaN();
                    assertThat(reused.confidence()[0][0][t]).isNaN();
                }
            }
            assertThat(Arrays.equals(a, b)).isFalse();
        }
    }
}
