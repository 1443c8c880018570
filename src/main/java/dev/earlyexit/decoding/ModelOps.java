package dev.earlyexit.decoding;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.Transformer;

/**
 * The model operations a decoder asks for. {@link #direct} runs them at once on the calling thread;
 * a {@link LayerSweeper} client runs them batched with other decoders' (the server's slots). Each
 * operation's results are the same either way: every kernel computes a row alone.
 */
public interface ModelOps {

    /** x[t] = embedding of tokens[off + t] at position startPos + t ({@link Transformer#embed}). */
    void embed(int[] tokens, int off, int T, int startPos, float[] x);

    /** The block x[T, dim] through layers [from, to) of {@code cache}'s sequence, in place. */
    void forward(float[] x, int T, int from, int to, KVCache cache);

    /** out[T, vocab] = the model's logits for the block x[T, dim]. */
    void logits(float[] x, int T, float[] out);

    /** out[0, outputSize) = the head's logits for hidden[offset, offset + dim). */
    void headLogits(ExitHead head, float[] hidden, int offset, float[] out);

    /** The operations run at once on the calling thread. */
    static ModelOps direct(Transformer model) {
        return new ModelOps() {
            @Override
            public void embed(int[] tokens, int off, int T, int startPos, float[] x) {
                model.embed(tokens, off, T, startPos, x);
            }

            @Override
            public void forward(float[] x, int T, int from, int to, KVCache cache) {
                model.forward(x, T, from, to, cache);
            }

            @Override
            public void logits(float[] x, int T, float[] out) {
                model.logitsBlock(x, T, out);
            }

            @Override
            public void headLogits(ExitHead head, float[] hidden, int offset, float[] out) {
                head.logits(hidden, offset, out, model.pool());
            }
        };
    }
}
