package dev.earlyexit.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReportFigureTest {
    @TempDir
    Path dir;

    private static ReportFigure twoPanels() {
        double[] eps = {0.8, 0.9};
        return new ReportFigure("fig.png", "Figure", List.of(
                new ReportFigure.Panel("lines", "epsilon", "speed-up", ReportFigure.Kind.LINE,
                        List.of(new ReportFigure.Series("1 thread", eps, new double[] {1.5, 1.2}))),
                new ReportFigure.Panel("bars", "epsilon", "share", ReportFigure.Kind.STACKED_BARS, List.of(
                        new ReportFigure.Series("layer 1", eps, new double[] {0.25, 0.1}),
                        new ReportFigure.Series("layer 2 (final)", eps, new double[] {0.75, 0.9}))),
                new ReportFigure.Panel("no data", "x", "y", ReportFigure.Kind.LINE, List.of())));
    }

    @Test
    void panelsAreDrawnSideBySideAndEmptyOnesLeftOut() throws Exception {
        ReportFigure f = twoPanels();
        assertThat(f.panels()).hasSize(2);
        f.write(dir);
        BufferedImage image = ImageIO.read(dir.resolve("fig.png").toFile());
        assertThat(image.getWidth()).isEqualTo(2 * 720);
        assertThat(image.getHeight()).isEqualTo(460);
    }

    @Test
    void jsonHoldsEveryPlottedNumber() {
        Map<String, Object> json = twoPanels().toJson();
        assertThat(json.get("file")).isEqualTo("fig.png");
        List<?> panels = (List<?>) json.get("panels");
        assertThat(panels).hasSize(2);
        Map<?, ?> bars = (Map<?, ?>) panels.get(1);
        assertThat(bars.get("kind")).isEqualTo("stacked_bars");
        assertThat(bars.get("x_label")).isEqualTo("epsilon");
        Map<?, ?> first = (Map<?, ?>) ((List<?>) bars.get("series")).get(0);
        assertThat(first.get("name")).isEqualTo("layer 1");
        assertThat((double[]) first.get("x")).containsExactly(0.8, 0.9);
        assertThat((double[]) first.get("y")).containsExactly(0.25, 0.1);
    }

    @Test
    void aFigureWithoutDataIsEmptyAndSeriesMustPairUp() {
        assertThat(new ReportFigure("f.png", "f", List.of()).isEmpty()).isTrue();
        assertThatThrownBy(() -> new ReportFigure.Series("s", new double[2], new double[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 x values, 3 y");
    }
}
