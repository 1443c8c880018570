package dev.earlyexit.eval;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The harness's metric arithmetic, on a fake scorer whose log-likelihoods are known. */
class EvaluatorTest {

    /** Scores each request by a table: continuation text to [setting] log-likelihoods and greedy flags. */
    record FakeScorer(int settings, Map<String, double[]> lls, Map<String, boolean[]> greedy) implements LoglikelihoodScorer {
        @Override
        public int[] exitLayers() {
            return new int[] {3, 6};
        }

        @Override
        public Outcome[][] score(List<Request> requests) {
            Outcome[][] out = new Outcome[requests.size()][settings];
            for (int r = 0; r < requests.size(); r++) {
                String key = requests.get(r).continuation();
                for (int s = 0; s < settings; s++) {
                    // Setting 0 runs 2 tokens through all 6 layers; setting 1 exits one of them at layer 3.
                    int[] exits = s == 0 ? new int[] {0, 2} : new int[] {1, 1};
                    boolean g = greedy.containsKey(key) && greedy.get(key)[s];
                    out[r][s] = new Outcome(lls.get(key)[s], g, 2, s == 0 ? 12 : 9, s == 0 ? 2 : 1, 0, exits, false);
                }
            }
            return out;
        }
    }

    private static Example mc(int gold, String group, Object... choicesAndLengths) {
        List<Request> requests = new ArrayList<>();
        int[] lengths = new int[choicesAndLengths.length / 2];
        for (int i = 0; i < lengths.length; i++) {
            requests.add(new Request("ctx", (String) choicesAndLengths[2 * i]));
            lengths[i] = (Integer) choicesAndLengths[2 * i + 1];
        }
        return new Example("test line " + gold, requests, gold, lengths, group);
    }

    @Test
    void accAndAccNormFollowTheArgmaxOfRawAndLengthNormalisedLogLikelihoods() {
        List<Example> examples = List.of(
                // lls -5, -4, -9 over lengths 10, 2, 30: raw argmax 1, normalised (-0.5, -2, -0.3) argmax 2.
                mc(2, "math", "a1", 10, "a2", 2, "a3", 30),
                // Both pick 0.
                mc(0, "math", "b1", 1, "b2", 1),
                // Raw picks 0 (-2 > -2.5), normalised (-0.5, -0.25) picks 1.
                mc(1, "art", "c1", 4, "c2", 10));
        Map<String, double[]> lls = Map.of("a1", new double[] {-5, -5}, "a2", new double[] {-4, -6},
                "a3", new double[] {-9, -9}, "b1", new double[] {-1, -1}, "b2", new double[] {-3, -3},
                "c1", new double[] {-2, -2}, "c2", new double[] {-2.5, -2.5});
        List<SettingResult> r = Evaluator.run(Task.HELLASWAG, examples, new FakeScorer(2, lls, Map.of()), null);

        SettingResult full = r.get(0);
        assertThat(full.acc()).containsExactly(0, 1, 0);
        assertThat(full.accNorm()).containsExactly(1, 1, 1);
        Map<String, Object> j = full.toJson(Task.HELLASWAG, new int[] {3, 6});
        assertThat(j.get("acc")).isEqualTo(0.333333);
        // Sample standard deviation of (0, 1, 0) is sqrt(1/3); over sqrt(3) that is 1/3.
        assertThat(j.get("acc_stderr")).isEqualTo(0.333333);
        assertThat(j.get("acc_count")).isEqualTo(1L);
        assertThat(j.get("acc_norm")).isEqualTo(1.0);
        assertThat(j.get("acc_norm_stderr")).isEqualTo(0.0);
        assertThat(j.get("acc_norm_count")).isEqualTo(3L);
        assertThat(j.get("mean_layers")).isEqualTo(6.0);
        assertThat(j).doesNotContainKey("example_agreement").doesNotContainKey("example_agreement_norm");
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> groups = (Map<String, Map<String, Object>>) j.get("acc_by_subject");
        assertThat(groups.get("math")).containsEntry("examples", 2).containsEntry("acc", 0.5);
        assertThat(groups.get("art")).containsEntry("acc", 0.0);

        // Early exit moved example 1's answer from choice 1 to choice 0 (-5 > -6): two examples of three agree.
        SettingResult early = r.get(1);
        assertThat(early.acc()).containsExactly(0, 1, 0);
        assertThat(early.exampleAgreement()).isEqualTo(2);
        assertThat(early.meanLayers()).isEqualTo(4.5);
        assertThat(early.tokens()).isEqualTo(14);
        assertThat(early.agreeingTokens()).isEqualTo(7);
        assertThat(early.exitsPerLayer()).containsExactly(7, 7);
        Map<String, Object> e = early.toJson(Task.HELLASWAG, new int[] {3, 6});
        assertThat(e.get("example_agreement")).isEqualTo(0.666667);
        // acc_norm's choices did not move (example 1: -0.5, -3, -0.3 still picks choice 2).
        assertThat(e.get("example_agreement_norm")).isEqualTo(1.0);
        assertThat(e.get("token_agreement")).isEqualTo(0.5);
        assertThat(e.get("exits_per_layer")).isEqualTo(Map.of("3", 7, "6", 7));
    }

    @Test
    void tiesGoToTheFirstChoiceAsNumpyArgmaxDoes() {
        List<Example> examples = List.of(mc(1, null, "x", 3, "y", 3));
        List<SettingResult> r = Evaluator.run(Task.ARC, examples,
                new FakeScorer(1, Map.of("x", new double[] {-2}, "y", new double[] {-2}), Map.of()), null);
        assertThat(r.get(0).acc()).containsExactly(0);
        assertThat(r.get(0).accNorm()).containsExactly(0);
        assertThat(r.get(0).toJson(Task.ARC, new int[] {3, 6}).get("acc_stderr")).isNull(); // one example
        assertThat(Stats.argmax(new double[] {-1, Double.NaN, 0})).isEqualTo(1);
    }

    @Test
    void clozeAccuracyIsAllTokensGreedyAndPerplexityIsExpOfTheMeanNegativeLogLikelihood() {
        List<Example> examples = List.of(
                new Example("l 1", List.of(new Request("c", " one")), 0, new int[0], null),
                new Example("l 2", List.of(new Request("c", " two")), 0, new int[0], null));
        Map<String, double[]> lls = Map.of(" one", new double[] {-2, -3}, " two", new double[] {-4, -4});
        Map<String, boolean[]> greedy = Map.of(" one", new boolean[] {true, false}, " two", new boolean[] {false, false});
        int[] progress = new int[2];
        List<SettingResult> r = Evaluator.run(Task.LAMBADA, examples, new FakeScorer(2, lls, greedy),
                (done, total) -> {
                    progress[0] = done;
                    progress[1] = total;
                });
        assertThat(progress).containsExactly(2, 2);
        SettingResult full = r.get(0);
        assertThat(full.accuracy()).isEqualTo(0.5);
        assertThat(full.perplexity()).isCloseTo(Math.exp(3), within(1e-12));
        Map<String, Object> j = full.toJson(Task.LAMBADA, new int[] {3, 6});
        assertThat(j.get("acc_stderr")).isEqualTo(0.5);
        assertThat(j).doesNotContainKey("acc_norm");
        assertThat(r.get(1).toJson(Task.LAMBADA, new int[] {3, 6})).containsKey("example_agreement")
                .doesNotContainKey("example_agreement_norm");
        // Delta method: ppl x stderr of the mean log-likelihood (sample sd of (-2, -4) is sqrt 2, over sqrt 2).
        assertThat((Double) j.get("perplexity_stderr")).isCloseTo(Math.exp(3), within(1e-5));
        assertThat(r.get(1).perplexity()).isCloseTo(Math.exp(3.5), within(1e-12));
        // Each fake example agrees on 1 of 2 tokens under early exit: no example keeps the full model's prediction.
        assertThat(r.get(1).exampleAgreement()).isZero();
    }
}
