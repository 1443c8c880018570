package dev.earlyexit.calibration;

/**
 * The exact (Clopper-Pearson) one-sided lower confidence bound on a binomial proportion, from the
 * regularized incomplete beta function. Written here rather than taken from a library: it is forty lines
 * of textbook numerics (Lanczos log-gamma, Lentz's continued fraction), checked against independently
 * computed values in the tests, and the calibration needs nothing else from a statistics package.
 *
 * <p>With k successes in n trials the lower bound L at level 1 − δ is the δ quantile of Beta(k, n − k + 1)
 * (0 when k = 0). Because I_x(k, n − k + 1) = P(Bin(n, x) >= k), the test "L >= ε" is the same as
 * P(Bin(n, ε) >= k) <= δ, which {@link #boundAtLeast} evaluates with one incomplete-beta call.
 */
public final class ClopperPearson {
    private static final double[] LANCZOS = {0.99999999999980993, 676.5203681218851, -1259.1392167224028,
            771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7};

    private ClopperPearson() {
    }

    /** Rejects a confidence parameter outside (0, 1) with one clear message. */
    public static void checkDelta(double delta) {
        if (!(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("delta must be in (0, 1) (the guarantee holds with probability 1 - delta), got "
                    + delta);
        }
    }

    /** The (1 − δ) lower confidence bound on the success probability after k successes in n trials. */
    public static double lowerBound(long k, long n, double delta) {
        checkCounts(k, n);
        checkDelta(delta);
        if (k == 0) {
            return 0.0;
        }
        if (k == n) {
            return Math.pow(delta, 1.0 / n); // Beta(n, 1) has cdf x^n
        }
        double lo = 0;
        double hi = 1;
        for (int i = 0; i < 200 && hi - lo > 1e-15; i++) {
            double mid = 0.5 * (lo + hi);
            if (regularizedBeta(mid, k, n - k + 1) < delta) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return 0.5 * (lo + hi);
    }

    /** True when the (1 − δ) lower bound after k successes in n trials is at least ε. */
    public static boolean boundAtLeast(long k, long n, double epsilon, double delta) {
        checkCounts(k, n);
        if (k == 0) {
            return epsilon <= 0;
        }
        if (epsilon <= 0) {
            return true;
        }
        if (epsilon >= 1) {
            return false;
        }
        return regularizedBeta(epsilon, k, n - k + 1) <= delta;
    }

    /** I_x(a, b), the regularized incomplete beta function, for a, b > 0 and x in [0, 1]. */
    public static double regularizedBeta(double x, double a, double b) {
        if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) {
            throw new IllegalArgumentException("incomplete beta needs a, b > 0 and x in [0, 1]");
        }
        if (x == 0 || x == 1) {
            return x;
        }
        double logFront = a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b);
        // The continued fraction converges fast on the side of the mean; use the symmetry otherwise.
        if (x < (a + 1) / (a + b + 2)) {
            return Math.exp(logFront) * continuedFraction(x, a, b) / a;
        }
        return 1 - Math.exp(logFront) * continuedFraction(1 - x, b, a) / b;
    }

    static double logBeta(double a, double b) {
        return logGamma(a) + logGamma(b) - logGamma(a + b);
    }

    /** ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 significant digits). */
    static double logGamma(double x) {
        if (x < 0.5) {
            return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
        }
        x -= 1;
        double sum = LANCZOS[0];
        for (int i = 1; i < LANCZOS.length; i++) {
            sum += LANCZOS[i] / (x + i);
        }
        double t = x + 7.5;
        return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
    }

    /** The incomplete beta's continued fraction, modified Lentz evaluation. */
    private static double continuedFraction(double x, double a, double b) {
        final double tiny = 1e-300;
        double c = 1;
        double d = 1 - (a + b) * x / (a + 1);
        d = 1 / (Math.abs(d) < tiny ? tiny : d);
        double f = d;
        for (int m = 1; m <= 100_000; m++) {
            double m2 = 2.0 * m;
            double even = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
            d = 1 + even * d;
            d = 1 / (Math.abs(d) < tiny ? tiny : d);
            c = 1 + even / c;
            c = Math.abs(c) < tiny ? tiny : c;
            f *= d * c;
            double odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
            d = 1 + odd * d;
            d = 1 / (Math.abs(d) < tiny ? tiny : d);
            c = 1 + odd / c;
            c = Math.abs(c) < tiny ? tiny : c;
            double step = d * c;
            f *= step;
            if (Math.abs(step - 1) < 1e-15) {
                return f;
            }
        }
        return f;
    }

    private static void checkCounts(long k, long n) {
        if (n < 1 || k < 0 || k > n) {
            throw new IllegalArgumentException("need 0 <= k <= n and n >= 1, got k = " + k + ", n = " + n);
        }
    }
}
