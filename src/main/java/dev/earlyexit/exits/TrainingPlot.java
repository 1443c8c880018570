package dev.earlyexit.exits;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The paper's Figure 1 for our run: agreement and entropy of each head over training steps, side by
 * side in one PNG (moving averages over a window of steps, since each step sees one batch).
 */
public final class TrainingPlot {
    private TrainingPlot() {
    }

    public static void write(TrainingHistory history, String title, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int steps = history.steps();
        if (steps == 0) {
            return;
        }
        int window = Math.max(1, steps / 25);
        double[] x = new double[steps];
        for (int t = 0; t < steps; t++) {
            x[t] = t + 1;
        }
        XYChart agree = new XYChartBuilder().width(640).height(420).title("Agreement with the model (" + title + ")")
                .xAxisTitle("step").yAxisTitle("agreement").build();
        XYChart ent = new XYChartBuilder().width(640).height(420).title("Head entropy (nats)")
                .xAxisTitle("step").yAxisTitle("entropy").build();
        int[] layers = history.layers();
        for (int h = 0; h < layers.length; h++) {
            agree.addSeries("layer " + layers[h], x, history.smoothed("agreement", h, window)).setMarker(SeriesMarkers.NONE);
            ent.addSeries("layer " + layers[h], x, history.smoothed("entropy", h, window)).setMarker(SeriesMarkers.NONE);
        }
        agree.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
        ent.getStyler().setYAxisMin(0.0);
        java.awt.image.BufferedImage a = BitmapEncoder.getBufferedImage(agree);
        java.awt.image.BufferedImage e = BitmapEncoder.getBufferedImage(ent);
        java.awt.image.BufferedImage both = new java.awt.image.BufferedImage(a.getWidth() + e.getWidth(),
                Math.max(a.getHeight(), e.getHeight()), java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = both.createGraphics();
        g.drawImage(a, 0, 0, null);
        g.drawImage(e, a.getWidth(), 0, null);
        g.dispose();
        javax.imageio.ImageIO.write(both, "png", png.toFile());
    }
}
