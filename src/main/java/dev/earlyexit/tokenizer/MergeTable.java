package dev.earlyexit.tokenizer;

import java.util.Arrays;

/**
 * BPE merges: (left id, right id) to (rank, merged id), in open addressing over two long arrays. A
 * {@code HashMap<Long, Long>} boxed every look-up and, as {@code Long.hashCode} of a packed pair is
 * {@code left ^ right}, put a real vocabulary's 280k merges into long collision chains.
 */
final class MergeTable {
    private static final long EMPTY = -1L; // no pair of non-negative ids packs to it
    private final long[] keys;
    private final long[] values;
    private final int mask;
    private int size;

    MergeTable(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected) * 2 - 1) << 1; // load at most 1/2
        keys = new long[capacity];
        values = new long[capacity];
        Arrays.fill(keys, EMPTY);
        mask = capacity - 1;
    }

    static long pair(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32 ^ h) & mask;
    }

    /** Keeps the first value put for a pair (the lower rank, as merges come in rank order). */
    void putIfAbsent(int left, int right, int rank, int merged) {
        if (size * 2 >= keys.length) {
            throw new IllegalStateException("merge table full"); // sized by the caller from the merge count
        }
        long key = pair(left, right);
        for (int i = slot(key); ; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return;
            }
            if (keys[i] == EMPTY) {
                keys[i] = key;
                values[i] = ((long) rank << 32) | (merged & 0xFFFFFFFFL);
                size++;
                return;
            }
        }
    }

    /** (rank << 32 | merged id) of the pair, or -1 when the two do not merge. */
    long get(int left, int right) {
        long key = pair(left, right);
        for (int i = slot(key); ; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return values[i];
            }
            if (keys[i] == EMPTY) {
                return -1;
            }
        }
    }

    interface Entry {
        void accept(int left, int right, int rank, int merged);
    }

    /** Every merge, in no particular order. */
    void forEach(Entry e) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != EMPTY) {
                e.accept((int) (keys[i] >>> 32), (int) keys[i], (int) (values[i] >>> 32), (int) values[i]);
            }
        }
    }

    int size() {
        return size;
    }
}
