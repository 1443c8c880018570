package dev.earlyexit.bench;

import dev.earlyexit.cli.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The tables and figures of {@code bench}'s exit modes, built from the same JSON-shaped results the
 * command prints, and the report folder: report.md, one CSV per table, results.json (with every
 * figure's data under "figures") and one PNG per figure.
 *
 * <p>Figures follow the paper: score against ε (perplexity and agreement with the full model, Fig. 2),
 * speed-up against ε (Fig. 3, one line per thread count), the share of tokens leaving at each layer
 * against ε (Fig. 4), and acceptance against draft length (DSSD against the LayerSkip-style baseline).
 */
public final class BenchReport {
    private BenchReport() {
    }

    /**
     * One thread count's measurements: {@link EarlyExitBench} and {@link SpeculativeBench} results,
     * either null when not measured.
     */
    record ThreadRun(int threads, Map<String, Object> earlyExit, Map<String, Object> speculative) {
    }

    /** Tables of whatever was measured; {@code text} is the teacher-forced scoring of a text, or null. */
    static List<ReportTable> tables(List<ThreadRun> runs, Map<String, Object> text) {
        List<ReportTable> tables = new ArrayList<>();
        tables.add(speed(runs));
        firstEarlyExit(runs).ifPresent(ee -> {
            tables.add(generationQuality(ee));
            tables.add(exits("generation-exits", "Exits per layer in generation (tokens)", list(ee, "results"),
                    ((Number) ee.get("generated_tokens")).longValue()));
        });
        tables.add(earlyExitTime(runs));
        if (text != null) {
            tables.add(textQuality(text));
            tables.add(exits("text-exits", "Exits per layer on the text, teacher-forced (tokens)", list(text, "results"),
                    ((Number) text.get("tokens")).longValue()));
        }
        tables.add(speculative(runs));
        return tables.stream().filter(t -> !t.isEmpty()).toList();
    }

    /** Figures of whatever was measured (a figure without data is left out). */
    static List<ReportFigure> figures(List<ThreadRun> runs, Map<String, Object> text) {
        List<ReportFigure> figures = new ArrayList<>();
        List<Map<String, Object>> generation = firstEarlyExit(runs).map(ee -> firstFill(list(ee, "results")))
                .orElse(List.of());
        List<Map<String, Object>> scored = text == null ? List.of() : list(text, "results");

        List<ReportFigure.Series> perplexity = new ArrayList<>();
        List<ReportFigure.Series> agreement = new ArrayList<>();
        if (text != null) {
            perplexity.add(series("early exit", scored, "epsilon", "perplexity"));
            double[] range = {num(scored.get(0), "epsilon"), num(scored.get(scored.size() - 1), "epsilon")};
            double full = num(map(text, "full"), "perplexity");
            perplexity.add(new ReportFigure.Series("full model", range, new double[] {full, full}));
            agreement.add(series("text, teacher-forced", scored, "epsilon", "agreement"));
        }
        if (!generation.isEmpty()) {
            agreement.add(series("generation, teacher-forced", generation, "epsilon", "token_agreement"));
            agreement.add(series("generation, same tokens as the full model", generation, "epsilon", "sequence_match"));
        }
        figures.add(new ReportFigure("score-vs-epsilon.png", "Score vs epsilon", List.of(
                new ReportFigure.Panel("Perplexity on the text vs epsilon", "epsilon", "perplexity",
                        ReportFigure.Kind.LINE, perplexity),
                new ReportFigure.Panel("Agreement with the full model vs epsilon", "epsilon", "agreement",
                        ReportFigure.Kind.LINE, agreement))));

        List<ReportFigure.Series> speedups = new ArrayList<>();
        for (ThreadRun r : runs) {
            String threads = r.threads() + (r.threads() == 1 ? " thread" : " threads");
            if (r.earlyExit() != null) {
                speedups.add(series("early exit, " + threads, firstFill(list(r.earlyExit(), "results")), "epsilon",
                        "speedup"));
            }
            if (r.speculative() != null && !list(r.speculative(), "dssd").isEmpty()) {
                speedups.add(bestPerEpsilon("DSSD (best max draft), " + threads, list(r.speculative(), "dssd")));
            }
        }
        figures.add(new ReportFigure("speedup-vs-epsilon.png", "Speed-up vs epsilon", List.of(
                new ReportFigure.Panel("Speed-up over the full model vs epsilon", "epsilon", "speed-up (x)",
                        ReportFigure.Kind.LINE, speedups))));

        figures.add(new ReportFigure("exits-vs-epsilon.png", "Exit distribution vs epsilon", List.of(
                new ReportFigure.Panel("Generation: share of tokens by exit layer", "epsilon", "share of tokens",
                        ReportFigure.Kind.STACKED_BARS, exitShares(generation)),
                new ReportFigure.Panel("Text, teacher-forced: share of tokens by exit layer", "epsilon",
                        "share of tokens", ReportFigure.Kind.STACKED_BARS, exitShares(scored)))));

        runs.stream().filter(r -> r.speculative() != null).findFirst().ifPresent(r -> {
            List<Map<String, Object>> dssd = list(r.speculative(), "dssd");
            List<Map<String, Object>> skip = list(r.speculative(), "layerskip");
            figures.add(new ReportFigure("dssd.png", "Acceptance vs draft length", List.of(
                    new ReportFigure.Panel("Acceptance rate vs draft length", "(maximum) draft length",
                            "accepted / drafted", ReportFigure.Kind.LINE, acceptance(dssd, skip, "acceptance_rate")),
                    new ReportFigure.Panel("Accepted tokens per verification vs draft length", "(maximum) draft length",
                            "accepted per verification", ReportFigure.Kind.LINE,
                            acceptance(dssd, skip, "accepted_per_verification")))));
        });
        return figures.stream().filter(f -> !f.isEmpty()).toList();
    }

    /**
     * Writes the report folder and returns report.md's path. {@code results} is written as results.json
     * with the figures' data added under "figures".
     */
    static Path write(Path dir, String heading, List<String> setup, Map<String, Object> results,
                      List<ReportTable> tables, List<ReportFigure> figures) throws IOException {
        Files.createDirectories(dir);
        for (ReportTable t : tables) {
            Files.writeString(dir.resolve(t.csvFile()), t.toCsv());
        }
        for (ReportFigure f : figures) {
            f.write(dir);
        }
        Map<String, Object> json = new LinkedHashMap<>(results);
        json.put("machine", MachineInfo.describe());
        json.put("figures", figures.stream().map(ReportFigure::toJson).toList());
        Files.writeString(dir.resolve("results.json"), Json.write(json));

        StringBuilder md = new StringBuilder(markdown(heading, setup, tables));
        if (!figures.isEmpty()) {
            md.append("## Figures\n\n");
            for (ReportFigure f : figures) {
                md.append("![").append(f.title()).append("](").append(f.file()).append(")\n\n");
            }
        }
        md.append("Every number, the figures' data included (under `figures`): `results.json`.\n");
        Path report = dir.resolve("report.md");
        Files.writeString(report, md.toString());
        return report;
    }

    /**
     * The heading, the machine and the setup as a list, and every table with its CSV file: report.md's
     * text part, and the console's.
     */
    static String markdown(String heading, List<String> setup, List<ReportTable> tables) {
        StringBuilder md = new StringBuilder("# ").append(heading).append("\n\n");
        md.append("- machine: ").append(MachineInfo.summary(MachineInfo.describe())).append('\n');
        for (String line : setup) {
            md.append("- ").append(line).append('\n');
        }
        md.append('\n');
        for (ReportTable t : tables) {
            md.append("## ").append(t.title()).append("\n\n").append(t.toMarkdown()).append("\nCSV: `")
                    .append(t.csvFile()).append("`\n\n");
        }
        return md.toString();
    }

    private static ReportTable speed(List<ThreadRun> runs) {
        ReportTable t = new ReportTable("speed", "Decode speed (median of runs; speed-up against the full model "
                + "measured in the same sweep)")
                .column("threads", "threads").column("method", "method").column("setting", "setting")
                .column("tokens_per_s", "tokens/s").column("speedup", "speed-up");
        for (ThreadRun r : runs) {
            if (r.earlyExit() != null) {
                t.row(r.threads(), "full", "baseline of the early-exit sweep", r.earlyExit().get("full_tokens_per_s"), 1.0);
                for (Map<String, Object> row : list(r.earlyExit(), "results")) {
                    t.row(r.threads(), "early exit", earlyExitSetting(row), row.get("tokens_per_s"), row.get("speedup"));
                }
            }
            if (r.speculative() != null) {
                t.row(r.threads(), "full", "baseline of the speculative sweep", r.speculative().get("full_tokens_per_s"),
                        1.0);
                for (String mode : List.of("dssd_plan", "dssd", "layerskip")) {
                    for (Map<String, Object> row : rowsOf(r.speculative(), mode)) {
                        t.row(r.threads(), mode.equals("dssd_plan") ? "dssd (defaults)" : mode, row.get("setting"),
                                row.get("tokens_per_s"), row.get("speedup"));
                    }
                }
            }
        }
        return t;
    }

    private static ReportTable generationQuality(Map<String, Object> ee) {
        ReportTable t = new ReportTable("generation-quality", "Agreement with the full model in greedy generation")
                .column("epsilon", "ε").column("kv_fill", "KV fill")
                .column("token_agreement", "token agreement (teacher-forced)")
                .column("sequence_match", "same tokens as the full model").column("identical_prefix", "identical prefix")
                .column("mean_layers", "mean layers");
        for (Map<String, Object> row : list(ee, "results")) {
            t.row(row.get("epsilon"), row.get("kv_fill"), row.get("token_agreement"), row.get("sequence_match"),
                    row.get("identical_prefix"), row.get("mean_layers"));
        }
        return t;
    }

    private static ReportTable earlyExitTime(List<ThreadRun> runs) {
        ReportTable t = new ReportTable("early-exit-time", "Where early exit's decode time goes")
                .column("threads", "threads").column("epsilon", "ε").column("kv_fill", "KV fill")
                .column("layers_share", "layers").column("heads_share", "heads")
                .column("classifier_share", "classifier").column("head_calls_per_token", "head calls per token")
                .column("kv_fill_rows", "KV fill rows");
        for (ThreadRun r : runs) {
            if (r.earlyExit() == null) {
                continue;
            }
            for (Map<String, Object> row : list(r.earlyExit(), "results")) {
                Map<String, Object> time = map(row, "time");
                t.row(r.threads(), row.get("epsilon"), row.get("kv_fill"), time.get("layers_share"),
                        time.get("heads_share"), time.get("classifier_share"), row.get("head_calls_per_token"),
                        row.get("kv_fill_rows"));
            }
        }
        return t;
    }

    private static ReportTable textQuality(Map<String, Object> text) {
        ReportTable t = new ReportTable("text-quality", "Teacher-forced scoring of " + text.get("file")
                + " (perplexity under the distribution used at each position)")
                .column("epsilon", "ε").column("tokens", "tokens").column("perplexity", "perplexity")
                .column("agreement", "agreement with the full model").column("mean_layers", "mean layers")
                .column("uncovered_tokens", "tokens the head cannot produce");
        Map<String, Object> full = map(text, "full");
        t.row("full model", full.get("tokens"), full.get("perplexity"), full.get("agreement"), full.get("mean_layers"),
                full.get("uncovered_tokens"));
        for (Map<String, Object> row : list(text, "results")) {
            t.row(row.get("epsilon"), row.get("tokens"), row.get("perplexity"), row.get("agreement"),
                    row.get("mean_layers"), row.get("uncovered_tokens"));
        }
        return t;
    }

    /**
     * Per metric and head: AUROC of confidence against agreement with the model, and the coverage at each
     * ε under the paper's rule and under the guarantee, side by side (what the guarantee costs).
     */
    static ReportTable calibration(Map<String, List<Map<String, Object>>> summary, double[] epsilons) {
        ReportTable t = new ReportTable("calibration", "Calibration per head: AUROC, and the share of tokens that "
                + "would exit at each ε under the paper's rule / with the guarantee")
                .column("metric", "metric").column("layer", "layer").column("accuracy", "agreement with the model")
                .column("auroc", "AUROC");
        for (double eps : epsilons) {
            t.column("coverage_" + eps, "coverage ε " + eps + " (paper / guarantee)");
        }
        summary.forEach((metric, rows) -> {
            for (Map<String, Object> row : rows) {
                List<Object> cells = new ArrayList<>(List.of(metric, row.get("layer"), row.get("accuracy"),
                        String.valueOf(row.get("auroc"))));
                for (double eps : epsilons) {
                    String key = Double.toString(eps);
                    cells.add(map(row, "coverage_paper").get(key) + " / " + map(row, "coverage_guarantee").get(key));
                }
                t.row(cells.toArray());
            }
        });
        return t;
    }

    /** ε (and KV fill when there is one), one count column per exit layer, and the total. */
    private static ReportTable exits(String name, String title, List<Map<String, Object>> rows, long tokens) {
        List<String> layers = exitLabels(rows);
        boolean fills = rows.stream().anyMatch(r -> r.containsKey("kv_fill"));
        ReportTable t = new ReportTable(name, title).column("epsilon", "ε");
        if (fills) {
            t.column("kv_fill", "KV fill");
        }
        for (String l : layers) {
            t.column("layer_" + l, "layer " + l);
        }
        t.column("tokens", "tokens");
        for (Map<String, Object> row : rows) {
            List<Object> cells = new ArrayList<>();
            cells.add(row.get("epsilon"));
            if (fills) {
                cells.add(row.get("kv_fill"));
            }
            Map<String, Object> perLayer = map(row, "exits_per_layer");
            for (String l : layers) {
                Object n = perLayer.get(l);
                cells.add(n == null ? 0 : n);
            }
            cells.add(tokens);
            t.row(cells);
        }
        return t;
    }

    private static ReportTable speculative(List<ThreadRun> runs) {
        ReportTable t = new ReportTable("dssd", "Self-speculative decoding (DSSD) and the LayerSkip-style baseline")
                .column("threads", "threads").column("mode", "method").column("setting", "setting")
                .column("epsilon", "ε").column("exit_layer", "exit layer").column("max_draft", "(max) draft")
                .column("tokens_per_s", "tokens/s").column("speedup", "speed-up").column("drafted", "drafted")
                .column("accepted", "accepted").column("acceptance_rate", "acceptance")
                .column("accepted_per_verification", "accepted per verification").column("draft_ms", "draft ms")
                .column("verify_ms", "verify ms").column("head_calls", "head calls");
        for (ThreadRun r : runs) {
            if (r.speculative() == null) {
                continue;
            }
            for (String mode : List.of("dssd_plan", "dssd", "layerskip")) {
                for (Map<String, Object> row : rowsOf(r.speculative(), mode)) {
                    t.row(r.threads(), mode.equals("dssd_plan") ? "dssd (defaults)" : mode, row.get("setting"), row.get("epsilon"),
                            num(row, "exit_layer") < 0 ? null : row.get("exit_layer"), row.get("max_draft"),
                            row.get("tokens_per_s"), row.get("speedup"), row.get("drafted"), row.get("accepted"),
                            row.get("acceptance_rate"), row.get("accepted_per_verification"), row.get("draft_ms"),
                            row.get("verify_ms"), row.get("head_calls"));
                }
            }
        }
        return t;
    }

    private static String earlyExitSetting(Map<String, Object> row) {
        String fill = (String) row.get("kv_fill");
        return "eps " + row.get("epsilon") + ("exact".equals(fill) ? "" : ", kv fill " + fill);
    }

    private static java.util.Optional<Map<String, Object>> firstEarlyExit(List<ThreadRun> runs) {
        return runs.stream().map(ThreadRun::earlyExit).filter(java.util.Objects::nonNull).findFirst();
    }

    /** Rows of the first KV fill measured: one row per ε, what the ε figures plot. */
    private static List<Map<String, Object>> firstFill(List<Map<String, Object>> rows) {
        if (rows.isEmpty()) {
            return rows;
        }
        Object fill = rows.get(0).get("kv_fill");
        return rows.stream().filter(r -> java.util.Objects.equals(r.get("kv_fill"), fill)).toList();
    }

    private static ReportFigure.Series series(String name, List<Map<String, Object>> rows, String x, String y) {
        return new ReportFigure.Series(name, rows.stream().mapToDouble(r -> num(r, x)).toArray(),
                rows.stream().mapToDouble(r -> num(r, y)).toArray());
    }

    /** Per ε, DSSD's best speed-up over its maximum draft lengths. */
    private static ReportFigure.Series bestPerEpsilon(String name, List<Map<String, Object>> dssd) {
        Map<Double, Double> best = new LinkedHashMap<>();
        for (Map<String, Object> r : dssd) {
            best.merge(num(r, "epsilon"), num(r, "speedup"), Math::max);
        }
        return new ReportFigure.Series(name, best.keySet().stream().mapToDouble(Double::doubleValue).toArray(),
                best.values().stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** One stacked series per exit layer: its share of each ε's tokens (the shares add up to 1 per ε). */
    private static List<ReportFigure.Series> exitShares(List<Map<String, Object>> rows) {
        List<String> layers = exitLabels(rows);
        double[] eps = rows.stream().mapToDouble(r -> num(r, "epsilon")).toArray();
        double[] totals = new double[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            for (Object n : map(rows.get(i), "exits_per_layer").values()) {
                totals[i] += ((Number) n).doubleValue();
            }
        }
        List<ReportFigure.Series> series = new ArrayList<>();
        String last = layers.isEmpty() ? "" : layers.get(layers.size() - 1);
        for (String l : layers) {
            double[] share = new double[rows.size()];
            for (int i = 0; i < rows.size(); i++) {
                Object n = map(rows.get(i), "exits_per_layer").get(l);
                share[i] = n == null || totals[i] == 0 ? 0 : ((Number) n).doubleValue() / totals[i];
            }
            series.add(new ReportFigure.Series(l.equals(last) ? "layer " + l + " (final)" : "layer " + l, eps, share));
        }
        return series;
    }

    /** DSSD: one series per ε over maximum draft lengths; the baseline: one per exit layer over draft lengths. */
    private static List<ReportFigure.Series> acceptance(List<Map<String, Object>> dssd, List<Map<String, Object>> skip,
                                                        String y) {
        List<ReportFigure.Series> series = new ArrayList<>();
        for (boolean isDssd : new boolean[] {true, false}) {
            Map<String, List<Map<String, Object>>> groups = new LinkedHashMap<>();
            for (Map<String, Object> r : isDssd ? dssd : skip) {
                String key = isDssd ? "DSSD eps " + r.get("epsilon") : "LayerSkip layer " + r.get("exit_layer");
                groups.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
            }
            groups.forEach((name, rows) -> series.add(series(name, rows, "max_draft", y)));
        }
        return series;
    }

    /**
     * The exit labels of the rows (see {@link dev.earlyexit.exits.HeadSet#exitLabel}), shallow to deep; a
     * head after the last layer ("6-head") comes before the classifier ("6").
     */
    private static List<String> exitLabels(List<Map<String, Object>> rows) {
        TreeSet<String> labels = new TreeSet<>(java.util.Comparator
                .comparingInt((String l) -> Integer.parseInt(l.replace("-head", "")))
                .thenComparing(l -> !l.endsWith("-head")));
        for (Map<String, Object> r : rows) {
            labels.addAll(map(r, "exits_per_layer").keySet());
        }
        return new ArrayList<>(labels);
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> list(Map<String, Object> m, String key) {
        Object v = m.get(key);
        return v == null ? List.of() : (List<Map<String, Object>>) v;
    }

    /** The rows under key: a list of rows, or one row alone (e.g. "dssd_plan"); none when absent. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> rowsOf(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v instanceof Map<?, ?> one) {
            return List.of((Map<String, Object>) one);
        }
        return list(m, key);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Map<String, Object> m, String key) {
        return (Map<String, Object>) m.get(key);
    }

    private static double num(Map<String, Object> m, String key) {
        return ((Number) m.get(key)).doubleValue();
    }
}
