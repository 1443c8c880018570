package dev.earlyexit.dataset.parquet;

import dev.earlyexit.testutil.TestModels;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.Test;

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
        assertThat(rows.get(0)).containsEntry("id", "Mercury_7175875").containsEntry("answerKey", "C");
        assertThat(rows.get(0).get("choices")).isEqualTo(Map.of(
                "text", List.of("Planetary density will decrease.", "Planetary years will become longer.",
                        "Planetary days will become shorter.", "Planetary gravity will become stronger."),
                "label", List.of("A", "B", "C", "D")));
        assertThat(rows.get(1).get("choices")).isEqualTo(Map.of(
                "text", List.of("cellular telephone", "television", "refrigerator", "airplane"),
                "label", List.of("1", "2", "3", "4")));
        assertThat(rows.get(2)).containsEntry("question", "Één vraag met Ünïcödé — 日本語 🎉?");
        assertThat(rows.get(2).get("choices")).isEqualTo(Map.of("text", List.of("ja", ""), "label", List.of("A", "B")));
        assertThat(rows.get(3)).containsEntry("id", "Mercury_NULL").containsEntry("answerKey", null);
    }

    @Test
    void hellaswagRows() throws Exception {
        List<Map<String, Object>> rows = ParquetReader.readRows(fixture("hellaswag.parquet"));
        assertThat(rows).extracting(r -> r.get("ind")).containsExactly(4L, 5L, 6L, 7L);
        assertThat(rows.get(0)).containsEntry("activity_label", "Removing ice from car").containsEntry("label", "3");
        assertThat(rows.get(0).get("endings")).asInstanceOf(InstanceOfAssertFactories.LIST).hasSize(4)
                .endsWith("the man continues removing the snow on his car.");
        assertThat(rows.get(2)).containsEntry("ctx", "Ça dépend — naïve café ☕")
                .containsEntry("endings", List.of("", "ü", "emoji 🧪", "end"));
        assertThat(rows.get(3)).containsEntry("endings", List.of()).containsEntry("label", null);
    }

    @Test
    void mmluRows() throws Exception {
        List<Map<String, Object>> rows = ParquetReader.readRows(fixture("mmlu.parquet"));
        assertThat(rows).extracting(r -> r.get("answer")).containsExactly(1L, 2L, 2L);
        assertThat(rows).extracting(r -> r.get("subject"))
                .containsExactly("abstract_algebra", "abstract_algebra", "elementary_mathematics");
        assertThat(rows.get(1).get("choices"))
                .isEqualTo(Arrays.asList("True, True", "False, False", "True, False", "False, True"));
        assertThat(rows.get(2).get("question")).isEqualTo("Which of these is a prime number?");
    }
}
