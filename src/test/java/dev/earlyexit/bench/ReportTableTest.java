package dev.earlyexit.bench;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReportTableTest {
    private static ReportTable table() {
        return new ReportTable("speed", "Decode speed").column("threads", "threads").column("setting", "setting")
                .column("tokens_per_s", "tokens/s");
    }

    @Test
    void markdownHasLabelsAndCsvHasKeys() {
        ReportTable t = table().row(1, "eps 0.8", 512.25).row(2, "full", 1000.0);
        assertThat(t.toMarkdown()).isEqualTo("""
                | threads | setting | tokens/s |
                | --- | --- | --- |
                | 1 | eps 0.8 | 512.25 |
                | 2 | full | 1000 |
                """);
        assertThat(t.toCsv()).isEqualTo("""
                threads,setting,tokens_per_s
                1,eps 0.8,512.25
                2,full,1000
                """);
        assertThat(t.csvFile()).isEqualTo("speed.csv");
        assertThat(t.title()).isEqualTo("Decode speed");
    }

    @Test
    void csvQuotesWhatWouldSplitAFieldAndMarkdownEscapesPipes() {
        ReportTable t = table().row(1, "eps 0.8, max draft \"4\"", 1.5).row(1, "a|b\nc", 2.0);
        assertThat(t.toCsv().lines()).containsExactly("threads,setting,tokens_per_s",
                "1,\"eps 0.8, max draft \"\"4\"\"\",1.5", "1,\"a|b", "c\",2");
        assertThat(t.toMarkdown().lines().toList().get(3)).isEqualTo("| 1 | a\\|b c | 2 |");
    }

    @Test
    void missingValuesAreEmptyInCsvAndADashInMarkdown() {
        ReportTable t = table().row(1, null, Double.NaN);
        assertThat(t.toCsv().lines().toList().get(1)).isEqualTo("1,,");
        assertThat(t.toMarkdown().lines().toList().get(2)).isEqualTo("| 1 | - | - |");
    }

    @Test
    void numbersArePlainDecimals() {
        assertThat(ReportTable.format(1e-7)).isEqualTo("0.0000001");
        assertThat(ReportTable.format(1.0e7)).isEqualTo("10000000");
        assertThat(ReportTable.format(0.95)).isEqualTo("0.95");
        assertThat(ReportTable.format(-0.0)).isEqualTo("0");
        assertThat(ReportTable.format(2.5f)).isEqualTo("2.5");
        assertThat(ReportTable.format(Double.POSITIVE_INFINITY)).isEqualTo("inf");
        assertThat(ReportTable.format(42L)).isEqualTo("42");
    }

    @Test
    void rowsMustFitTheColumns() {
        assertThatThrownBy(() -> table().row(1, "x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("table speed has 3 columns, got a row of 2");
        assertThatThrownBy(() -> table().row(1, "x", 2.0).column("late", "late"))
                .isInstanceOf(IllegalStateException.class);
        assertThat(table().isEmpty()).isTrue();
    }
}
