package dev.earlyexit.server;

/**
 * Log-probabilities of the model's own distribution (temperature 1, no filters, as OpenAI reports
 * them) for a chosen token and the most likely alternatives.
 */
final class LogProbs {
    private LogProbs() {
    }

    static Job.Token of(float[] logits, int off, int vocab, int chosen, int exitLayer, int top) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        float logZ = (float) (max + Math.log(sum));
        int k = Math.min(top, vocab);
        int[] ids = new int[k];
        float[] lps = new float[k];
        // k <= 20: repeated selection is cheaper than sorting the vocabulary.
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int i = 0; i < vocab; i++) {
                if ((best < 0 || logits[off + i] > logits[off + best]) && !taken(ids, j, i)) {
                    best = i;
                }
            }
            ids[j] = best;
            lps[j] = logits[off + best] - logZ;
        }
        return new Job.Token(chosen, exitLayer, logits[off + chosen] - logZ, ids, lps);
    }

    private static boolean taken(int[] ids, int n, int id) {
        for (int j = 0; j < n; j++) {
            if (ids[j] == id) {
                return true;
            }
        }
        return false;
    }
}
