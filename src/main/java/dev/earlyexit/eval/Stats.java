package dev.earlyexit.eval;

/** The harness's aggregations: mean, and the standard error of the mean from the sample deviation. */
final class Stats {
    private Stats() {
    }

    static double mean(double[] xs) {
        double sum = 0;
        for (double x : xs) {
            sum += x;
        }
        return sum / xs.length;
    }

    /** sample_stddev / sqrt(n) (n - 1 in the deviation, as lm_eval.api.metrics.mean_stderr); NaN below 2 values. */
    static double stderr(double[] xs) {
        int n = xs.length;
        if (n < 2) {
            return Double.NaN;
        }
        double mu = mean(xs);
        double ss = 0;
        for (double x : xs) {
            ss += (x - mu) * (x - mu);
        }
        return Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
    }

    /** numpy.argmax: the first maximum, a NaN counting as the maximum (first NaN wins). */
    static int argmax(double[] xs) {
        int best = 0;
        for (int i = 0; i < xs.length; i++) {
            if (Double.isNaN(xs[i])) {
                return i;
            }
            if (xs[i] > xs[best]) {
                best = i;
            }
        }
        return best;
    }
}
