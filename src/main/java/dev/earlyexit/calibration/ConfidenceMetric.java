package dev.earlyexit.calibration;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How confident a head is in its next-token distribution. Every metric is oriented so that larger means
 * more confident: a token exits at a head when the head's confidence is at least its threshold. New
 * metrics implement this interface; the built-in ones are {@link ConfidenceMetrics}.
 */
public interface ConfidenceMetric {

    /** The name used on the command line and in calibration files (e.g. "max-prob"). */
    String id();

    /** Confidence of the distribution probs[0, n) (non-negative, summing to one). */
    double confidence(float[] probs, int n);

    /** The built-in metric of that name, or a clear error listing them. */
    static ConfidenceMetric byName(String name) {
        String key = name.toLowerCase(Locale.ROOT);
        for (ConfidenceMetric m : ConfidenceMetrics.values()) {
            if (m.id().equals(key)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown confidence metric '" + name + "' (known: "
                + builtIns().stream().map(ConfidenceMetric::id).collect(Collectors.joining(", ")) + ")");
    }

    static List<ConfidenceMetric> builtIns() {
        return List.of(ConfidenceMetrics.values());
    }
}
