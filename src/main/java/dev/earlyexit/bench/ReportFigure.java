package dev.earlyexit.bench;

import dev.earlyexit.cli.*;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A report figure as data (what results.json holds) and as a PNG drawn from exactly that data with
 * XChart, so every plotted number is also in the JSON. A figure is one or more panels side by side.
 */
public record ReportFigure(String file, String title, List<Panel> panels) {
    private static final int PANEL_WIDTH = 720;
    private static final int PANEL_HEIGHT = 460;

    enum Kind {
        /** Lines with markers over numeric x. */
        LINE,
        /** Bars stacked per x value (shares adding up to 1 per x); every series has the same x. */
        STACKED_BARS
    }

    record Series(String name, double[] x, double[] y) {
        Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series " + name + ": " + x.length + " x values, " + y.length + " y");
            }
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("x", x);
            m.put("y", Arrays.stream(y).map(GenerateCommand::round).toArray());
            return m;
        }
    }

    record Panel(String title, String xLabel, String yLabel, Kind kind, List<Series> series) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("title", title);
            m.put("x_label", xLabel);
            m.put("y_label", yLabel);
            m.put("kind", kind == Kind.LINE ? "line" : "stacked_bars");
            m.put("series", series.stream().map(Series::toJson).toList());
            return m;
        }
    }

    public ReportFigure {
        panels = panels.stream().filter(p -> !p.series().isEmpty()).toList();
    }

    /** True when no panel has data (nothing to draw). */
    boolean isEmpty() {
        return panels.isEmpty();
    }

    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", file);
        m.put("title", title);
        m.put("panels", panels.stream().map(Panel::toJson).toList());
        return m;
    }

    /** Draws the panels side by side into dir/file. */
    void write(Path dir) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<BufferedImage> images = new ArrayList<>();
        for (Panel p : panels) {
            images.add(BitmapEncoder.getBufferedImage(chart(p)));
        }
        int width = images.stream().mapToInt(BufferedImage::getWidth).sum();
        int height = images.stream().mapToInt(BufferedImage::getHeight).max().orElse(1);
        BufferedImage all = new BufferedImage(Math.max(1, width), height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = all.createGraphics();
        int left = 0;
        for (BufferedImage image : images) {
            g.drawImage(image, left, 0, null);
            left += image.getWidth();
        }
        g.dispose();
        ImageIO.write(all, "png", dir.resolve(file).toFile());
    }

    private static Chart<?, ?> chart(Panel p) {
        if (p.kind() == Kind.STACKED_BARS) {
            CategoryChart c = new CategoryChartBuilder().width(PANEL_WIDTH).height(PANEL_HEIGHT).title(p.title())
                    .xAxisTitle(p.xLabel()).yAxisTitle(p.yLabel()).build();
            c.getStyler().setStacked(true);
            c.getStyler().setOverlapped(false);
            for (Series s : p.series()) {
                List<String> categories = Arrays.stream(s.x()).mapToObj(ReportTable::format).toList();
                c.addSeries(s.name(), categories, Arrays.stream(s.y()).boxed().toList());
            }
            return c;
        }
        XYChart c = new XYChartBuilder().width(PANEL_WIDTH).height(PANEL_HEIGHT).title(p.title())
                .xAxisTitle(p.xLabel()).yAxisTitle(p.yLabel()).build();
        for (Series s : p.series()) {
            c.addSeries(s.name(), s.x(), s.y());
        }
        return c;
    }
}
