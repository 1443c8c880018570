package dev.earlyexit.bench;

import dev.earlyexit.decoding.SpeculativeSweep;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class SpeculativeBenchTest {
    /** A row that decoded 100 tokens in the given time, with its own acceptance to tell runs apart. */
    private static SpeculativeSweep.Row row(String setting, double ms, long accepted) {
        return new SpeculativeSweep.Row("dssd", setting, -1, 4, 100, ms, 100, accepted, 50, 0, 0, 0, 0);
    }

    @Test
    void eachSettingKeepsItsRunOfMedianSpeed() {
        List<List<SpeculativeSweep.Row>> runs = List.of(
                List.of(row("a", 100, 1), row("b", 300, 4)),
                List.of(row("a", 300, 2), row("b", 100, 5)),
                List.of(row("a", 200, 3), row("b", 200, 6)));
        List<SpeculativeSweep.Row> medians = SpeculativeBench.medianRows(runs);
        assertThat(medians).extracting(SpeculativeSweep.Row::setting).containsExactly("a", "b");
        assertThat(medians).extracting(SpeculativeSweep.Row::accepted).containsExactly(3L, 6L);
    }

    @Test
    void anEvenCountTakesTheSlowerMiddleRun() {
        List<SpeculativeSweep.Row> medians = SpeculativeBench.medianRows(List.of(List.of(row("a", 100, 1)),
                List.of(row("a", 400, 2)), List.of(row("a", 200, 3)), List.of(row("a", 300, 4))));
        assertThat(medians.get(0).accepted()).isEqualTo(4L); // 300 ms: the slower of 200 and 300
    }
}
