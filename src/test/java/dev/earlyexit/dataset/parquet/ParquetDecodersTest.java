package dev.earlyexit.dataset.parquet;

import io.airlift.compress.snappy.SnappyCompressor;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The building blocks on their own: Thrift compact decoding, Snappy, the hybrid and delta encodings. */
class ParquetDecodersTest {
    private static ParquetMetadata.FileMetaData parseFooter(byte[] bytes) {
        return ParquetMetadata.readFileMetaData(new ThriftCompactReader(ByteSlice.of(bytes)));
    }

    /** A minimal FileMetaData: one optional UTF8 column "s", no row groups, plus {@code extra} fields. */
    private static byte[] footer(java.util.function.Consumer<ThriftCompactWriter> extra) {
        ThriftCompactWriter t = new ThriftCompactWriter().structBegin();
        t.i32(1, 2);
        t.listHeader(2, ThriftCompactReader.STRUCT, 2);
        t.structBegin().string(4, "schema").i32(5, 1).structEnd();
        t.structBegin().i32(1, ParquetMetadata.TYPE_BYTE_ARRAY).i32(3, ParquetMetadata.OPTIONAL).string(4, "s")
                .i32(6, ParquetMetadata.CONVERTED_UTF8).structEnd();
        t.i64(3, 0);
        t.listHeader(4, ThriftCompactReader.STRUCT, 0);
        extra.accept(t);
        return t.structEnd().toByteArray();
    }

    @Test
    void unknownFootersFieldsOfEveryTypeAreSkipped() {
        byte[] bytes = footer(t -> {
            t.bool(20, true).bool(21, false);
            t.field(22, ThriftCompactReader.BYTE).raw(0x7F);
            t.field(23, ThriftCompactReader.I16).zigzag(-300);
            t.i32(24, 123456).i64(25, -1L << 40);
            t.field(26, ThriftCompactReader.DOUBLE).raw(0, 0, 0, 0, 0, 0, 0xF0, 0x3F);
            t.string(27, "key-value metadata, say");
            // A list of 20 structs (the long list header form), each with a nested list of booleans.
            t.listHeader(28, ThriftCompactReader.STRUCT, 20);
            for (int i = 0; i < 20; i++) {
                t.structBegin().listHeader(1, ThriftCompactReader.BOOLEAN_TRUE, 3).raw(1, 2, 1).structEnd();
            }
            // A set of i32 and a map string -> struct.
            t.field(29, ThriftCompactReader.SET).listHeader(ThriftCompactReader.I32, 2).zigzag(5).zigzag(6);
            t.field(30, ThriftCompactReader.MAP).varint(2).raw(ThriftCompactReader.BINARY << 4 | ThriftCompactReader.STRUCT);
            for (String key : List.of("a", "b")) {
                t.binary(key.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                t.structBegin().i32(1, 1).structEnd();
            }
            t.field(31, ThriftCompactReader.MAP).varint(0);
            // A field id far from the last one needs the long field header.
            t.field(1000, ThriftCompactReader.STRUCT).structBegin().string(7, "nested").structEnd();
        });
        ParquetMetadata.FileMetaData footer = parseFooter(bytes);
        assertThat(footer.schema()).extracting(ParquetMetadata.SchemaElement::name).containsExactly("schema", "s");
        assertThat(footer.schema().get(1).convertedType()).isEqualTo(ParquetMetadata.CONVERTED_UTF8);
        assertThat(footer.rowGroups()).isEmpty();
    }

    @Test
    void missingRequiredFieldIsNamed() {
        byte[] bytes = new ThriftCompactWriter().structBegin().i32(1, 1).structEnd().toByteArray();
        assertThatThrownBy(() -> parseFooter(bytes))
                .isInstanceOf(ParquetDataException.class)
                .hasMessage("Thrift metadata lacks the required field FileMetaData.schema");
    }

    @Test
    void fieldOfTheWrongTypeIsRefused() {
        byte[] bytes = new ThriftCompactWriter().structBegin().string(1, "not a version").structEnd().toByteArray();
        assertThatThrownBy(() -> parseFooter(bytes))
                .isInstanceOf(ParquetDataException.class)
                .hasMessageContaining("FileMetaData.version has type 8, expected 5");
    }

    @Test
    void deeplyNestedGarbageIsRefusedWithoutOverflowingTheStack() {
        ThriftCompactWriter t = new ThriftCompactWriter().structBegin().i32(1, 1);
        // Field 10 (unknown, so skipped) holds a struct whose field 1 holds a struct, 10,000 deep.
        t.field(10, ThriftCompactReader.STRUCT).structBegin();
        for (int i = 0; i < 10_000; i++) {
            t.field(1, ThriftCompactReader.STRUCT).structBegin();
        }
        byte[] built = t.toByteArray();
        assertThatThrownBy(() -> parseFooter(built))
                .isInstanceOf(ParquetDataException.class)
                .hasMessageContaining("nested deeper than");
    }

    @Test
    void listLongerThanItsBytesIsRefusedBeforeAllocating() {
        byte[] bytes = new ThriftCompactWriter().structBegin().i32(1, 1)
                .listHeader(2, ThriftCompactReader.STRUCT, 2_000_000_000).toByteArray();
        assertThatThrownBy(() -> parseFooter(bytes))
                .isInstanceOf(ParquetDataException.class)
                .hasMessageContaining("claims 2000000000 elements");
    }

    @Property(tries = 200)
    void snappyDecompressesWhatAnotherImplementationCompressed(@ForAll("compressible") byte[] data) {
        SnappyCompressor compressor = new SnappyCompressor();
        byte[] compressed = new byte[compressor.maxCompressedLength(data.length)];
        int n = compressor.compress(data, 0, data.length, compressed, 0, compressed.length);
        assertThat(Snappy.decompress(compressed, 0, n, data.length)).isEqualTo(data);
    }

    @Provide
    Arbitrary<byte[]> compressible() {
        // Few distinct bytes and repeated chunks, so the compressor emits copies (also overlapping ones).
        Arbitrary<byte[]> chunk = Arbitraries.bytes().between((byte) 'a', (byte) 'e').array(byte[].class).ofMaxSize(40);
        return chunk.list().ofMaxSize(300).flatMap(chunks -> Arbitraries.integers().between(1, 5).map(repeat -> {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            for (byte[] c : chunks) {
                for (int r = 0; r < repeat; r++) {
                    out.writeBytes(c);
                }
            }
            return out.toByteArray();
        }));
    }

    @Property(tries = 300)
    void damagedSnappyIsReportedNeverOverrun(@ForAll("compressible") byte[] data, @ForAll double where,
                                             @ForAll byte mask) {
        SnappyCompressor compressor = new SnappyCompressor();
        byte[] compressed = new byte[compressor.maxCompressedLength(data.length)];
        int n = compressor.compress(data, 0, data.length, compressed, 0, compressed.length);
        int at = (int) (Math.abs(where) % 1.0 * n);
        compressed[Math.min(at, n - 1)] ^= mask;
        try {
            byte[] out = Snappy.decompress(compressed, 0, n, data.length);
            assertThat(out).hasSize(data.length);
        } catch (ParquetDataException expected) {
            assertThat(expected.getMessage()).containsIgnoringCase("snappy");
        }
    }

    @Test
    void snappyBackReferenceBeforeTheStartIsRefused() {
        // Length 8, then a 2-byte-offset copy of 4 bytes from offset 1 with nothing written yet.
        byte[] block = {8, (byte) (3 << 2 | 2), 1, 0};
        assertThatThrownBy(() -> Snappy.decompress(block, 0, block.length, 8))
                .isInstanceOf(ParquetDataException.class)
                .hasMessageContaining("back-reference");
    }

    @Test
    void hybridDecodesTheSpecExamples() {
        // Bit-packed run of 0..7 at width 3 (the example in Encodings.md), then an RLE run of five 6s.
        byte[] data = {0x03, (byte) 0b10001000, (byte) 0b11000110, (byte) 0b11111010, 0x0A, 0x06};
        int[] out = new int[13];
        RleBitPackedHybrid.decode(ByteSlice.of(data), 3, out, 13);
        assertThat(out).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 6, 6, 6, 6, 6);
    }

    @Test
    void hybridRefusesRunsBeyondItsData() {
        byte[] data = {0x05, 0x01}; // two bit-packed groups of width 3 need 6 bytes
        assertThatThrownBy(() -> RleBitPackedHybrid.decode(ByteSlice.of(data), 3, new int[16], 16))
                .isInstanceOf(ParquetDataException.class)
                .hasMessageContaining("truncated bit-packed run");
    }

    @Test
    void deltaBinaryPackedDecodesConstantAndMixedDeltas() {
        // 1..5: block 128 of 4 miniblocks, 5 values, first 1; min delta 1, all widths 0.
        byte[] constant = {(byte) 0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
        assertThat(DeltaEncodings.decodeBinaryPacked(ByteSlice.of(constant), 5)).containsExactly(1, 2, 3, 4, 5);

        // 7 5 3 1 2 3 4 5: deltas -2 -2 -2 1 1 1 1, min -2, offsets 0 0 0 3 3 3 3 at width 2 in one
        // 32-value miniblock (8 bytes).
        byte[] mixed = {(byte) 0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 2, 0, 0, 0,
            (byte) 0b11000000, (byte) 0b11111111, 0, 0, 0, 0, 0, 0};
        ByteSlice in = ByteSlice.of(mixed);
        assertThat(DeltaEncodings.decodeBinaryPacked(in, 8)).containsExactly(7, 5, 3, 1, 2, 3, 4, 5);
        assertThat(in.remaining()).isZero();
    }

    @Test
    void deltaBinaryPackedWrapsAt64Bits() {
        // Long.MIN_VALUE then Long.MAX_VALUE: the delta -1 wraps, as the encoding requires.
        ThriftCompactWriter w = new ThriftCompactWriter();
        w.varint(128).varint(4).varint(2).zigzag(Long.MIN_VALUE).zigzag(-1).raw(0, 0, 0, 0);
        assertThat(DeltaEncodings.decodeBinaryPacked(ByteSlice.of(w.toByteArray()), 2))
                .containsExactly(Long.MIN_VALUE, Long.MAX_VALUE);
    }

    @Test
    void deltaByteArrayRebuildsPrefixes() {
        // "apple", "applesauce", "apply": prefixes 0 5 4, suffixes "apple" "sauce" "y".
        ThriftCompactWriter w = new ThriftCompactWriter();
        w.varint(128).varint(4).varint(3).zigzag(0).zigzag(-1).raw(3, 0, 0, 0);
        // prefix deltas +5, -1 -> min -1, offsets 6 0 (width 3): 32 values * 3 bits = 12 bytes.
        w.raw(6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        // suffix lengths 5 5 1: deltas 0 -4, min -4, offsets 4 0 (width 3).
        w.varint(128).varint(4).varint(3).zigzag(5).zigzag(-4).raw(3, 0, 0, 0);
        w.raw(4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        w.raw('a', 'p', 'p', 'l', 'e', 's', 'a', 'u', 'c', 'e', 'y');
        byte[][] values = DeltaEncodings.decodeByteArray(ByteSlice.of(w.toByteArray()), 3);
        assertThat(Arrays.stream(values).map(String::new)).containsExactly("apple", "applesauce", "apply");
    }
}
