package dev.earlyexit.dataset.parquet;

import dev.earlyexit.testutil.DuckDbFixtures;
import dev.earlyexit.testutil.TestModels;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The committed DuckDB-written fixtures (see their README), read without DuckDB. */
class ParquetFixturesTest {
    static Path fixture(String name) {
        return TestModels.resource("dataset/parquet/" + name);
    }

    @Test
    void arcRows() throws Exception {
        List<Map<String, Object>> rows = ParquetReader.readRows(fixture("arc.parquet"));
        assertThat(rows).hasSize(4);
        assertThat(rows.get(0).keySet()).containsExactly("id", "question", "choices", "answerKey");
        assertThat(rows.get(0)).containsEntry("id", "own-pq-arc-1").containsEntry("answerKey", "B");
        assertThat(rows.get(0).get("choices")).isEqualTo(Map.of(
                "text", List.of("how light changes leaf color", "how water affects plant growth",
                        "how soil changes flower shape", "how wind carries seeds"),
                "label", List.of("A", "B", "C", "D")));
        assertThat(rows.get(1).get("choices")).isEqualTo(Map.of(
                "text", List.of("a cork", "a coin", "a marble", "a nail"),
                "label", List.of("1", "2", "3", "4")));
        assertThat(rows.get(1)).containsEntry("answerKey", "1");
        assertThat(rows.get(2)).containsEntry("question", "Ça marche? Ünïcödé — 日本語の質問 🎉");
        assertThat(rows.get(2).get("choices")).isEqualTo(Map.of("text", List.of("oui", ""), "label", List.of("A", "B")));
        assertThat(rows.get(3)).containsEntry("id", "own-pq-arc-4").containsEntry("answerKey", null);
        assertThat(rows.get(3).get("choices")).isEqualTo(Map.of(
                "text", List.of("x", "y", "z"), "label", List.of("A", "B", "C")));
    }

    @Test
    void hellaswagRows() throws Exception {
        List<Map<String, Object>> rows = ParquetReader.readRows(fixture("hellaswag.parquet"));
        assertThat(rows).extracting(r -> r.get("ind")).containsExactly(11L, 12L, 13L, 14L);
        assertThat(rows.get(0).keySet()).containsExactly("ind", "activity_label", "ctx", "endings", "label");
        assertThat(rows.get(0)).containsEntry("activity_label", "Folding laundry").containsEntry("label", "0");
        assertThat(rows.get(1)).containsEntry("label", "2");
        assertThat(rows.get(1).get("endings")).asInstanceOf(InstanceOfAssertFactories.LIST).hasSize(4)
                .endsWith("mails the bicycle to his aunt.");
        assertThat(rows.get(2)).containsEntry("ctx", "Straße — crème brûlée 🍮 naïve")
                .containsEntry("endings", List.of("", "ß", "emoji 🧪", "end"));
        assertThat(rows.get(3)).containsEntry("endings", List.of()).containsEntry("label", null);
    }

    @Test
    void mmluRows() throws Exception {
        List<Map<String, Object>> rows = ParquetReader.readRows(fixture("mmlu.parquet"));
        assertThat(rows).extracting(r -> r.get("answer")).containsExactly(1L, 2L, 2L);
        assertThat(rows).extracting(r -> r.get("subject"))
                .containsExactly("elementary_mathematics", "formal_logic", "astronomy");
        assertThat(rows.get(0).get("choices")).isEqualTo(List.of("1", "2", "3", "4"));
        assertThat(rows.get(1).get("choices")).isEqualTo(Arrays.asList("Yes, yes", "No, no", "Yes, no", "No, yes"));
        assertThat(rows.get(2).get("question")).isEqualTo("Which planet has the most easily seen rings?");
    }

    @Test
    void theReadmeSqlWritesTheseFilesByteForByte(@TempDir Path dir) throws Exception {
        DuckDbFixtures.assertReadmeWritesTheCommittedFiles(fixture("README.md"), dir);
    }
}
