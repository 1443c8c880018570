package dev.earlyexit.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bench --mode all --quick}: one report folder with every table, figure and number, and its errors. */
class BenchAllCliTest {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @TempDir
    Path dir;

    @Test
    void quickAllRunWritesTheWholeReport() throws Exception {
        String model = TestModels.stories15M().toString();
        // Copied heads at two layers keep it quick (each reads the whole classifier) and need no training.
        Path calibration = dir.resolve("cal.json");
        CliTest.Result cal = CliTest.run("", "calibrate", "--model", model, "--heads", "copy:4,5", "--samples", "1",
                "--tokens", "24", "--held-out-samples", "0", "--metric", "max-prob", "--out", calibration.toString(),
                "--threads", "1", "--json");
        assertThat(cal.code()).as(cal.err()).isZero();
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "Once upon a time, there was a little girl named Lily. She loved to play outside in "
                + "the park with her dog, Max. One day, Max found a big red ball under a tree.");

        Path report = dir.resolve("report");
        CliTest.Result r = CliTest.run("", "bench", "--model", model, "--mode", "all", "--quick", "--heads", "copy:4,5",
                "--calibration", calibration.toString(), "--report", report.toString(), "--text-file", text.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("## Decode speed").contains("machine: ")
                .endsWith("report: " + report.resolve("report.md") + System.lineSeparator());

        for (String png : List.of("score-vs-epsilon.png", "speedup-vs-epsilon.png", "exits-vs-epsilon.png", "dssd.png")) {
            Path p = report.resolve(png);
            assertThat(p).isRegularFile();
            byte[] bytes = Files.readAllBytes(p);
            assertThat(bytes.length).as(png).isGreaterThan(PNG_SIGNATURE.length);
            assertThat(java.util.Arrays.copyOf(bytes, PNG_SIGNATURE.length)).as(png).isEqualTo(PNG_SIGNATURE);
            BufferedImage image = ImageIO.read(p.toFile());
            assertThat(image.getWidth()).as(png).isPositive();
            assertThat(image.getHeight()).as(png).isPositive();
        }
        assertThat(firstLine(report.resolve("speed.csv"))).isEqualTo("threads,method,setting,tokens_per_s,speedup");
        assertThat(firstLine(report.resolve("generation-quality.csv"))).isEqualTo(
                "epsilon,kv_fill,token_agreement,sequence_match,identical_prefix,mean_layers");
        assertThat(firstLine(report.resolve("generation-exits.csv"))).startsWith("epsilon,kv_fill,layer_")
                .endsWith(",layer_6,tokens");
        assertThat(firstLine(report.resolve("early-exit-time.csv"))).startsWith("threads,epsilon,kv_fill,layers_share,");
        assertThat(firstLine(report.resolve("text-quality.csv"))).isEqualTo(
                "epsilon,tokens,perplexity,agreement,mean_layers,uncovered_tokens");
        assertThat(firstLine(report.resolve("text-exits.csv"))).isEqualTo("epsilon,layer_4,layer_5,layer_6,tokens");
        assertThat(firstLine(report.resolve("dssd.csv"))).startsWith("threads,mode,setting,epsilon,exit_layer,max_draft,"
                + "tokens_per_s,speedup,drafted,accepted,acceptance_rate,accepted_per_verification");
        String md = Files.readString(report.resolve("report.md"));
        assertThat(md).contains("- machine: ").contains("cores, Java ").contains("- threads: 1, 2")
                .contains("| threads | method | setting | tokens/s | speed-up |").contains("![Score vs epsilon](score-vs-epsilon.png)")
                .contains("CSV: `text-quality.csv`").contains("## Calibration per head: AUROC").contains("CSV: `calibration.csv`");

        JsonNode j = new ObjectMapper().readTree(report.resolve("results.json").toFile());
        assertThat(j.get("mode").asText()).isEqualTo("all");
        assertThat(j.get("machine").get("cores").asInt()).isPositive();
        assertThat(j.get("peak_rss_mb").asLong()).isPositive();

        // Text: the full model, then each ε; exits per layer add up to the tokens scored.
        JsonNode t = j.get("text");
        int tokens = t.get("tokens").asInt();
        assertThat(tokens).isBetween(30, 511);
        assertThat(t.get("full").get("agreement").asDouble()).isEqualTo(1.0);
        assertThat(t.get("full").get("mean_layers").asDouble()).isEqualTo(6.0);
        assertThat(t.get("results")).hasSize(2);
        assertThat(t.get("results").get(0).get("epsilon").asDouble()).isEqualTo(0.8);
        assertThat(t.get("results").get(1).get("epsilon").asDouble()).isEqualTo(0.95);
        for (JsonNode row : t.get("results")) {
            assertThat(row.get("agreement").asDouble()).isBetween(0.0, 1.0);
            assertThat(row.get("perplexity").asDouble()).isGreaterThanOrEqualTo(1.0);
            assertThat(row.get("mean_layers").asDouble()).isBetween(4.0, 6.0);
            assertThat(sum(row.get("exits_per_layer"))).isEqualTo(tokens);
        }

        // Speed at 1 and 2 threads: every speed-up measured, every generated token exited somewhere.
        assertThat(j.get("speed")).hasSize(2);
        for (JsonNode s : j.get("speed")) {
            JsonNode ee = s.get("early_exit");
            assertThat(ee.get("full_tokens_per_s").asDouble()).isPositive();
            assertThat(ee.get("results")).hasSize(2);
            for (JsonNode row : ee.get("results")) {
                assertThat(row.get("speedup").asDouble()).isPositive();
                assertThat(row.get("token_agreement").asDouble()).isBetween(0.0, 1.0);
                assertThat(sum(row.get("exits_per_layer"))).isEqualTo(ee.get("generated_tokens").asInt());
            }
            JsonNode sp = s.get("speculative");
            assertThat(sp.get("layerskip")).hasSize(2 * 2); // heads at 4 and 5 x draft lengths 1, 2
            for (String mode : List.of("dssd", "layerskip")) {
                for (JsonNode row : sp.get(mode)) {
                    assertThat(row.get("speedup").asDouble()).as(mode).isPositive();
                }
            }
        }

        // Every figure's data is in the JSON, and the speed-up figure has a line per thread count.
        JsonNode figures = j.get("figures");
        assertThat(figures).hasSize(4);
        assertThat(figures.findValuesAsText("file")).containsExactly("score-vs-epsilon.png", "speedup-vs-epsilon.png",
                "exits-vs-epsilon.png", "dssd.png");
        JsonNode speedups = figures.get(1).get("panels").get(0).get("series");
        assertThat(speedups.findValuesAsText("name")).contains("early exit, 1 thread", "early exit, 2 threads");
        for (JsonNode panel : figures.get(2).get("panels")) {
            double[] stacked = new double[2];
            for (JsonNode series : panel.get("series")) {
                for (int i = 0; i < 2; i++) {
                    stacked[i] += series.get("y").get(i).asDouble();
                }
            }
            assertThat(stacked).containsExactly(new double[] {1.0, 1.0}, org.assertj.core.data.Offset.offset(0.01));
        }

        // The text rows are the score command's numbers for the same text and ε.
        CliTest.Result score = CliTest.run("", "score", "--model", model, "--mode", "early-exit", "--epsilon", "0.8",
                "--heads", "copy:4,5", "--calibration", calibration.toString(), "--text-file", text.toString(), "--json");
        assertThat(score.code()).as(score.err()).isZero();
        JsonNode sc = score.json();
        JsonNode at08 = t.get("results").get(0);
        assertThat(at08.get("tokens").asInt()).isEqualTo(sc.get("tokens").asInt());
        assertThat(at08.get("perplexity").asDouble()).isEqualTo(sc.get("perplexity").asDouble());
        assertThat(at08.get("agreement").asDouble()).isEqualTo(sc.get("agreement").asDouble());
        assertThat(at08.get("mean_layers").asDouble()).isEqualTo(sc.get("mean_layers").asDouble());
        assertThat(at08.get("exits_per_layer")).isEqualTo(sc.get("exits_per_layer"));
        assertThat(t.get("full").get("perplexity").asDouble()).isEqualTo(sc.get("full_perplexity").asDouble());
    }

    @Test
    void badTextOptionsGiveOneClearLine() throws Exception {
        Path text = Files.writeString(dir.resolve("t.txt"), "Once upon a time");
        Map<List<String>, String> cases = Map.of(
                List.of("--mode", "all", "--text-file", text.toString(), "--text-tokens", "0"),
                "earlyexit: error: --text-tokens must be >= 1, got 0",
                List.of("--mode", "all", "--text-file", dir.resolve("missing.txt").toString()),
                "earlyexit: error: --text-file " + dir.resolve("missing.txt") + ": no such file",
                List.of("--mode", "dssd", "--text-file", text.toString()),
                "earlyexit: error: --text-file is scored by bench --mode early-exit and --mode all");
        for (Map.Entry<List<String>, String> c : cases.entrySet()) {
            List<String> args = new java.util.ArrayList<>(List.of("bench", "--model", dir.resolve("no-model.bin").toString()));
            args.addAll(c.getKey());
            CliTest.Result r = CliTest.run("", args.toArray(new String[0]));
            assertThat(r.code()).as(c.getKey().toString()).isEqualTo(1);
            assertThat(r.err().strip()).as(c.getKey().toString()).isEqualTo(c.getValue());
        }
        CliTest.Result mode = CliTest.run("", "bench", "--mode", "fastest");
        assertThat(mode.code()).isEqualTo(2);
        assertThat(mode.err()).contains("unknown mode 'fastest' (full, early-exit, dssd or all)");
    }

    private static String firstLine(Path csv) throws Exception {
        return Files.readAllLines(csv).get(0);
    }

    private static int sum(JsonNode counts) {
        int total = 0;
        for (Iterator<JsonNode> it = counts.elements(); it.hasNext(); ) {
            total += it.next().asInt();
        }
        return total;
    }
}
