package dev.earlyexit.bench;

import dev.earlyexit.cli.*;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.decoding.DraftRule;
import dev.earlyexit.decoding.SelfSpeculativeDecoder;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.decoding.SpeculativeSweep;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bench --mode dssd}: self-speculative decoding over ε x maximum draft length, and the
 * LayerSkip-style baseline over exit layer x draft length, against full-model greedy decoding on the
 * held-out prompts (same threads and precision). Reports tokens/s, speed-up, acceptance and accepted
 * tokens per verification, and the paper's comparison: DSSD's acceptance over the best baseline's.
 */
public final class SpeculativeBench {
    private SpeculativeBench() {
    }

    /**
     * @param runs         timed repetitions of every sweep; each setting reports its run of median speed
     * @param showProgress a progress bar on standard error: a step per prompt, then per ε and per head per run
     */
    static Map<String, Object> run(LoadedModel model, List<String> prompts, int tokensWanted, double[] epsilons,
                                   int[] maxDrafts, int[] draftLengths, int runs, ExitOptions exitOptions,
                                   ThreadPool pool, boolean showProgress) throws Exception {
        ModelConfig c = model.config();
        ConfidenceMetric metric = exitOptions.metric();
        HeadSet heads = exitOptions.headSet(model);
        Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
        Transformer tf = new Transformer(c, model.weights(), pool);
        List<int[]> promptIds = new ArrayList<>();
        int tokens = tokensWanted;
        for (String p : prompts) {
            int[] ids = GenerateCommand.encodePrompt(model, p);
            Generator.checkPrompt(ids, c);
            promptIds.add(ids);
            tokens = Math.min(tokens, c.maxSeqLen() - ids.length);
        }
        // DSSD at its defaults (the calibrated draft plan), then the paper's DSSD at each ε x max draft.
        CalibratedDraft plan = cal.draftPlan(metric.id()).map(p -> CalibratedDraft.planned(heads, cal, p, metric))
                .orElse(null);
        boolean hasPlan = plan != null;
        Map<Double, CalibratedDraft> drafts = new LinkedHashMap<>();
        for (double eps : epsilons) {
            double[] tau = exitOptions.thresholds(cal, heads, model, metric.id(), eps);
            CalibratedDraft.of(heads, tau, metric, 1).ifPresent(d -> drafts.put(eps, d));
        }
        int steps = promptIds.size() + runs * (1 + (hasPlan ? 1 : 0) + drafts.size() + heads.size());
        List<SpeculativeSweep.Row> planned = new ArrayList<>();
        List<SpeculativeSweep.Row> dssd;
        List<SpeculativeSweep.Row> skip;
        List<Double> dssdEpsilons = new ArrayList<>();
        double fullTps;
        try (Progress progress = Progress.start(showProgress, "dssd and layerskip, " + EarlyExitBench.threads(pool),
                steps)) {
            // The full model runs in every round with the others (timed alone before them, it measured
            // 477 tokens/s against 574 in alternating rounds: every speed-up came out ~20% high).
            Generator full = new Generator(tf);
            for (int[] ids : promptIds) { // warm-up, as every mode gets below
                full.generate(ids, tokens, SamplingOptions.GREEDY, null, false);
                progress.step();
            }
            double[] fullRunTps = new double[runs];

            List<List<SpeculativeSweep.Row>> planRuns = new ArrayList<>();
            List<List<SpeculativeSweep.Row>> dssdRuns = new ArrayList<>();
            List<List<SpeculativeSweep.Row>> skipRuns = new ArrayList<>();
            for (int run = 0; run < runs; run++) {
                fullRunTps[run] = SpeculativeSweep.fullModel(full, promptIds, tokens).tokensPerSecond();
                progress.step();
                if (hasPlan) {
                    SelfSpeculativeDecoder d = plan.decoder(tf);
                    if (run == 0) {
                        SpeculativeSweep.run(d, "plan", -1, promptIds.subList(0, 1), tokens); // warm-up
                    }
                    String setting = "plan: layers " + java.util.Arrays.toString(
                            plan.heads().stream().mapToInt(ExitHead::layer).toArray()) + ", max draft " + plan.maxDraft();
                    planRuns.add(List.of(SpeculativeSweep.run(d, setting, -1, promptIds, tokens)));
                    progress.step();
                }
                List<SpeculativeSweep.Row> d = new ArrayList<>();
                for (Map.Entry<Double, CalibratedDraft> e : drafts.entrySet()) {
                    List<ExitHead> drafting = e.getValue().heads();
                    Map<String, DraftRule> one = Map.of("eps " + e.getKey(), e.getValue().rule());
                    if (run == 0) {
                        SpeculativeSweep.dssd(tf, drafting, one, maxDrafts, promptIds.subList(0, 1), tokens); // warm-up
                    }
                    List<SpeculativeSweep.Row> rows = SpeculativeSweep.dssd(tf, drafting, one, maxDrafts, promptIds, tokens);
                    d.addAll(rows);
                    if (run == 0) {
                        rows.forEach(r -> dssdEpsilons.add(e.getKey()));
                    }
                    progress.step();
                }
                dssdRuns.add(d);
                if (run == 0) {
                    SpeculativeSweep.layerSkip(tf, heads.heads(), new int[] {draftLengths[0]}, promptIds.subList(0, 1),
                            tokens);
                }
                List<SpeculativeSweep.Row> s = new ArrayList<>();
                for (ExitHead head : heads.heads()) {
                    s.addAll(SpeculativeSweep.layerSkip(tf, List.of(head), draftLengths, promptIds, tokens));
                    progress.step();
                }
                skipRuns.add(s);
            }
            fullTps = BenchCommand.median(fullRunTps);
            if (hasPlan) {
                planned = medianRows(planRuns);
            }
            dssd = medianRows(dssdRuns);
            skip = medianRows(skipRuns);
        }

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("mode", "dssd");
        out.put("heads", heads.name());
        out.put("metric", metric.id());
        out.put("threads", pool.threads());
        out.put("prompts", prompts.size());
        out.put("tokens_per_prompt", tokens);
        out.put("runs", runs);
        out.put("full_tokens_per_s", GenerateCommand.round(fullTps));
        if (hasPlan) {
            Map<String, Object> p = row(planned.get(0), fullTps);
            p.put("description", plan.description());
            out.put("dssd_plan", p);
        }
        List<Map<String, Object>> dssdJson = rows(dssd, fullTps);
        for (int i = 0; i < dssdJson.size(); i++) {
            dssdJson.get(i).put("epsilon", dssdEpsilons.get(i));
        }
        out.put("dssd", dssdJson);
        out.put("layerskip", rows(skip, fullTps));
        List<SpeculativeSweep.Row> allDssd = new ArrayList<>(planned);
        allDssd.addAll(dssd);
        if (!allDssd.isEmpty()) {
            SpeculativeSweep.Row fastest = SpeculativeSweep.fastest(allDssd);
            SpeculativeSweep.Row bestSkip = SpeculativeSweep.fastest(skip);
            out.put("fastest_dssd", row(fastest, fullTps));
            out.put("fastest_layerskip", row(bestSkip, fullTps));
            // DSSD at its defaults against the best fixed (layer, length) of the sweep: speed, and the paper's
            // acceptance comparison (accepted / drafted, and accepted tokens per verification).
            SpeculativeSweep.Row defaults = hasPlan ? planned.get(0) : fastest;
            out.put("compared_dssd", hasPlan ? "plan (defaults)" : "fastest eps setting (no draft plan stored)");
            out.put("dssd_vs_best_layerskip_speed", GenerateCommand.round(
                    defaults.tokensPerSecond() / Math.max(1e-9, bestSkip.tokensPerSecond())));
            out.put("acceptance_rate_ratio", GenerateCommand.round(
                    defaults.acceptanceRate() / Math.max(1e-9, bestSkip.acceptanceRate())));
            out.put("accepted_per_verification_ratio", GenerateCommand.round(
                    defaults.meanAcceptedPerVerification() / Math.max(1e-9, bestSkip.meanAcceptedPerVerification())));
        }
        return out;
    }

    /** Per setting (same index in every run), the run of median speed ({@link BenchCommand#medianBy}). */
    static List<SpeculativeSweep.Row> medianRows(List<List<SpeculativeSweep.Row>> runs) {
        List<SpeculativeSweep.Row> medians = new ArrayList<>();
        for (int i = 0; i < runs.get(0).size(); i++) {
            int setting = i;
            medians.add(BenchCommand.medianBy(runs.stream().map(r -> r.get(setting)).toList(),
                    SpeculativeSweep.Row::tokensPerSecond));
        }
        return medians;
    }

    private static List<Map<String, Object>> rows(List<SpeculativeSweep.Row> rows, double fullTps) {
        List<Map<String, Object>> list = new ArrayList<>();
        for (SpeculativeSweep.Row r : rows) {
            list.add(row(r, fullTps));
        }
        return list;
    }

    private static Map<String, Object> row(SpeculativeSweep.Row r, double fullTps) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("setting", r.setting());
        m.put("exit_layer", r.exitLayer());
        m.put("max_draft", r.maxDraft());
        m.put("tokens_per_s", GenerateCommand.round(r.tokensPerSecond()));
        m.put("speedup", GenerateCommand.round(r.tokensPerSecond() / fullTps));
        m.put("drafted", r.drafted());
        m.put("accepted", r.accepted());
        m.put("acceptance_rate", GenerateCommand.round(r.acceptanceRate()));
        m.put("accepted_per_verification", GenerateCommand.round(r.meanAcceptedPerVerification()));
        m.put("draft_ms", GenerateCommand.round(r.draftMs()));
        m.put("verify_ms", GenerateCommand.round(r.verifyMs()));
        m.put("head_calls", r.headCalls());
        return m;
    }
}
