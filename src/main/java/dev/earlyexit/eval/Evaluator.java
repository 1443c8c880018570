package dev.earlyexit.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a task's examples through a scorer and aggregates per setting as lm-evaluation-harness does:
 * multiple choice, acc = [argmax_i ll_i == gold] and acc_norm = [argmax_i ll_i / len(choice_i) == gold];
 * cloze, acc = [every target token greedy] and perplexity = exp(-mean ll); means with their standard
 * errors. Early-exit settings also count how often they answer as the full model (setting 0) does.
 */
public final class Evaluator {
    /** Examples done so far, of all. */
    public interface Progress {
        void update(int done, int total);
    }

    private Evaluator() {
    }

    public static List<SettingResult> run(Task task, List<Example> examples, LoglikelihoodScorer scorer,
                                          Progress progress) {
        int S = scorer.settings();
        int N = examples.size();
        int exits = scorer.exitLayers().length;
        double[][] acc = new double[S][N];
        double[][] accNorm = new double[S][N];
        double[][] ll = new double[S][N];
        long[] tokens = new long[S];
        long[] layers = new long[S];
        long[] agreeing = new long[S];
        long[] uncovered = new long[S];
        int[][] exitCounts = new int[S][exits];
        int[] truncated = new int[S];
        int[] sameAnswer = new int[S];
        int[] sameAnswerNorm = new int[S];
        List<Map<String, int[]>> groups = new ArrayList<>();
        for (int s = 0; s < S; s++) {
            groups.add(new LinkedHashMap<>());
        }
        for (int e = 0; e < N; e++) {
            Example ex = examples.get(e);
            Outcome[][] scored;
            try {
                scored = scorer.score(ex.requests());
            } catch (DatasetException d) {
                throw d;
            } catch (IllegalArgumentException bad) {
                // e.g. a continuation longer than the context window: say which example.
                throw new DatasetException(ex.location(), bad.getMessage());
            }
            int[] fullAnswer = null; // {pred, predNorm} of the full model
            for (int s = 0; s < S; s++) {
                int[] answer;
                if (task.isCloze()) {
                    Outcome o = scored[0][s];
                    acc[s][e] = o.greedy() ? 1 : 0;
                    ll[s][e] = o.logLikelihood();
                    // Same greedy prediction as the full model at every target position.
                    answer = new int[] {o.agreeing() == o.tokens() ? 1 : 0, 0};
                } else {
                    int C = ex.requests().size();
                    double[] lls = new double[C];
                    double[] norm = new double[C];
                    for (int c = 0; c < C; c++) {
                        lls[c] = scored[c][s].logLikelihood();
                        norm[c] = lls[c] / ex.choiceLengths()[c];
                    }
                    int pred = Stats.argmax(lls);
                    int predNorm = Stats.argmax(norm);
                    acc[s][e] = pred == ex.gold() ? 1 : 0;
                    accNorm[s][e] = predNorm == ex.gold() ? 1 : 0;
                    ll[s][e] = lls[ex.gold()];
                    answer = new int[] {pred, predNorm};
                }
                if (s == 0) {
                    fullAnswer = answer;
                } else {
                    if (task.isCloze() ? answer[0] == 1 : answer[0] == fullAnswer[0]) {
                        sameAnswer[s]++;
                    }
                    if (answer[1] == fullAnswer[1]) {
                        sameAnswerNorm[s]++;
                    }
                }
                for (Outcome[] request : scored) {
                    Outcome o = request[s];
                    tokens[s] += o.tokens();
                    layers[s] += o.layers();
                    agreeing[s] += o.agreeing();
                    uncovered[s] += o.uncovered();
                    for (int k = 0; k < o.exitsPerLayer().length; k++) {
                        exitCounts[s][k] += o.exitsPerLayer()[k];
                    }
                    if (o.truncated()) {
                        truncated[s]++;
                    }
                }
                if (ex.group() != null) {
                    int[] g = groups.get(s).computeIfAbsent(ex.group(), k -> new int[2]);
                    g[0]++;
                    g[1] += (int) acc[s][e];
                }
            }
            if (progress != null) {
                progress.update(e + 1, N);
            }
        }
        List<SettingResult> results = new ArrayList<>(S);
        for (int s = 0; s < S; s++) {
            results.add(new SettingResult(acc[s], accNorm[s], ll[s], tokens[s], layers[s], agreeing[s], uncovered[s],
                    exitCounts[s], truncated[s], s == 0 ? -1 : sameAnswer[s], s == 0 ? -1 : sameAnswerNorm[s],
                    groups.get(s)));
        }
        return results;
    }
}
