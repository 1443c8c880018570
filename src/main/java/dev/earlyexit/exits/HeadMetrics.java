package dev.earlyexit.exits;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A head's quality on a set of positions: agreement (the head's argmax is the model's argmax), mean
 * entropy of the head's distribution (nats), mean cross-entropy against the model (nats), mean loss, and
 * mean confidence (the head's probability of its own argmax; above the agreement means over-confident).
 */
public record HeadMetrics(int layer, double agreement, double entropy, double crossEntropy, double loss,
                          double confidence, int positions) {

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer", layer);
        m.put("agreement", round(agreement));
        m.put("entropy", round(entropy));
        m.put("cross_entropy", round(crossEntropy));
        m.put("loss", round(loss));
        m.put("confidence", round(confidence));
        m.put("positions", positions);
        return m;
    }

    static double round(double v) {
        return Math.round(v * 10000.0) / 10000.0;
    }
}
