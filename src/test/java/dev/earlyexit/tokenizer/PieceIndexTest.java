package dev.earlyexit.tokenizer;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PieceIndexTest {

    @Test
    void findsIndexedPiecesAndTheLowestIdOfDuplicates() {
        String[] pieces = {"<unk>", "a", "b", "ab", "a", "Aa", "BB"}; // "Aa" and "BB" share a hash code
        boolean[] indexed = {false, true, true, true, true, true, true};
        PieceIndex index = new PieceIndex(pieces, indexed);
        assertThat(index.get("a")).isEqualTo(1);
        assertThat(index.get("ab")).isEqualTo(3);
        assertThat(index.get("Aa")).isEqualTo(5);
        assertThat(index.get("BB")).isEqualTo(6);
        assertThat(index.get("<unk>")).isEqualTo(-1); // present but not indexed
        assertThat(index.get("abc")).isEqualTo(-1);
        assertThat(index.get("")).isEqualTo(-1);
    }
}
