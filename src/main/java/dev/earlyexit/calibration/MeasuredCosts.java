package dev.earlyexit.calibration;

import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.EarlyExitResult;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;

import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

/**
 * What one decoding step's parts cost on this machine, measured once at calibrate time and stored with
 * the calibration: a transformer layer for one token, one exit-head call, and the model's own final
 * norm and classifier. The choice of consulted heads ({@link ConsultPolicy#fastest}) is made from these,
 * not from byte counts: on a small model the head's softmax and the per-call overheads matter as much
 * as the weights it reads.
 *
 * <p>The loop decodes with every head consulted and none allowed to exit (thresholds no confidence
 * reaches), so every layer, every head and the classifier run for every token; a first pass warms the JIT.
 */
public record MeasuredCosts(double layerMs, double headMs, double classifierMs) {
    private static final String LAYER = "cost_layer_ms";
    private static final String HEAD = "cost_head_ms";
    private static final String CLASSIFIER = "cost_classifier_ms";

    /** Times a short decode (tokens per pass, one warm-up pass then the timed one). */
    public static MeasuredCosts measure(Transformer model, HeadSet heads, ConfidenceMetric metric, int[] prompt,
                                        int tokens) {
        double[] never = new double[heads.size()];
        Arrays.fill(never, Double.MAX_VALUE); // consulted (finite), never reached
        EarlyExitDecoder decoder = new EarlyExitDecoder(model, heads, never, metric);
        SamplingOptions greedy = new SamplingOptions(0f, 0, 1f, 0L);
        decoder.generate(prompt, tokens, greedy, null);
        EarlyExitResult r = decoder.generate(prompt, tokens, greedy, null);
        long steps = Math.max(1, r.generation().ids().length - 1); // the first token comes from the prefill
        return new MeasuredCosts(r.layerMs() / Math.max(1, r.tokenLayers()), r.headMs() / Math.max(1, r.headCalls()),
                r.classifierMs() / steps);
    }

    public void putInto(Map<String, Object> info) {
        info.put(LAYER, layerMs);
        info.put(HEAD, headMs);
        info.put(CLASSIFIER, classifierMs);
    }

    /** The costs stored in a calibration's info, if it has them (older calibrations do not). */
    public static Optional<MeasuredCosts> from(Map<String, Object> info) {
        if (!(info.get(LAYER) instanceof Number l) || !(info.get(HEAD) instanceof Number h)
                || !(info.get(CLASSIFIER) instanceof Number c)) {
            return Optional.empty();
        }
        return Optional.of(new MeasuredCosts(l.doubleValue(), h.doubleValue(), c.doubleValue()));
    }
}
