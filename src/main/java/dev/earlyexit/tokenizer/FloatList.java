package dev.earlyexit.tokenizer;

import java.util.Arrays;

/** A growable float array, for scores read before the vocabulary size is known. */
final class FloatList {
    private float[] data = new float[1024];
    private int size;

    void add(float v) {
        if (size == data.length) {
            data = Arrays.copyOf(data, size * 2);
        }
        data[size++] = v;
    }

    float[] toArray() {
        return Arrays.copyOf(data, size);
    }
}
