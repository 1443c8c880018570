package dev.earlyexit.exits;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Per-step training metrics of every head (on each step's batch, before its update). */
public final class TrainingHistory {
    private final int[] layers;
    private final float[] lr;
    private final float[][] agreement;
    private final float[][] entropy;
    private final float[][] loss;
    private int steps;

    public TrainingHistory(int[] layers, int capacity) {
        this.layers = layers.clone();
        this.lr = new float[capacity];
        this.agreement = new float[capacity][layers.length];
        this.entropy = new float[capacity][layers.length];
        this.loss = new float[capacity][layers.length];
    }

    void record(int step, float rate, float[] agree, float[] ent, float[] ls) {
        lr[step] = rate;
        System.arraycopy(agree, 0, agreement[step], 0, agree.length);
        System.arraycopy(ent, 0, entropy[step], 0, ent.length);
        System.arraycopy(ls, 0, loss[step], 0, ls.length);
        steps = Math.max(steps, step + 1);
    }

    public int steps() {
        return steps;
    }

    public int[] layers() {
        return layers.clone();
    }

    public float agreement(int step, int head) {
        return agreement[step][head];
    }

    public float entropy(int step, int head) {
        return entropy[step][head];
    }

    public float loss(int step, int head) {
        return loss[step][head];
    }

    public float lr(int step) {
        return lr[step];
    }

    /** Mean of a metric over the steps [from, to) for one head, used for smoothing plots and summaries. */
    public double mean(float[][] metric, int head, int from, int to) {
        double s = 0;
        for (int t = from; t < to; t++) {
            s += metric[t][head];
        }
        return to > from ? s / (to - from) : Double.NaN;
    }

    /** Moving average over a trailing window of {@code window} steps. */
    public double[] smoothed(String metric, int head, int window) {
        float[][] m = switch (metric) {
            case "agreement" -> agreement;
            case "entropy" -> entropy;
            case "loss" -> loss;
            default -> throw new IllegalArgumentException(metric);
        };
        double[] out = new double[steps];
        for (int t = 0; t < steps; t++) {
            out[t] = mean(m, head, Math.max(0, t - window + 1), t + 1);
        }
        return out;
    }

    /** One row per step: step, lr, then agreement/entropy/loss per head. */
    public void writeCsv(Path file) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            StringBuilder head = new StringBuilder("step,lr");
            for (int l : layers) {
                head.append(",agreement_l").append(l).append(",entropy_l").append(l).append(",loss_l").append(l);
            }
            w.write(head.append('\n').toString());
            for (int t = 0; t < steps; t++) {
                StringBuilder row = new StringBuilder();
                row.append(t + 1).append(',').append(String.format(Locale.ROOT, "%.6g", lr[t]));
                for (int h = 0; h < layers.length; h++) {
                    row.append(String.format(Locale.ROOT, ",%.4f,%.4f,%.4f", agreement[t][h], entropy[t][h], loss[t][h]));
                }
                w.write(row.append('\n').toString());
            }
        }
    }

    /** Per head, the lists of step metrics, for JSON. */
    public List<Map<String, Object>> toJson() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int h = 0; h < layers.length; h++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("layer", layers[h]);
            float[] a = new float[steps];
            float[] e = new float[steps];
            float[] l = new float[steps];
            for (int t = 0; t < steps; t++) {
                a[t] = agreement[t][h];
                e[t] = entropy[t][h];
                l[t] = loss[t][h];
            }
            m.put("agreement", a);
            m.put("entropy", e);
            m.put("loss", l);
            out.add(m);
        }
        return out;
    }
}
