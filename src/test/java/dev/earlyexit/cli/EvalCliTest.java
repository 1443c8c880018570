package dev.earlyexit.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The eval command's contract: its JSON, the table, early-exit rows, and one-line errors for bad input. */
class EvalCliTest {
    @TempDir
    Path dir;

    /** Untrained copied heads ("--heads auto" with nothing trained beside this model). */
    private String model() throws java.io.IOException {
        return TestModels.isolatedStories15M(dir).toString();
    }

    private static String data(String name) {
        return TestModels.resource("eval/" + name).toString();
    }

    @Test
    void evalJsonReportsTheHarnessMetricsOfTheFullModel() throws Exception {
        CliTest.Result r = CliTest.run("", "eval", "--model", model(), "--task", "hellaswag", "--data",
                data("hellaswag.jsonl"), "--threads", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("task").asText()).isEqualTo("hellaswag");
        assertThat(j.get("harness_task").asText()).isEqualTo("hellaswag");
        assertThat(j.get("file").asText()).endsWith("hellaswag.jsonl");
        assertThat(j.get("examples").asInt()).isEqualTo(4);
        assertThat(j.get("requests").asInt()).isEqualTo(16);
        assertThat(j.get("mode").asText()).isEqualTo("full");
        assertThat(j.get("rows")).hasSize(1);
        JsonNode full = j.get("rows").get(0);
        assertThat(full.get("mode").asText()).isEqualTo("full");
        double acc = full.get("acc").asDouble();
        assertThat(acc * 4).isCloseTo(full.get("acc_count").asDouble(), org.assertj.core.api.Assertions.within(1e-4));
        assertThat(full.get("acc_norm_count").asInt()).isBetween(0, 4);
        assertThat(full.get("acc_stderr").asDouble()).isEqualTo(acc == 0 || acc == 1 ? 0.0
                : Math.round(Math.sqrt(acc * (1 - acc) * 4 / 3) / 2 * 1e6) / 1e6);
        assertThat(full.get("tokens").asInt()).isGreaterThan(16);
        assertThat(full.get("mean_layers").asDouble()).isEqualTo(6.0);
        assertThat(full.get("token_agreement").asDouble()).isEqualTo(1.0);
        assertThat(full.has("example_agreement")).isFalse();
        assertThat(full.get("truncated_requests").asInt()).isZero();

        CliTest.Result table = CliTest.run("", "eval", "--model", model(), "--task", "piqa", "--data", data("piqa.jsonl"),
                "--labels", data("piqa-labels.lst"), "--threads", "1", "--limit", "2");
        assertThat(table.code()).as(table.err()).isZero();
        assertThat(table.out()).contains("piqa (harness task piqa)").contains("2 examples, 4 requests")
                .contains("acc_norm").containsPattern("full +\\d\\.\\d{4} ± \\d\\.\\d{4}");

        CliTest.Result lambada = CliTest.run("", "eval", "--model", model(), "--task", "lambada", "--data",
                data("lambada.jsonl"), "--threads", "1", "--json");
        assertThat(lambada.code()).as(lambada.err()).isZero();
        JsonNode l = lambada.json().get("rows").get(0);
        assertThat(l.get("perplexity").asDouble()).isGreaterThan(1.0);
        assertThat(l.has("acc_norm")).isFalse();
        assertThat(lambada.json().get("harness_task").asText()).isEqualTo("lambada_openai");
    }

    @Test
    void evalReadsHuggingFaceParquet() throws Exception {
        CliTest.Result r = CliTest.run("", "eval", "--model", model(), "--task", "arc", "--data",
                data("arc_hf.parquet"), "--threads", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("task").asText()).isEqualTo("arc");
        assertThat(j.get("file").asText()).endsWith("arc_hf.parquet");
        assertThat(j.get("examples").asInt()).isEqualTo(3);
        assertThat(j.get("requests").asInt()).isEqualTo(12);
        JsonNode full = j.get("rows").get(0);
        assertThat(full.get("acc").asDouble()).isBetween(0.0, 1.0);
        assertThat(full.get("acc_norm").asDouble()).isBetween(0.0, 1.0);
        // The same rows as arc_hf.jsonl: the same scores.
        CliTest.Result twin = CliTest.run("", "eval", "--model", model(), "--task", "arc", "--data",
                data("arc_hf.jsonl"), "--threads", "1", "--json");
        assertThat(twin.code()).as(twin.err()).isZero();
        assertThat(j.get("rows")).isEqualTo(twin.json().get("rows"));
    }

    @Test
    void earlyExitAddsARowPerEpsilonBesideTheFullModel() throws Exception {
        Path cal = dir.resolve("cal.json");
        CliTest.Result c = CliTest.run("", "calibrate", "--model", model(), "--samples", "1", "--tokens", "24",
                "--held-out-samples", "1", "--metric", "max-prob", "--out", cal.toString(), "--threads", "1", "--json");
        assertThat(c.code()).as(c.err()).isZero();
        CliTest.Result full = CliTest.run("", "eval", "--model", model(), "--task", "winogrande", "--data",
                data("winogrande.jsonl"), "--threads", "1", "--json");
        CliTest.Result r = CliTest.run("", "eval", "--model", model(), "--task", "winogrande", "--data",
                data("winogrande.jsonl"), "--mode", "early-exit", "--epsilon", "0.5,0.95", "--calibration",
                cal.toString(), "--threads", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("mode").asText()).isEqualTo("early-exit");
        assertThat(j.get("heads").asText()).isEqualTo("copied-final");
        assertThat(j.get("rows")).hasSize(3);
        JsonNode fullRow = j.get("rows").get(0);
        assertThat(fullRow.get("acc")).isEqualTo(full.json().get("rows").get(0).get("acc"));
        assertThat(fullRow.get("tokens")).isEqualTo(full.json().get("rows").get(0).get("tokens"));
        for (int i = 1; i <= 2; i++) {
            JsonNode row = j.get("rows").get(i);
            assertThat(row.get("mode").asText()).isEqualTo("early-exit");
            assertThat(row.get("epsilon").asDouble()).isEqualTo(i == 1 ? 0.5 : 0.95);
            assertThat(row.get("mean_layers").asDouble()).isBetween(1.0, 6.0);
            assertThat(row.get("example_agreement").asDouble()).isBetween(0.0, 1.0);
            assertThat(row.get("tokens")).isEqualTo(fullRow.get("tokens"));
            int exits = 0;
            for (JsonNode n : row.get("exits_per_layer")) {
                exits += n.asInt();
            }
            assertThat(exits).isEqualTo(row.get("tokens").asInt());
        }
        // A lower epsilon exits at least as early.
        assertThat(j.get("rows").get(1).get("mean_layers").asDouble())
                .isLessThanOrEqualTo(j.get("rows").get(2).get("mean_layers").asDouble());

        CliTest.Result only5 = CliTest.run("", "eval", "--model", model(), "--task", "winogrande", "--data",
                data("winogrande.jsonl"), "--mode", "early-exit", "--epsilon", "0.5", "--consult", "5",
                "--calibration", cal.toString(), "--threads", "1", "--json");
        assertThat(only5.code()).as(only5.err()).isZero();
        List<String> layers = new ArrayList<>();
        only5.json().get("rows").get(1).get("exits_per_layer").fieldNames().forEachRemaining(layers::add);
        assertThat(layers).containsExactly("5", "6");
    }

    @Test
    void badInputGivesOneLineNamingTheFileAndLine() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), "{\"text\": \"one two\"}\n{\"txt\": \"three four\"}\n");
        CliTest.Result row = CliTest.run("", "eval", "--model", model(), "--task", "lambada", "--data", bad.toString());
        assertThat(row.code()).isEqualTo(1);
        assertThat(row.err().strip()).isEqualTo("earlyexit: error: " + bad + " line 2: missing field 'text'");

        CliTest.Result task = CliTest.run("", "eval", "--model", model(), "--task", "squad", "--data", bad.toString());
        assertThat(task.code()).isEqualTo(2);
        assertThat(task.err()).contains("unknown task 'squad' (hellaswag, winogrande, mmlu, arc, piqa, lambada)");

        CliTest.Result labels = CliTest.run("", "eval", "--model", model(), "--task", "lambada", "--data", bad.toString(),
                "--labels", bad.toString());
        assertThat(labels.code()).isEqualTo(1);
        assertThat(labels.err()).contains("--labels is for piqa");

        CliTest.Result mode = CliTest.run("", "eval", "--model", model(), "--task", "lambada", "--data",
                data("lambada.jsonl"), "--mode", "dssd");
        assertThat(mode.code()).isEqualTo(1);
        assertThat(mode.err()).contains("eval runs --mode full or early-exit");

        CliTest.Result eps = CliTest.run("", "eval", "--model", model(), "--task", "lambada", "--data",
                data("lambada.jsonl"), "--mode", "early-exit", "--epsilon", "0.5,1.5");
        assertThat(eps.code()).isEqualTo(1);
        assertThat(eps.err()).contains("epsilon must be in (0, 1]");

        Path parquet = Files.write(dir.resolve("hellaswag.parquet"), new byte[] {'P', 'A', 'R', '1'});
        CliTest.Result pq = CliTest.run("", "eval", "--model", model(), "--task", "hellaswag", "--data", parquet.toString());
        assertThat(pq.code()).isEqualTo(1);
        assertThat(pq.err().strip()).isEqualTo("earlyexit: error: " + parquet + ": not a Parquet file: only 4 bytes");

        byte[] arc = Files.readAllBytes(TestModels.resource("eval/arc_hf.parquet"));
        Path damaged = Files.write(dir.resolve("arc.parquet"), Arrays.copyOf(arc, arc.length - 100));
        CliTest.Result cut = CliTest.run("", "eval", "--model", model(), "--task", "arc", "--data", damaged.toString());
        assertThat(cut.code()).isEqualTo(1);
        assertThat(cut.err().strip()).isEqualTo("earlyexit: error: " + damaged
                + ": not a Parquet file: the magic \"PAR1\" is missing at its end");

        CliTest.Result missing = CliTest.run("", "eval", "--model", model(), "--task", "arc", "--data",
                dir.resolve("none.jsonl").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("file not found").contains("none.jsonl");
    }
}
