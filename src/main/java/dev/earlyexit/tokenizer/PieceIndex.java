package dev.earlyexit.tokenizer;

/**
 * Finds a piece's id in a vocabulary array. An open-addressing table of ids over the pieces
 * themselves: a {@code HashMap<String, Integer>} would add a node and a boxed id per token (about
 * 4 MB for 32000 tokens under the launcher's 64-byte object alignment).
 */
final class PieceIndex {
    private final String[] pieces;
    private final int[] slots; // id + 1 of the piece whose probe sequence passes here; 0 is empty
    private final int mask;

    /** Indexes pieces[id] for every id with {@code indexed[id]}; the lowest id wins for duplicates. */
    PieceIndex(String[] pieces, boolean[] indexed) {
        this.pieces = pieces;
        int capacity = Integer.highestOneBit(Math.max(2, pieces.length) * 2 - 1) * 2; // load factor <= 1/2
        this.slots = new int[capacity];
        this.mask = capacity - 1;
        for (int id = 0; id < pieces.length; id++) {
            if (indexed[id] && get(pieces[id]) < 0) {
                int slot = pieces[id].hashCode() & mask;
                while (slots[slot] != 0) {
                    slot = (slot + 1) & mask;
                }
                slots[slot] = id + 1;
            }
        }
    }

    /** The id of {@code piece}, or -1 when it is not indexed. */
    int get(String piece) {
        for (int slot = piece.hashCode() & mask; slots[slot] != 0; slot = (slot + 1) & mask) {
            int id = slots[slot] - 1;
            if (pieces[id].equals(piece)) {
                return id;
            }
        }
        return -1;
    }
}
