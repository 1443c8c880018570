package dev.earlyexit.model;

import java.util.Arrays;

/**
 * Keys and values per layer. Values are [position][kvDim]; keys are stored transposed,
 * [kvDim][position], so that attention scores for a run of positions are one vector FMA per head
 * dimension instead of one horizontal reduction per position. Every layer keeps its own filled length: early
 * exit leaves deep layers behind the shallow ones until their entries are filled, and speculative
 * decoding rolls layers back to the accepted length.
 */
public final class KVCache {
    private final int layers;
    private final int kvDim;
    private final int capacity;
    final float[][] keys;
    final float[][] values;
    private final int[] lengths;

    public KVCache(ModelConfig config) {
        this(config.layers(), config.kvDim(), config.maxSeqLen());
    }

    public KVCache(int layers, int kvDim, int capacity) {
        this.layers = layers;
        this.kvDim = kvDim;
        this.capacity = capacity;
        this.keys = new float[layers][capacity * kvDim];
        this.values = new float[layers][capacity * kvDim];
        this.lengths = new int[layers];
    }

    public int layers() {
        return layers;
    }

    public int capacity() {
        return capacity;
    }

    public int kvDim() {
        return kvDim;
    }

    /** Positions filled at this layer; the next token through it gets this position. */
    public int length(int layer) {
        return lengths[layer];
    }

    /** Rolls one layer back to {@code length} positions (no-op if already shorter is an error). */
    public void truncate(int layer, int length) {
        if (length < 0 || length > lengths[layer]) {
            throw new IllegalArgumentException("cannot truncate layer " + layer + " from " + lengths[layer]
                    + " to " + length + " positions");
        }
        lengths[layer] = length;
    }

    /** Rolls every layer back to at most {@code length} positions. */
    public void truncateAll(int length) {
        for (int l = 0; l < layers; l++) {
            lengths[l] = Math.min(lengths[l], length);
        }
    }

    public void clear() {
        Arrays.fill(lengths, 0);
    }

    /** Reserves T positions at a layer and returns the first; called by the forward pass. */
    int append(int layer, int T) {
        int start = lengths[layer];
        if (start + T > capacity) {
            throw new IllegalStateException("context is full: " + start + " + " + T + " tokens exceed the "
                    + capacity + "-position context");
        }
        lengths[layer] = start + T;
        return start;
    }

    /** Read access for tests and tools: copy of the key vector at a position. */
    public float[] key(int layer, int position) {
        float[] k = new float[kvDim];
        for (int d = 0; d < kvDim; d++) {
            k[d] = keys[layer][d * capacity + position];
        }
        return k;
    }

    public float[] value(int layer, int position) {
        return Arrays.copyOfRange(values[layer], position * kvDim, (position + 1) * kvDim);
    }
}
