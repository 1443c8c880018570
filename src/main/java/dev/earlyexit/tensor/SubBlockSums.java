package dev.earlyexit.tensor;

/**
 * The activations as the Q4_K and Q5_K kernels take them: x[T, cols], then each token's sums over its
 * 32-value sub-blocks (T * cols / 32 floats), in the pool's input scratch. Their values are
 * d*sc*q - dmin*m, so a sub-block's product is d*sc * (q . x) - dmin*m * sum(x): with the sums made
 * once per product the mins cost one scalar multiply-add per sub-block and row.
 */
final class SubBlockSums {
    private SubBlockSums() {
    }

    static float[] append(float[] x, int T, int cols, ThreadPool pool) {
        int n = T * cols;
        float[] dst = pool.inputScratch(n + n / 32);
        System.arraycopy(x, 0, dst, 0, n);
        for (int b = 0; b < n / 32; b++) {
            float sum = 0f;
            for (int i = 32 * b; i < 32 * b + 32; i++) {
                sum += x[i];
            }
            dst[n + b] = sum;
        }
        return dst;
    }
}
