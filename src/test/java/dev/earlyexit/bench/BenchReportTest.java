package dev.earlyexit.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The report's tables and figures from results shaped as the benches produce them. */
class BenchReportTest {
    @TempDir
    Path dir;

    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static Map<String, Object> earlyExit(double speedupAt08) {
        Map<String, Object> time = map("layers_share", 0.6, "heads_share", 0.1, "classifier_share", 0.3);
        List<Map<String, Object>> rows = new ArrayList<>();
        rows.add(map("epsilon", 0.8, "kv_fill", "exact", "tokens_per_s", 300.0 * speedupAt08, "speedup", speedupAt08,
                "token_agreement", 0.8, "sequence_match", 0.5, "identical_prefix", 0.4, "mean_layers", 4.5,
                "exits_per_layer", map("5", 30, "6", 10), "time", time, "kv_fill_rows", 12, "head_calls_per_token", 1.0));
        // At 0.95 the head at 4 cannot exit, so it is not consulted and has no key.
        rows.add(map("epsilon", 0.95, "kv_fill", "exact", "tokens_per_s", 310.0, "speedup", 1.03,
                "token_agreement", 0.97, "sequence_match", 0.9, "identical_prefix", 0.9, "mean_layers", 5.6,
                "exits_per_layer", map("5", 16, "6", 24), "time", time, "kv_fill_rows", 4, "head_calls_per_token", 1.0));
        return map("full_tokens_per_s", 300.0, "generated_tokens", 40, "results", rows);
    }

    private static Map<String, Object> speculative() {
        List<Map<String, Object>> dssd = new ArrayList<>();
        for (int d : new int[] {2, 4}) {
            dssd.add(map("setting", "eps 0.8, max draft " + d, "epsilon", 0.8, "exit_layer", -1, "max_draft", d,
                    "tokens_per_s", 330.0 + d, "speedup", d == 2 ? 1.12 : 1.14, "acceptance_rate", 0.7,
                    "accepted_per_verification", 1.0 + d / 4.0));
        }
        List<Map<String, Object>> skip = List.of(map("setting", "layer 5, length 1", "exit_layer", 5, "max_draft", 1,
                "tokens_per_s", 320.0, "speedup", 1.05, "acceptance_rate", 0.8, "accepted_per_verification", 0.8));
        Map<String, Object> plan = map("setting", "plan: layers [6], max draft 8", "exit_layer", -1, "max_draft", 8,
                "tokens_per_s", 360.0, "speedup", 1.2, "acceptance_rate", 0.84, "accepted_per_verification", 4.7);
        return map("full_tokens_per_s", 300.0, "dssd_plan", plan, "dssd", dssd, "layerskip", skip);
    }

    private static Map<String, Object> text() {
        return map("file", "emma.txt", "tokens", 100,
                "full", map("tokens", 100, "perplexity", 20.0, "agreement", 1.0, "mean_layers", 6.0,
                        "exits_per_layer", map("4", 0, "5", 0, "6", 100), "uncovered_tokens", 0),
                "results", List.of(map("epsilon", 0.8, "tokens", 100, "perplexity", 25.0, "agreement", 0.9,
                        "mean_layers", 5.0, "exits_per_layer", map("4", 20, "5", 30, "6", 50), "uncovered_tokens", 3)));
    }

    private static List<BenchReport.ThreadRun> runs() {
        return List.of(new BenchReport.ThreadRun(1, earlyExit(1.4), speculative()),
                new BenchReport.ThreadRun(2, earlyExit(1.2), speculative()));
    }

    @Test
    void tablesCoverEveryMeasurement() {
        List<ReportTable> tables = BenchReport.tables(runs(), text());
        assertThat(tables).extracting(ReportTable::name).containsExactly("speed", "generation-quality",
                "generation-exits", "early-exit-time", "text-quality", "text-exits", "dssd");
        // Per thread count: the early-exit baseline and 2 ε, the speculative baseline, the DSSD defaults,
        // 2 DSSD and 1 layerskip row.
        assertThat(tables.get(0).toCsv().lines()).hasSize(1 + 2 * (3 + 5));
        assertThat(tables.get(0).toCsv()).contains("1,dssd (defaults),\"plan: layers [6], max draft 8\",360,1.2\n");
        assertThat(tables.get(0).toCsv()).contains("2,early exit,eps 0.8,360,1.2\n");
        // Layers missing at one ε are zero, and every row adds up to the tokens.
        assertThat(tables.get(2).toCsv()).isEqualTo("""
                epsilon,kv_fill,layer_5,layer_6,tokens
                0.8,exact,30,10,40
                0.95,exact,16,24,40
                """);
        assertThat(tables.get(4).toCsv().lines()).containsExactly(
                "epsilon,tokens,perplexity,agreement,mean_layers,uncovered_tokens", "full model,100,20,1,6,0",
                "0.8,100,25,0.9,5,3");
        assertThat(tables.get(6).toCsv().lines().toList().get(1)).startsWith("1,dssd (defaults),\"plan: layers [6]");
        assertThat(tables.get(6).toCsv().lines().toList().get(2)).startsWith("1,dssd,\"eps 0.8, max draft 2\",0.8,,2,");
    }

    @Test
    void theCalibrationTablePutsBothRulesCoverageSideBySide() {
        dev.earlyexit.calibration.Calibration cal = new dev.earlyexit.calibration.Calibration("sha256:x", "m", "h",
                new int[] {3}, 4, Map.of("softmax", new dev.earlyexit.calibration.ThresholdCurve[] {
                        dev.earlyexit.calibration.ThresholdCurve.of(new double[] {0.1, 0.5, 0.9, 0.95},
                                new boolean[] {false, true, true, true})}), Map.of());
        double[] eps = {0.5, 0.9};
        ReportTable t = BenchReport.calibration(cal.summary(eps, dev.earlyexit.calibration.ThresholdRule.DEFAULT), eps);
        String md = t.toMarkdown();
        assertThat(md).contains("AUROC").contains("coverage ε 0.5 (paper / guarantee)").contains("| softmax | 3 |");
        // the paper's rule lets 3 of 4 tokens exit at 0.5; with four tokens no lower bound reaches 0.5
        assertThat(md).contains("0.75 / 0.0");
    }

    @Test
    void onlyWhatWasMeasuredIsReported() {
        List<BenchReport.ThreadRun> dssdOnly = List.of(new BenchReport.ThreadRun(2, null, speculative()));
        assertThat(BenchReport.tables(dssdOnly, null)).extracting(ReportTable::name).containsExactly("speed", "dssd");
        assertThat(BenchReport.figures(dssdOnly, null)).extracting(ReportFigure::file)
                .containsExactly("speedup-vs-epsilon.png", "dssd.png");
    }

    @Test
    void figuresFollowThePaper() {
        List<ReportFigure> figures = BenchReport.figures(runs(), text());
        assertThat(figures).extracting(ReportFigure::file).containsExactly("score-vs-epsilon.png",
                "speedup-vs-epsilon.png", "exits-vs-epsilon.png", "dssd.png");

        ReportFigure.Panel perplexity = figures.get(0).panels().get(0);
        assertThat(perplexity.series().get(1).name()).isEqualTo("full model");
        assertThat(perplexity.series().get(1).y()).containsExactly(20.0, 20.0);

        List<ReportFigure.Series> speedups = figures.get(1).panels().get(0).series();
        assertThat(speedups).extracting(ReportFigure.Series::name).containsExactly("early exit, 1 thread",
                "DSSD (best max draft), 1 thread", "early exit, 2 threads", "DSSD (best max draft), 2 threads");
        assertThat(speedups.get(0).y()).containsExactly(1.4, 1.03);
        assertThat(speedups.get(1).x()).containsExactly(0.8);
        assertThat(speedups.get(1).y()).containsExactly(1.14); // the better of max draft 2 and 4

        ReportFigure.Panel generationExits = figures.get(2).panels().get(0);
        assertThat(generationExits.series()).extracting(ReportFigure.Series::name)
                .containsExactly("layer 5", "layer 6 (final)");
        assertThat(generationExits.series().get(0).y()).containsExactly(0.75, 0.4);
        assertThat(generationExits.series().get(1).y()).containsExactly(0.25, 0.6);

        ReportFigure.Panel perVerification = figures.get(3).panels().get(1);
        assertThat(perVerification.series()).extracting(ReportFigure.Series::name)
                .containsExactly("DSSD eps 0.8", "LayerSkip layer 5");
        assertThat(perVerification.series().get(0).x()).containsExactly(2.0, 4.0);
        assertThat(perVerification.series().get(0).y()).containsExactly(1.5, 2.0);
    }

    @Test
    void writesTheFolder() throws Exception {
        Path report = BenchReport.write(dir, "bench", List.of("threads: 1, 2"), map("mode", "all"),
                BenchReport.tables(runs(), text()), BenchReport.figures(runs(), text()));
        assertThat(report).isEqualTo(dir.resolve("report.md"));
        String md = Files.readString(report);
        assertThat(md).startsWith("# bench\n\n- machine: ").contains("- threads: 1, 2\n")
                .contains("## Decode speed").contains("CSV: `dssd.csv`").contains("![Acceptance vs draft length](dssd.png)");
        for (String f : List.of("speed.csv", "text-exits.csv", "dssd.csv", "score-vs-epsilon.png", "dssd.png")) {
            assertThat(dir.resolve(f)).isNotEmptyFile();
        }
        JsonNode json = new ObjectMapper().readTree(dir.resolve("results.json").toFile());
        assertThat(json.get("mode").asText()).isEqualTo("all");
        assertThat(json.get("machine").get("cpu").asText()).isNotBlank();
        assertThat(json.get("figures")).hasSize(4);
    }
}
