package dev.earlyexit.exits;

import java.util.Arrays;

/**
 * The reduced vocabulary of a {@link HeadKind#SUBSET} head: the tokens the model predicts most often on
 * its own generated text. Index i of the head's output is token {@link #tokenId(int)}; tokens outside
 * the subset have index -1 and can never be proposed by the head (the full model answers them).
 */
public final class VocabularySubset {
    private final int[] ids;
    private final int[] index;

    public VocabularySubset(int[] ids, int vocabSize) {
        this.ids = ids.clone();
        this.index = new int[vocabSize];
        Arrays.fill(index, -1);
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("subset token id " + id + " is outside the vocabulary [0, " + vocabSize + ")");
            }
            if (index[id] >= 0) {
                throw new IllegalArgumentException("subset token id " + id + " appears twice");
            }
            index[id] = i;
        }
    }

    /**
     * The most frequent tokens of {@code counts}: the fewest that cover {@code coverage} of all counted
     * tokens, or exactly {@code size} when size > 0; ties go to the lower id. {@code always} ids (e.g.
     * end-of-text) are included in any case. Ordered by decreasing count.
     */
    public static VocabularySubset fromCounts(long[] counts, double coverage, int size, int... always) {
        int v = counts.length;
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> counts[a] != counts[b] ? Long.compare(counts[b], counts[a]) : Integer.compare(a, b));
        long total = 0;
        for (long c : counts) {
            total += c;
        }
        int n;
        if (size > 0) {
            n = Math.min(size, v);
        } else {
            n = 0;
            long covered = 0;
            while (n < v && (covered < coverage * total || n == 0)) {
                covered += counts[order[n]];
                n++;
            }
        }
        boolean[] in = new boolean[v];
        int[] ids = new int[n + always.length];
        int k = 0;
        for (int i = 0; i < n; i++) {
            ids[k++] = order[i];
            in[order[i]] = true;
        }
        for (int a : always) {
            if (a >= 0 && a < v && !in[a]) {
                ids[k++] = a;
                in[a] = true;
            }
        }
        return new VocabularySubset(Arrays.copyOf(ids, k), v);
    }

    public int size() {
        return ids.length;
    }

    public int vocabSize() {
        return index.length;
    }

    public int tokenId(int i) {
        return ids[i];
    }

    public int indexOf(int tokenId) {
        return tokenId >= 0 && tokenId < index.length ? index[tokenId] : -1;
    }

    public int[] ids() {
        return ids.clone();
    }

    /** Fraction of {@code counts} that falls inside the subset. */
    public double coverage(long[] counts) {
        long in = 0;
        long total = 0;
        for (int i = 0; i < counts.length; i++) {
            total += counts[i];
            if (indexOf(i) >= 0) {
                in += counts[i];
            }
        }
        return total == 0 ? 0 : (double) in / total;
    }
}
