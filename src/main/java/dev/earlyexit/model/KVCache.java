package dev.earlyexit.model;

import java.util.Arrays;

/**
 * Keys and values per layer. Values are [position][kvDim]; keys are stored transposed,
 * [kvDim][position], so that attention scores for a run of positions are one vector FMA per head
 * dimension instead of one horizontal reduction per position. Every layer keeps its own filled length: early
 * exit leaves deep layers behind the shallow ones until their entries are filled, and speculative
 * decoding rolls layers back to the accepted length.
 *
 * <p>Room is allocated as it is used, not for the whole context at once: a short run on a model with a long
 * context (a 1.24 B model's 2048 positions are 128 MiB of float32 keys and values) pays only for the
 * positions it reaches. A layer's room doubles when it runs out (a handful of times per sequence, never
 * once the sequence has been this long before), or {@link #reserve} sizes it up front.
 */
public final class KVCache {
    private final int layers;
    private final int kvDim;
    private final int capacity;
    /** Positions allocated first, per layer (a multiple of 64: whole cache lines of transposed keys). */
    static final int INITIAL_ROOM = 256;
    final float[][] keys;
    final float[][] values;
    /** Positions each layer's arrays have room for: the row stride of its transposed keys. */
    private final int[] room;
    private final int[] lengths;

    public KVCache(ModelConfig config) {
        this(config.layers(), config.kvDim(), config.maxSeqLen());
    }

    public KVCache(int layers, int kvDim, int capacity) {
        this(layers, kvDim, capacity, INITIAL_ROOM);
    }

    /** With room for {@code initialRoom} positions per layer at first (tests: growth from a small start). */
    KVCache(int layers, int kvDim, int capacity, int initialRoom) {
        if (initialRoom < 1) {
            throw new IllegalArgumentException("initial room must be >= 1, got " + initialRoom);
        }
        this.layers = layers;
        this.kvDim = kvDim;
        this.capacity = capacity;
        this.keys = new float[layers][];
        this.values = new float[layers][];
        this.room = new int[layers];
        this.lengths = new int[layers];
        int initial = Math.min(capacity, initialRoom);
        for (int l = 0; l < layers; l++) {
            keys[l] = new float[Math.multiplyExact(initial, kvDim)];
            values[l] = new float[initial * kvDim];
            room[l] = initial;
        }
    }

    /** Allocates room for the first {@code positions} positions of every layer now, so that none grows later. */
    public void reserve(int positions) {
        int n = Math.min(positions, capacity);
        for (int l = 0; l < layers; l++) {
            if (room[l] < n) {
                grow(l, n);
            }
        }
    }

    /** Room for at least {@code needed} positions at one layer, keeping what it holds. */
    private void grow(int layer, int needed) {
        int newRoom = (int) Math.min(capacity, Math.max(needed, 2L * room[layer]));
        float[] k = new float[Math.multiplyExact(newRoom, kvDim)];
        float[] oldKeys = keys[layer];
        int oldRoom = room[layer];
        int filled = lengths[layer];
        for (int d = 0; d < kvDim; d++) {
            System.arraycopy(oldKeys, d * oldRoom, k, d * newRoom, filled);
        }
        keys[layer] = k;
        values[layer] = java.util.Arrays.copyOf(values[layer], newRoom * kvDim);
        room[layer] = newRoom;
    }

    /** Row stride of layer l's transposed keys ([kvDim][stride]); changes when the layer grows. */
    int stride(int layer) {
        return room[layer];
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
        if (start + T > room[layer]) {
            grow(layer, start + T);
        }
        lengths[layer] = start + T;
        return start;
    }

    /** Read access for tests and tools: copy of the key vector at a position. */
    public float[] key(int layer, int position) {
        float[] k = new float[kvDim];
        for (int d = 0; d < kvDim; d++) {
            k[d] = keys[layer][d * room[layer] + position];
        }
        return k;
    }

    public float[] value(int layer, int position) {
        return Arrays.copyOfRange(values[layer], position * kvDim, (position + 1) * kvDim);
    }
}
