package dev.earlyexit.exits;

import dev.earlyexit.tensor.ThreadPool;

/**
 * An exit head: reads the hidden state after {@link #layer()} transformer blocks and predicts the next
 * token. A head may cover the whole vocabulary or a subset of it; index i of its output is token
 * {@link #tokenId(int)}.
 *
 * <p>Implementations keep their scratch space inside, so a call allocates nothing; like the model,
 * one head is driven from one thread at a time.
 */
public interface ExitHead {

    /** Blocks run before this head (1-based count: 1 means after the first layer). */
    int layer();

    /** Size of the head's output distribution (vocabulary size, or the subset's size). */
    int outputSize();

    /** The token id of output index i. */
    int tokenId(int index);

    /** The output index of a token id, or -1 when the head cannot produce it. */
    int indexOf(int tokenId);

    /** out[0, outputSize) = the head's logits for hidden[offset, offset + dim). */
    void logits(float[] hidden, int offset, float[] out, ThreadPool pool);

    /** Bytes of weights read per call (what asking this head costs, compared with a layer). */
    long bytesPerCall();

    /**
     * out[t * outputSize() + i] = the head's logits for row t of a block of hidden states, row t at
     * hidden[offset + t * stride]. Used off the decode loop (calibration, teacher-forced scoring), where
     * a head that multiplies the whole block at once reads its weights once instead of T times; this
     * default asks {@link #logits} row by row (and allocates one row of scratch per call).
     */
    default void logitsBlock(float[] hidden, int offset, int stride, int T, float[] out, ThreadPool pool) {
        int n = outputSize();
        float[] row = new float[n];
        for (int t = 0; t < T; t++) {
            logits(hidden, offset + t * stride, row, pool);
            System.arraycopy(row, 0, out, t * n, n);
        }
    }
}
