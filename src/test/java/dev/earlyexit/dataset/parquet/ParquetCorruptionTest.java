package dev.earlyexit.dataset.parquet;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Damaged files end in a ParquetFormatException naming the file, never another exception. */
class ParquetCorruptionTest {
    private static final List<String> FIXTURES = List.of("arc.parquet", "hellaswag.parquet", "mmlu.parquet");

    @TempDir
    Path dir;

    private static byte[] fixture(String name) throws IOException {
        return Files.readAllBytes(ParquetFixturesTest.fixture(name));
    }

    private Path save(byte[] bytes) throws IOException {
        return Files.write(dir.resolve("damaged.parquet"), bytes);
    }

    private static int footerLength(byte[] file) {
        return ByteSlice.intLE(file, file.length - 8);
    }

    @Test
    void badMagicAtTheStart() throws Exception {
        byte[] bytes = fixture("arc.parquet");
        bytes[3] = '2';
        Path file = save(bytes);
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessage(file + ": not a Parquet file: the magic \"PAR1\" is missing at its start");
    }

    @Test
    void notParquetAtAll() throws Exception {
        Path file = save("id,question\n1,what?\n".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessageStartingWith(file + ": not a Parquet file");
    }

    @Test
    void emptyAndTinyFiles() throws Exception {
        for (int size : new int[] {0, 4, 11}) {
            Path file = save(Arrays.copyOf("PAR1PAR1PAR1".getBytes(StandardCharsets.US_ASCII), size));
            assertThatThrownBy(() -> ParquetReader.readRows(file))
                    .isInstanceOf(ParquetFormatException.class)
                    .hasMessage(file + ": not a Parquet file: only " + size + " bytes");
        }
    }

    @Test
    void everyTruncationIsReported() throws Exception {
        byte[] bytes = fixture("hellaswag.parquet");
        for (int length = 0; length < bytes.length; length++) {
            Path file = save(Arrays.copyOf(bytes, length));
            assertThatThrownBy(() -> ParquetReader.readRows(file))
                    .as("truncated to %d of %d bytes", length, bytes.length)
                    .isInstanceOf(ParquetFormatException.class)
                    .hasMessageStartingWith(file.toString());
        }
    }

    @Test
    void footerLengthBeyondTheFile() throws Exception {
        byte[] bytes = fixture("arc.parquet");
        int at = bytes.length - 8;
        bytes[at] = (byte) 0xFF;
        bytes[at + 1] = (byte) 0xFF;
        bytes[at + 2] = (byte) 0x00;
        bytes[at + 3] = (byte) 0x00;
        Path file = save(bytes);
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessage(file + ": footer length 65535 does not fit the file's " + bytes.length + " bytes");
    }

    @Test
    void truncatedPageWithTheFooterIntact() throws Exception {
        // Cut 40 bytes out of the middle of the data: the footer's offsets now point past the pages.
        byte[] bytes = fixture("hellaswag.parquet");
        int footerStart = bytes.length - 8 - footerLength(bytes);
        byte[] cut = new byte[bytes.length - 40];
        System.arraycopy(bytes, 0, cut, 0, footerStart - 60);
        System.arraycopy(bytes, footerStart - 20, cut, footerStart - 60, bytes.length - footerStart + 20);
        Path file = save(cut);
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessageStartingWith(file + ": row group 0: column ");
    }

    @Test
    void thriftGarbageInTheFooter() throws Exception {
        byte[] bytes = fixture("mmlu.parquet");
        int length = footerLength(bytes);
        int start = bytes.length - 8 - length;
        java.util.Random random = new java.util.Random(42);
        for (int i = start; i < start + length; i++) {
            bytes[i] = (byte) random.nextInt(256);
        }
        Path file = save(bytes);
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessageStartingWith(file + ": corrupt footer: ");
    }

    @Test
    void everySingleFooterByteFlipIsReportedOrHarmless() throws Exception {
        // Flipping a footer byte must give the named exception, or (where the byte is a name, a statistic
        // or an unused field) still a successful read; nothing else may escape.
        for (String name : FIXTURES) {
            byte[] original = fixture(name);
            int length = footerLength(original);
            int start = original.length - 8 - length;
            for (int i = start; i < original.length; i++) {
                byte[] bytes = original.clone();
                bytes[i] ^= (byte) 0xFF;
                readOrNamedError(save(bytes), name + " byte " + i);
            }
        }
    }

    @Test
    void flippedFooterBytesInStructuralFieldsAreCaught() throws Exception {
        // The row count is a structural field: change the footer's num_rows and the file no longer adds up.
        byte[] bytes = fixture("arc.parquet");
        ParquetMetadata.FileMetaData footer = PageInspector.footer(ParquetFixturesTest.fixture("arc.parquet"));
        assertThat(footer.numRows()).isEqualTo(4);
        // num_rows (field 3, i64 zigzag 4 = 0x08) directly follows the schema list: find "0x16 0x08".
        int start = bytes.length - 8 - footerLength(bytes);
        int at = -1;
        for (int i = start; i < bytes.length - 9; i++) {
            if (bytes[i] == 0x16 && bytes[i + 1] == 0x08 && bytes[i + 2] == 0x19) {
                at = i + 1;
            }
        }
        assertThat(at).as("num_rows field found").isPositive();
        bytes[at] = 0x0A; // 5 rows
        Path file = save(bytes);
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessage(file + ": the footer says 5 rows, the row groups hold 4");
    }

    @Property(tries = 300)
    void randomDamageAnywhereIsReportedOrHarmless(@ForAll("damage") Damage damage) throws Exception {
        byte[] bytes = fixture(damage.fixture()).clone();
        int position = (int) (damage.where() * bytes.length);
        bytes[Math.min(position, bytes.length - 1)] ^= (byte) damage.mask();
        Path file = Files.createTempFile("damaged", ".parquet");
        try {
            Files.write(file, bytes);
            readOrNamedError(file, damage.toString());
        } finally {
            Files.delete(file);
        }
    }

    record Damage(String fixture, double where, int mask) {
    }

    @Provide
    Arbitrary<Damage> damage() {
        return Combinators.combine(Arbitraries.of(FIXTURES), Arbitraries.doubles().between(0, 1),
                Arbitraries.integers().between(1, 255)).as(Damage::new);
    }

    private static void readOrNamedError(Path file, String what) {
        try {
            ParquetReader.readRows(file);
        } catch (ParquetFormatException e) {
            assertThat(e.getMessage()).as(what).startsWith(file.toString() + ": ");
        } catch (Throwable t) {
            throw new AssertionError(what + ": unexpected " + t, t);
        }
    }
}
