package dev.earlyexit.bench;

import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;

/**
 * What a forward costs as a block of T positions against one position, and what a decode step costs
 * deep in the context against one near its start. The first is what makes DSSD's verification, the
 * exact KV fill and server batching cheap (a block reads each weight once, so T = 8 should cost far
 * less than 8 single steps); the second is attention's share, which grows with the position.
 *
 * <p>Each timed forward runs through every layer (no classifier) from a fixed cache length, and the
 * cache is rolled back after it, so every repetition does the same work. Token ids are a fixed
 * pseudo-random sequence: the cost does not depend on them.
 */
final class BlockScaling {
    /** Block sizes timed: up to DSSD's verification blocks and the server's batches (16 < the tiled product's 18). */
    static final int[] BLOCKS = {1, 2, 4, 8, 16};
    /** Cache length the block sizes and the shallow decode step start from. */
    static final int SHALLOW = 16;
    /** The deep decode step: position 1024 (of a 2048 context), or the middle of a shorter context. */
    static final int DEEP = 1024;

    /**
     * @param blockMs       median ms of one forward of BLOCKS[i] positions at position SHALLOW
     * @param deepPosition  where the deep decode step ran
     * @param deepMs        median ms of one decode step (T = 1) there
     */
    record Result(double[] blockMs, int deepPosition, double deepMs) {
        /** T = 8 against T = 1. */
        double block8Ratio() {
            return blockMs[indexOf(8)] / blockMs[0];
        }

        /** Decode speed at the deep position as a fraction of the speed at SHALLOW. */
        double deepSpeedRatio() {
            return blockMs[0] / deepMs;
        }
    }

    private BlockScaling() {
    }

    /** Whether the context holds the measurement: 2 * (SHALLOW + 16) positions. */
    static boolean fits(ModelConfig c) {
        return c.maxSeqLen() / 2 >= SHALLOW + BLOCKS[BLOCKS.length - 1];
    }

    /** Runs reps timed forwards per setting, after one untimed; the context must {@link #fits}. */
    static Result measure(Transformer model, ModelConfig c, int reps) {
        int maxBlock = BLOCKS[BLOCKS.length - 1];
        int deep = Math.min(DEEP, c.maxSeqLen() / 2);
        if (!fits(c)) {
            throw new IllegalArgumentException("block scaling needs a context of at least " + 2 * (SHALLOW + maxBlock)
                    + " positions, the model has " + c.maxSeqLen());
        }
        int[] ids = new int[deep + maxBlock];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (int) ((i * 2654435761L + 12345) % c.vocabSize());
        }
        KVCache cache = new KVCache(c.layers(), c.kvDim(), deep + maxBlock);
        float[] x = new float[maxBlock * c.dim()];
        fill(model, c, ids, SHALLOW, cache, x);
        double[] blockMs = new double[BLOCKS.length];
        for (int b = 0; b < BLOCKS.length; b++) {
            blockMs[b] = medianMs(model, c, ids, BLOCKS[b], SHALLOW, cache, x, reps);
        }
        fill(model, c, ids, deep, cache, x);
        double deepMs = medianMs(model, c, ids, 1, deep, cache, x, reps);
        return new Result(blockMs, deep, deepMs);
    }

    /** Extends the cache (every layer) to {@code length} positions, a block of up to 16 at a time. */
    private static void fill(Transformer model, ModelConfig c, int[] ids, int length, KVCache cache, float[] x) {
        int maxBlock = x.length / c.dim();
        for (int pos = cache.length(0); pos < length; ) {
            int T = Math.min(maxBlock, length - pos);
            model.embed(ids, pos, T, pos, x);
            model.forward(x, T, 0, c.layers(), cache);
            pos += T;
        }
    }

    private static double medianMs(Transformer model, ModelConfig c, int[] ids, int T, int at, KVCache cache, float[] x,
                                   int reps) {
        double[] ms = new double[reps];
        for (int r = -1; r < reps; r++) {
            model.embed(ids, at, T, at, x);
            long t0 = System.nanoTime();
            model.forward(x, T, 0, c.layers(), cache);
            long t1 = System.nanoTime();
            cache.truncateAll(at);
            if (r >= 0) {
                ms[r] = (t1 - t0) / 1e6;
            }
        }
        return BenchCommand.median(ms);
    }

    private static int indexOf(int block) {
        for (int i = 0; i < BLOCKS.length; i++) {
            if (BLOCKS[i] == block) {
                return i;
            }
        }
        throw new IllegalArgumentException("no block of " + block);
    }
}
