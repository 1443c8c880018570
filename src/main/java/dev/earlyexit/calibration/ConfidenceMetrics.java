package dev.earlyexit.calibration;

/** The paper's confidence metrics. */
public enum ConfidenceMetrics implements ConfidenceMetric {
    /** The largest probability. */
    MAX_PROB("max-prob") {
        @Override
        public double confidence(float[] p, int n) {
            float best = 0f;
            for (int i = 0; i < n; i++) {
                best = Math.max(best, p[i]);
            }
            return best;
        }
    },
    /** Minus the entropy in nats (a peaked distribution has low entropy, so high confidence). */
    ENTROPY("entropy") {
        @Override
        public double confidence(float[] p, int n) {
            double h = 0;
            for (int i = 0; i < n; i++) {
                float q = p[i];
                if (q > 0f) {
                    h -= q * Math.log(q);
                }
            }
            return -h;
        }
    },
    /** Breaking ties: the gap between the two largest probabilities, p1 - p2. */
    MARGIN("margin") {
        @Override
        public double confidence(float[] p, int n) {
            float first = 0f;
            float second = 0f;
            for (int i = 0; i < n; i++) {
                float q = p[i];
                if (q > first) {
                    second = first;
                    first = q;
                } else if (q > second) {
                    second = q;
                }
            }
            return first - second;
        }
    };

    private final String cliName;

    ConfidenceMetrics(String cliName) {
        this.cliName = cliName;
    }

    /** Not the enum constant's name: the command-line name, e.g. "max-prob". */
    @Override
    public String toString() {
        return cliName;
    }

    @Override
    public String id() {
        return cliName;
    }
}
