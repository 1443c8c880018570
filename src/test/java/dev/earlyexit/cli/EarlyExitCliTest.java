package dev.earlyexit.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The early-exit commands' contract: calibrate, generate --mode early-exit, score, and their errors. */
class EarlyExitCliTest {
    @TempDir
    static Path dir;
    static Path calibration;
    static JsonNode calibrateJson;

    /** Untrained copied heads ("--heads auto" with nothing trained beside this model). */
    private static String model() {
        try {
            return TestModels.isolatedStories15M(dir).toString();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @BeforeAll
    static void calibrate() throws Exception {
        calibration = dir.resolve("cal.json");
        CliTest.Result r = CliTest.run("", "calibrate", "--model", model(), "--samples", "1", "--tokens", "24",
                "--held-out-samples", "1", "--metric", "max-prob", "--out", calibration.toString(), "--threads", "1",
                "--json");
        assertThat(r.code()).as(r.err()).isZero();
        calibrateJson = r.json();
    }

    @Test
    void calibrateWritesCurvesBesideItsReport() {
        JsonNode j = calibrateJson;
        assertThat(Files.isRegularFile(calibration)).isTrue();
        assertThat(j.get("calibration").asText()).isEqualTo(calibration.toString());
        assertThat(j.get("heads").asText()).isEqualTo("copied-final");
        assertThat(j.get("layers").toString()).isEqualTo("[1,2,3,4,5]");
        assertThat(j.get("tokens").asInt()).isGreaterThan(50);
        assertThat(j.get("seconds").asDouble()).isPositive();
        JsonNode heads = j.get("metrics").get("max-prob");
        assertThat(heads).hasSize(5);
        assertThat(heads.get(4).get("coverage").has("0.9")).isTrue();
        JsonNode held = j.get("held_out").get("max-prob");
        assertThat(held.get("heads")).hasSize(5 * 4);
        assertThat(held.get("cascade")).hasSize(4);
        assertThat(held.has("passed")).isTrue();
        JsonNode plan = j.get("dssd_plan").get("max-prob");
        assertThat(plan.get("layers").size()).isPositive();
        assertThat(plan.get("max_draft").asInt()).isBetween(1, 16);
        assertThat(plan.get("predicted_speedup").asDouble()).isPositive();
        // Fixed-length drafts are among the settings searched; knowing each draft's fate is the bound.
        assertThat(plan.get("predicted_speedup").asDouble())
                .isGreaterThanOrEqualTo(plan.get("predicted_best_fixed_speedup").asDouble())
                .isLessThanOrEqualTo(plan.get("predicted_oracle_speedup").asDouble());
    }

    @Test
    void dssdAndLayerSkipGiveTheFullModelsTokens() throws Exception {
        CliTest.Result full = CliTest.run("", "generate", "--model", model(), "--prompt", "Tom and Lily went",
                "--max-tokens", "30", "--threads", "1", "--json");
        assertThat(full.code()).as(full.err()).isZero();
        CliTest.Result dssd = CliTest.run("", "generate", "--model", model(), "--prompt", "Tom and Lily went",
                "--max-tokens", "30", "--mode", "dssd", "--draft", "epsilon", "--epsilon", "0.5", "--max-draft", "3",
                "--consult", "all", "--calibration", calibration.toString(), "--threads", "1", "--json");
        assertThat(dssd.code()).as(dssd.err()).isZero();
        JsonNode d = dssd.json();
        assertThat(d.get("ids")).isEqualTo(full.json().get("ids"));
        assertThat(d.get("text")).isEqualTo(full.json().get("text"));
        assertThat(d.get("mode").asText()).isEqualTo("dssd");
        assertThat(d.get("drafted").asInt()).isGreaterThanOrEqualTo(d.get("accepted").asInt());
        assertThat(d.get("exit_layers")).hasSize(d.get("ids").size());
        assertThat(d.get("tokens_per_s").asDouble()).isPositive();
        assertThat(d.get("draft").asText()).contains("draft at max-prob >=").contains("at most 3 tokens");

        // The defaults: the calibration's draft plan.
        CliTest.Result planned = CliTest.run("", "generate", "--model", model(), "--prompt", "Tom and Lily went",
                "--max-tokens", "30", "--mode", "dssd", "--calibration", calibration.toString(), "--threads", "1",
                "--json");
        assertThat(planned.code()).as(planned.err()).isZero();
        assertThat(planned.json().get("ids")).isEqualTo(full.json().get("ids"));
        assertThat(planned.json().get("draft").asText()).startsWith("calibrated draft plan (max-prob)");
        assertThat(planned.err()).contains("dssd: calibrated draft plan");
        CliTest.Result noted = CliTest.run("", "generate", "--model", model(), "--prompt", "Tom", "--max-tokens", "4",
                "--mode", "dssd", "--epsilon", "0.8", "--calibration", calibration.toString(), "--threads", "1");
        assertThat(noted.err()).contains("--epsilon does not change DSSD's draft plan");

        // A calibration from before plans were stored: drafts at the epsilon thresholds, says so.
        com.fasterxml.jackson.databind.ObjectMapper om = new com.fasterxml.jackson.databind.ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode old = (com.fasterxml.jackson.databind.node.ObjectNode)
                om.readTree(calibration.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) old.get("info")).remove("dssd_plans");
        Path oldFile = dir.resolve("old-cal.json");
        om.writeValue(oldFile.toFile(), old);
        CliTest.Result fallback = CliTest.run("", "generate", "--model", model(), "--prompt", "Tom and Lily went",
                "--max-tokens", "30", "--mode", "dssd", "--consult", "all", "--epsilon", "0.5", "--calibration",
                oldFile.toString(), "--threads", "1", "--json");
        assertThat(fallback.code()).as(fallback.err()).isZero();
        assertThat(fallback.err()).contains("no DSSD draft plan").contains("run calibrate again");
        assertThat(fallback.json().get("ids")).isEqualTo(full.json().get("ids"));

        CliTest.Result skip = CliTest.run("", "generate", "--model", model(), "--prompt", "Tom and Lily went",
                "--max-tokens", "30", "--mode", "layerskip", "--exit-layer", "4", "--draft-length", "2", "--threads",
                "1", "--json");
        assertThat(skip.code()).as(skip.err()).isZero();
        assertThat(skip.json().get("ids")).isEqualTo(full.json().get("ids"));
        assertThat(skip.json().get("drafted").asInt()).isPositive();

        CliTest.Result noLayer = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode", "layerskip");
        assertThat(noLayer.code()).isEqualTo(1);
        assertThat(noLayer.err()).contains("--exit-layer");
        CliTest.Result badDraft = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode", "dssd",
                "--max-draft", "0");
        assertThat(badDraft.err()).contains("--max-draft must be >= 1");
        CliTest.Result badKind = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode", "dssd",
                "--draft", "sometimes");
        assertThat(badKind.code()).isEqualTo(1);
        assertThat(badKind.err()).contains("--draft takes plan or epsilon");
    }

    @Test
    void dssdBenchSweepsBothMethodsAndWritesItsReport() throws Exception {
        Path report = dir.resolve("dssd-report");
        CliTest.Result r = CliTest.run("", "bench", "--model", model(), "--mode", "dssd", "--consult", "all", "--calibration",
                calibration.toString(), "--epsilon", "0.5", "--max-draft", "2", "--draft-length", "1,2", "--tokens", "12",
                "--prompt", "Once upon a time", "--threads", "1", "--report", report.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("full_tokens_per_s").asDouble()).isPositive();
        assertThat(j.get("dssd")).hasSize(1);
        assertThat(j.get("layerskip")).hasSize(5 * 2); // every head's layer x every draft length
        assertThat(j.get("dssd_plan").get("description").asText()).startsWith("calibrated draft plan");
        assertThat(j.get("compared_dssd").asText()).isEqualTo("plan (defaults)");
        assertThat(j.get("dssd_vs_best_layerskip_speed").asDouble()).isPositive();
        assertThat(j.get("accepted_per_verification_ratio").asDouble()).isPositive();
        assertThat(j.get("dssd").get(0).get("drafted").asInt()).isGreaterThanOrEqualTo(
                j.get("dssd").get(0).get("accepted").asInt());
        assertThat(report.resolve("dssd.csv")).exists();
        assertThat(report.resolve("dssd.png")).exists();
        assertThat(report.resolve("dssd.json")).exists();
    }

    @Test
    void earlyExitGenerationReportsAnExitLayerPerToken() {
        CliTest.Result r = CliTest.run("", "generate", "--model", model(), "--prompt", "Once upon a time",
                "--max-tokens", "16", "--mode", "early-exit", "--epsilon", "0.5", "--calibration",
                calibration.toString(), "--threads", "1", "--json", "--compare");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = jsonOf(r);
        assertThat(j.get("wall_ms").asDouble()).isPositive();
        assertThat(j.get("load_ms").asDouble()).isPositive();
        assertThat(j.get("decode_tokens_per_s").asDouble()).isPositive();
        int n = j.get("ids").size();
        assertThat(n).isEqualTo(16);
        assertThat(j.get("exit_layers")).hasSize(n);
        int sum = 0;
        for (JsonNode e : j.get("exit_layers")) {
            assertThat(e.asInt()).isBetween(1, 6);
        }
        var it = j.get("exits_per_layer").fields();
        while (it.hasNext()) {
            var e = it.next();
            int layer = Integer.parseInt(e.getKey());
            long count = 0;
            for (JsonNode x : j.get("exit_layers")) {
                if (x.asInt() == layer) {
                    count++;
                }
            }
            assertThat(e.getValue().asInt()).as("exits at layer %d", layer).isEqualTo((int) count);
            sum += e.getValue().asInt();
        }
        assertThat(sum).isEqualTo(n);
        assertThat(j.get("exit_layers").get(0).asInt()).isEqualTo(6);
        assertThat(j.get("tokens_per_s").asDouble()).isPositive();
        assertThat(j.get("full_tokens_per_s").asDouble()).isPositive();
        assertThat(j.has("speedup")).isTrue();
        assertThat(j.get("mean_layers").asDouble()).isBetween(1.0, 6.0);
        assertThat(j.get("text").asText()).isNotBlank();
        assertThat(j.get("mode").asText()).isEqualTo("early-exit");

        CliTest.Result plain = CliTest.run("", "generate", "--model", model(), "--prompt", "Once upon a time",
                "--max-tokens", "8", "--mode", "early-exit", "--epsilon", "0.5", "--calibration",
                calibration.toString(), "--no-compare-full", "--threads", "1");
        assertThat(plain.code()).as(plain.err()).isZero();
        assertThat(plain.out()).startsWith("Once upon a time").doesNotContain("\u001b[");
        assertThat(plain.err()).contains("mean").contains("layers per token").doesNotContain("full model");

        // Asking only the head at layer 5: no token exits anywhere else.
        CliTest.Result only5 = CliTest.run("", "generate", "--model", model(), "--prompt", "Once upon a time",
                "--max-tokens", "12", "--mode", "early-exit", "--epsilon", "0.5", "--consult", "5", "--calibration",
                calibration.toString(), "--no-compare-full", "--threads", "1", "--json");
        assertThat(only5.code()).as(only5.err()).isZero();
        assertThat(jsonOf(only5).get("consulted_layers").toString()).isEqualTo("[5]");
        for (JsonNode e : jsonOf(only5).get("exit_layers")) {
            assertThat(e.asInt()).isIn(5, 6);
        }
    }

    @Test
    void scoreReportsAgreementPerplexityAndMeanLayers() throws Exception {
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "Once upon a time, there was a little girl named Lily. She loved to play outside.");
        CliTest.Result full = CliTest.run("", "score", "--model", model(), "--text-file", text.toString(), "--threads", "1", "--json");
        assertThat(full.code()).as(full.err()).isZero();
        JsonNode f = jsonOf(full);
        assertThat(f.get("agreement").asDouble()).isEqualTo(1.0);
        assertThat(f.get("mean_layers").asDouble()).isEqualTo(6.0);
        assertThat(f.get("perplexity").asDouble()).isBetween(1.0, 50.0);

        CliTest.Result ee = CliTest.run("", "score", "--model", model(), "--text-file", text.toString(), "--mode",
                "early-exit", "--epsilon", "0.5", "--calibration", calibration.toString(), "--threads", "1", "--json");
        assertThat(ee.code()).as(ee.err()).isZero();
        JsonNode e = jsonOf(ee);
        assertThat(e.get("agreement").asDouble()).isBetween(0.0, 1.0);
        assertThat(e.get("perplexity").asDouble()).isGreaterThanOrEqualTo(1.0);
        assertThat(e.get("mean_layers").asDouble()).isBetween(1.0, 6.0);
        assertThat(e.get("tokens").asInt()).isEqualTo(f.get("tokens").asInt());
        assertThat(e.get("full_perplexity").asDouble()).isEqualTo(f.get("perplexity").asDouble());
    }

    @Test
    void badEpsilonMissingOrForeignCalibrationAndMissingHeadsGiveOneClearLine() throws Exception {
        String cal = calibration.toString();
        for (String eps : new String[] {"0", "1.5", "-0.1"}) {
            CliTest.Result r = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode", "early-exit",
                    "--epsilon", eps, "--calibration", cal);
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err()).startsWith("earlyexit: error: epsilon must be in (0, 1]");
            assertThat(r.err().strip().lines()).hasSize(1);
        }
        CliTest.Result missing = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode",
                "early-exit", "--calibration", dir.resolve("none.json").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("no calibration").contains("calibrate").doesNotContain("\tat ");

        Path foreign = dir.resolve("foreign.json");
        Files.writeString(foreign, Files.readString(calibration).replaceFirst("\"sha256:[0-9a-f]+\"",
                "\"sha256:" + "0".repeat(64) + "\""));
        CliTest.Result other = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode", "early-exit",
                "--calibration", foreign.toString());
        assertThat(other.code()).isEqualTo(1);
        assertThat(other.err()).contains("made for another model");

        CliTest.Result otherHeads = CliTest.run("", "score", "--model", model(), "--text-file", cal, "--mode",
                "early-exit", "--heads", "copy:2,4", "--calibration", cal);
        assertThat(otherHeads.code()).isEqualTo(1);
        assertThat(otherHeads.err()).contains("made for other exit heads");

        CliTest.Result noHeads = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode",
                "early-exit", "--heads", dir.resolve("heads.safetensors").toString());
        assertThat(noHeads.code()).isEqualTo(1);
        assertThat(noHeads.err()).contains("exit heads not found");

        CliTest.Result metric = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode",
                "early-exit", "--metric", "vibes", "--calibration", cal);
        assertThat(metric.code()).isEqualTo(1);
        assertThat(metric.err()).contains("unknown confidence metric 'vibes'");

        CliTest.Result consult = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode",
                "early-exit", "--consult", "6", "--calibration", cal);
        assertThat(consult.code()).isEqualTo(1);
        assertThat(consult.err()).contains("no head at layer 6");

        CliTest.Result mode = CliTest.run("", "generate", "--model", model(), "--prompt", "x", "--mode", "fast");
        assertThat(mode.code()).isEqualTo(2);
        assertThat(mode.err()).contains("unknown mode 'fast'");

        CliTest.Result badLayer = CliTest.run("", "calibrate", "--model", model(), "--heads", "copy:6");
        assertThat(badLayer.code()).isEqualTo(1);
        assertThat(badLayer.err()).contains("must be in [1, 5]");
    }

    private static JsonNode jsonOf(CliTest.Result r) {
        try {
            return r.json();
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + r.out() + " / " + r.err(), e);
        }
    }
}
