package dev.earlyexit.cli;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.decoding.ExitCriterion;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.decoding.SpeculativeSweep;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code bench --mode dssd}: self-speculative decoding over ε x maximum draft length, and the
 * LayerSkip-style baseline over exit layer x draft length, against full-model greedy decoding on the
 * held-out prompts (same threads and precision). Reports tokens/s, speed-up, acceptance and accepted
 * tokens per verification, and the paper's comparison: DSSD's acceptance over the best baseline's.
 */
final class SpeculativeBench {
    private SpeculativeBench() {
    }

    static Map<String, Object> run(LoadedModel model, List<String> prompts, int tokensWanted, double[] epsilons,
                                   int[] maxDrafts, int[] draftLengths, ExitOptions exitOptions, ThreadPool pool,
                                   Path reportDir) throws Exception {
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

        // Full model first (after one warm-up pass over every prompt, as every mode gets below).
        Generator full = new Generator(tf);
        for (int[] ids : promptIds) {
            full.generate(ids, tokens, SamplingOptions.GREEDY, null, false);
        }
        long fullTokens = 0;
        double fullMs = 0;
        for (int[] ids : promptIds) {
            GenerationResult r = full.generate(ids, tokens, SamplingOptions.GREEDY, null, false);
            fullTokens += r.decodeSteps();
            fullMs += r.decodeMs();
        }
        double fullTps = fullTokens / (fullMs / 1000.0);

        List<SpeculativeSweep.Row> dssd = new ArrayList<>();
        for (double eps : epsilons) {
            double[] tau = exitOptions.thresholds(cal, heads, model, metric.id(), eps);
            Optional<CalibratedDraft> draft = CalibratedDraft.of(heads, tau, metric);
            if (draft.isEmpty()) {
                continue;
            }
            List<ExitHead> drafting = draft.get().heads();
            Map<String, ExitCriterion> one = Map.of("eps " + eps, draft.get().criterion());
            SpeculativeSweep.dssd(tf, drafting, one, maxDrafts, promptIds.subList(0, 1), tokens); // warm-up
            dssd.addAll(SpeculativeSweep.dssd(tf, drafting, one, maxDrafts, promptIds, tokens));
        }
        SpeculativeSweep.layerSkip(tf, heads.heads(), new int[] {draftLengths[0]}, promptIds.subList(0, 1), tokens);
        List<SpeculativeSweep.Row> skip = SpeculativeSweep.layerSkip(tf, heads.heads(), draftLengths, promptIds, tokens);

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("mode", "dssd");
        out.put("heads", heads.name());
        out.put("metric", metric.id());
        out.put("threads", pool.threads());
        out.put("prompts", prompts.size());
        out.put("tokens_per_prompt", tokens);
        out.put("full_tokens_per_s", GenerateCommand.round(fullTps));
        out.put("dssd", rows(dssd, fullTps));
        out.put("layerskip", rows(skip, fullTps));
        if (!dssd.isEmpty()) {
            SpeculativeSweep.Row fastest = SpeculativeSweep.fastest(dssd);
            SpeculativeSweep.Row bestSkip = SpeculativeSweep.fastest(skip);
            SpeculativeSweep.Row mostDssd = SpeculativeSweep.mostAcceptedPerVerification(dssd);
            SpeculativeSweep.Row mostSkip = SpeculativeSweep.mostAcceptedPerVerification(skip);
            out.put("fastest_dssd", row(fastest, fullTps));
            out.put("fastest_layerskip", row(bestSkip, fullTps));
            // The paper compares how many drafted tokens the full model accepts per verification.
            out.put("accepted_per_verification_ratio", GenerateCommand.round(
                    mostDssd.meanAcceptedPerVerification() / Math.max(1e-9, mostSkip.meanAcceptedPerVerification())));
            out.put("acceptance_rate_ratio", GenerateCommand.round(
                    fastest.acceptanceRate() / Math.max(1e-9, bestSkip.acceptanceRate())));
        }
        if (reportDir != null) {
            Files.createDirectories(reportDir);
            Files.writeString(reportDir.resolve("dssd.json"), Json.write(out));
            Files.writeString(reportDir.resolve("dssd.csv"), csv(dssd, skip, fullTps));
            plot(dssd, skip, reportDir.resolve("dssd.png"));
            out.put("report", reportDir.toString());
        }
        return out;
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

    private static String csv(List<SpeculativeSweep.Row> dssd, List<SpeculativeSweep.Row> skip, double fullTps) {
        StringBuilder sb = new StringBuilder("mode,setting,exit_layer,max_draft,tokens_per_s,speedup,drafted,accepted,"
                + "acceptance_rate,accepted_per_verification,draft_ms,verify_ms,head_calls\n");
        for (List<SpeculativeSweep.Row> rows : List.of(dssd, skip)) {
            for (SpeculativeSweep.Row r : rows) {
                sb.append(String.format(java.util.Locale.ROOT, "%s,\"%s\",%d,%d,%.2f,%.4f,%d,%d,%.4f,%.4f,%.1f,%.1f,%d%n",
                        r.mode(), r.setting(), r.exitLayer(), r.maxDraft(), r.tokensPerSecond(),
                        r.tokensPerSecond() / fullTps, r.drafted(), r.accepted(), r.acceptanceRate(),
                        r.meanAcceptedPerVerification(), r.draftMs(), r.verifyMs(), r.headCalls()));
            }
        }
        return sb.toString();
    }

    /** Accepted tokens per verification against (maximum) draft length: one series per ε and per exit layer. */
    private static void plot(List<SpeculativeSweep.Row> dssd, List<SpeculativeSweep.Row> skip, Path png)
            throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(760).height(480)
                .title("Accepted tokens per verification vs draft length").xAxisTitle("(maximum) draft length")
                .yAxisTitle("accepted per verification").build();
        addSeries(chart, dssd, "DSSD ");
        addSeries(chart, skip, "LayerSkip ");
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static void addSeries(XYChart chart, List<SpeculativeSweep.Row> rows, String prefix) {
        Map<String, List<SpeculativeSweep.Row>> groups = new LinkedHashMap<>();
        for (SpeculativeSweep.Row r : rows) {
            String key = r.exitLayer() < 0 ? r.setting().substring(0, r.setting().indexOf(',')) : "layer " + r.exitLayer();
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<SpeculativeSweep.Row>> g : groups.entrySet()) {
            double[] x = g.getValue().stream().mapToDouble(SpeculativeSweep.Row::maxDraft).toArray();
            double[] y = g.getValue().stream().mapToDouble(SpeculativeSweep.Row::meanAcceptedPerVerification).toArray();
            chart.addSeries(prefix + g.getKey(), x, y);
        }
    }
}
