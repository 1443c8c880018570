package dev.earlyexit.calibration;

import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.EarlyExitResult;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;

import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

/**
 * What one decoding step's parts cost on this machine, measured once at calibrate time and stored with
 * the calibration: a transformer layer for one token, one exit-head call, and the model's own final
 * norm and classifier; and what one more row adds to a layer and to the classifier when they run a
 * block (DSSD's verification runs the window as one block, where a row costs far less than alone). The
 * choice of consulted heads ({@link ConsultPolicy#fastest}) and the DSSD draft plan ({@link DraftPlanner})
 * are made from these, not from byte counts: on a small model the head's softmax and the per-call
 * overheads matter as much as the weights it reads.
 *
 * <p>The loop decodes with every head consulted and none allowed to exit (thresholds no confidence
 * reaches), so every layer, every head and the classifier run for every token. Warm-up passes come
 * first: with one, the timed second pass of 48 tokens still ran 1.6-2.5x slower than the fourth on
 * (stories15M, parts of the kernels not yet compiled), which made every stored cost about twice the
 * bench's own split.
 *
 * @param layerRowMs      one more row in a block through one layer (NaN: not measured, older calibrations)
 * @param classifierRowMs one more row in a block through the final norm and classifier (NaN: not measured)
 */
public record MeasuredCosts(double layerMs, double headMs, double classifierMs, double layerRowMs,
                            double classifierRowMs) {
    private static final String LAYER = "cost_layer_ms";
    private static final String HEAD = "cost_head_ms";
    private static final String CLASSIFIER = "cost_classifier_ms";
    private static final String LAYER_ROW = "cost_layer_block_row_ms";
    private static final String CLASSIFIER_ROW = "cost_classifier_block_row_ms";
    /** Rows of the block whose cost per extra row is measured (a typical verification window). */
    static final int BLOCK_ROWS = 8;
    static final int WARMUP_PASSES = 4;
    static final int TIMED_PASSES = 3;

    public MeasuredCosts(double layerMs, double headMs, double classifierMs) {
        this(layerMs, headMs, classifierMs, Double.NaN, Double.NaN);
    }

    /** True when the block-row costs were measured (calibrations from before they were are not). */
    public boolean hasBlockCosts() {
        return Double.isFinite(layerRowMs) && Double.isFinite(classifierRowMs);
    }

    /** Times a short decode (tokens per pass; warm-up passes, then the median of timed ones), then the block costs. */
    public static MeasuredCosts measure(Transformer model, HeadSet heads, ConfidenceMetric metric, int[] prompt,
                                        int tokens) {
        double[] never = new double[heads.size()];
        Arrays.fill(never, Double.MAX_VALUE); // consulted (finite), never reached
        EarlyExitDecoder decoder = new EarlyExitDecoder(model, heads, never, metric);
        SamplingOptions greedy = new SamplingOptions(0f, 0, 1f, 0L);
        for (int pass = 0; pass < WARMUP_PASSES; pass++) {
            decoder.generate(prompt, tokens, greedy, null);
        }
        double[] layer = new double[TIMED_PASSES];
        double[] head = new double[TIMED_PASSES];
        double[] classifier = new double[TIMED_PASSES];
        int[] ids = new int[0];
        for (int pass = 0; pass < TIMED_PASSES; pass++) {
            EarlyExitResult r = decoder.generate(prompt, tokens, greedy, null);
            long steps = Math.max(1, r.generation().ids().length - 1); // the first token comes from the prefill
            layer[pass] = r.layerMs() / Math.max(1, r.tokenLayers());
            head[pass] = r.headMs() / Math.max(1, r.headCalls());
            classifier[pass] = r.classifierMs() / steps;
            ids = r.generation().ids();
        }
        double[] rows = blockRowCosts(model, ids);
        return new MeasuredCosts(median(layer), median(head), median(classifier), rows[0], rows[1]);
    }

    /**
     * {one more row through one layer, one more row through the classifier}: the medians of timed passes
     * of one row and of BLOCK_ROWS rows through every layer and the classifier, (t_B - t_1) / (B - 1).
     */
    static double[] blockRowCosts(Transformer model, int[] someIds) {
        ModelConfig c = model.config();
        int B = BLOCK_ROWS;
        int[] ids = new int[B];
        for (int i = 0; i < B; i++) {
            ids[i] = someIds.length == 0 ? 0 : Math.floorMod(someIds[i % someIds.length], c.vocabSize());
        }
        float[] x = new float[B * c.dim()];
        float[] logits = new float[B * c.vocabSize()];
        KVCache cache = new KVCache(c);
        int reps = 15;
        double[][] layers = new double[2][reps];
        double[][] classifier = new double[2][reps];
        for (int rep = -5; rep < reps; rep++) { // five warm-up passes
            for (int v = 0; v < 2; v++) {
                int T = v == 0 ? 1 : B;
                cache.clear();
                model.embed(ids, 0, T, 0, x);
                long t0 = System.nanoTime();
                model.forward(x, T, 0, c.layers(), cache);
                long t1 = System.nanoTime();
                model.logitsBlock(x, T, logits);
                long t2 = System.nanoTime();
                if (rep >= 0) {
                    layers[v][rep] = (t1 - t0) / 1e6;
                    classifier[v][rep] = (t2 - t1) / 1e6;
                }
            }
        }
        double layerRow = (median(layers[1]) - median(layers[0])) / ((B - 1) * (double) c.layers());
        double classifierRow = (median(classifier[1]) - median(classifier[0])) / (B - 1);
        return new double[] {Math.max(0, layerRow), Math.max(0, classifierRow)};
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    public void putInto(Map<String, Object> info) {
        info.put(LAYER, layerMs);
        info.put(HEAD, headMs);
        info.put(CLASSIFIER, classifierMs);
        if (hasBlockCosts()) {
            info.put(LAYER_ROW, layerRowMs);
            info.put(CLASSIFIER_ROW, classifierRowMs);
        }
    }

    /** The costs stored in a calibration's info, if it has them (older calibrations do not). */
    public static Optional<MeasuredCosts> from(Map<String, Object> info) {
        if (!(info.get(LAYER) instanceof Number l) || !(info.get(HEAD) instanceof Number h)
                || !(info.get(CLASSIFIER) instanceof Number c)) {
            return Optional.empty();
        }
        double layerRow = info.get(LAYER_ROW) instanceof Number n ? n.doubleValue() : Double.NaN;
        double classifierRow = info.get(CLASSIFIER_ROW) instanceof Number n ? n.doubleValue() : Double.NaN;
        return Optional.of(new MeasuredCosts(l.doubleValue(), h.doubleValue(), c.doubleValue(), layerRow,
                classifierRow));
    }
}
