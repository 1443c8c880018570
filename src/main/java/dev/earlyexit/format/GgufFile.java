package dev.earlyexit.format;

import dev.earlyexit.tensor.GgmlType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.BufferUnderflowException;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A GGUF file (v2 and v3): its metadata and tensor infos, with the tensors' bytes memory-mapped on
 * demand. Every count and size is checked against the file's length before anything is allocated, so
 * a corrupt or truncated file gives one {@link ModelFormatException} naming what is wrong.
 *
 * <p>Metadata values are kept as Java values: integers of every width as {@link Long}, f32 as
 * {@link Float}, f64 as {@link Double}, bool as {@link Boolean}, string as {@link String}; arrays as
 * {@code long[]}, {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]} or, for arrays
 * of arrays, {@code Object[]}.
 */
public final class GgufFile {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian int32
    private static final long DEFAULT_ALIGNMENT = 32;

    /** One tensor: name, dims innermost first (a [rows, cols] matrix has dims [cols, rows]), absolute offset. */
    public record TensorInfo(String name, long[] dims, GgmlType type, long offset, long bytes) {
        public long elements() {
            long n = 1;
            for (long d : dims) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    private final Path path;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long alignment;
    private final long dataStart;
    private final FileChannel channel;
    /** The whole file when it was small enough to read (see {@link #SMALL_FILE}), else null: tensors are mapped. */
    private final ByteBuffer smallFileOrNull;

    private GgufFile(Path path, int version, Map<String, Object> metadata, Map<String, TensorInfo> tensors,
                     long alignment, long dataStart, FileChannel channel, ByteBuffer smallFileOrNull) {
        this.path = path;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.alignment = alignment;
        this.dataStart = dataStart;
        this.channel = channel;
        this.smallFileOrNull = smallFileOrNull;
    }

    /** Whether the file starts with GGUF's magic (how the resolver tells a GGUF from other files). */
    public static boolean hasMagic(Path file) {
        if (!Files.isRegularFile(file)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // fill
            }
            return !b.hasRemaining() && b.getInt(0) == MAGIC;
        } catch (IOException e) {
            return false;
        }
    }

    private static final long SMALL_FILE = 1 << 20;

    public static GgufFile open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            return parse(path, ch);
        } catch (RuntimeException | IOException e) {
            ch.close();
            throw e;
        }
    }

    private static GgufFile parse(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        // The header (metadata, vocabularies) must fit one mapping; the tensors are mapped one by one.
        // A small file is read instead (and its tensors sliced from it): a mapping outlives close() until
        // a collection, and rewriting a still-mapped file, as the fuzzer does per input, costs a millisecond.
        ByteBuffer b;
        if (size <= SMALL_FILE) {
            b = ByteBuffer.allocate((int) size);
            while (b.hasRemaining() && ch.read(b, b.position()) >= 0) {
                // fill
            }
            b.flip();
            size = b.limit(); // a file that shrank while being read is checked as what was read
        } else {
            b = ch.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(size, Integer.MAX_VALUE - 8));
        }
        b.order(ByteOrder.LITTLE_ENDIAN);
        Cursor in = new Cursor(path, b);
        if (size < 4 || b.getInt(0) != MAGIC) {
            throw new ModelFormatException(path + ": not a GGUF file (wrong magic)");
        }
        in.b.position(4);
        int version = in.i32("version");
        if (version != 2 && version != 3) {
            throw new ModelFormatException(path + ": GGUF version " + version + " is not supported (only 2 and 3 are)");
        }
        long tensorCount = in.count("tensor count", 8 + 8 + 4 + 8); // name length, n_dims, one dim, type, offset
        long kvCount = in.count("metadata count", 8 + 4 + 1);
        Map<String, Object> md = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("metadata key " + i);
            int type = in.i32("type of " + key);
            md.put(key, in.value(type, key, 0));
        }
        long alignment = DEFAULT_ALIGNMENT;
        Object a = md.get("general.alignment");
        if (a != null) {
            if (!(a instanceof Long) || (Long) a <= 0 || Long.bitCount((Long) a) != 1) {
                throw new ModelFormatException(path + ": general.alignment " + a + " is not a positive power of two");
            }
            alignment = (Long) a;
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        long[] rawOffsets = new long[(int) tensorCount];
        TensorInfo[] infos = new TensorInfo[(int) tensorCount];
        for (int i = 0; i < tensorCount; i++) {
            String name = in.string("tensor name " + i);
            int nDims = in.i32("dimension count of " + name);
            if (nDims < 1 || nDims > 4) {
                throw new ModelFormatException(path + ": tensor " + name + " has " + nDims + " dimensions (1 to 4 allowed)");
            }
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = in.i64("dimension of " + name);
                if (dims[d] <= 0 || dims[d] > size) {
                    throw new ModelFormatException(path + ": tensor " + name + " has dimension " + dims[d]);
                }
            }
            int typeId = in.i32("type of " + name);
            GgmlType type;
            try {
                type = GgmlType.byId(typeId);
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(path + ": tensor " + name + " has unknown ggml type id " + typeId);
            }
            long offset = in.i64("offset of " + name);
            long elements;
            long bytes;
            try {
                elements = 1;
                for (long d : dims) {
                    elements = Math.multiplyExact(elements, d);
                }
                if (dims[0] % type.blockSize() != 0) {
                    throw new ModelFormatException(path + ": tensor " + name + ": rows of " + dims[0] + " values are not a "
                            + "whole number of " + type.ggmlName() + " blocks (" + type.blockSize() + " values)");
                }
                bytes = type.bytesFor(elements);
            } catch (ArithmeticException e) {
                throw new ModelFormatException(path + ": tensor " + name + " is impossibly large");
            }
            if (tensors.containsKey(name)) {
                throw new ModelFormatException(path + ": tensor " + name + " appears twice");
            }
            rawOffsets[i] = offset;
            infos[i] = new TensorInfo(name, dims, type, offset, bytes);
            tensors.put(name, infos[i]);
        }
        long dataStart = (in.b.position() + alignment - 1) / alignment * alignment;
        for (int i = 0; i < tensorCount; i++) {
            TensorInfo t = infos[i];
            if (rawOffsets[i] < 0 || rawOffsets[i] % alignment != 0) {
                throw new ModelFormatException(path + ": tensor " + t.name() + " has offset " + rawOffsets[i]
                        + ", not a multiple of the alignment " + alignment);
            }
            long abs = dataStart + rawOffsets[i];
            if (abs < 0 || abs + t.bytes() > size || abs + t.bytes() < 0) {
                throw new ModelFormatException(path + ": truncated GGUF: tensor " + t.name() + " (" + t.type().ggmlName()
                        + ", " + t.bytes() + " bytes at " + abs + ") runs past the end of the file (" + size + " bytes)");
            }
            TensorInfo placed = new TensorInfo(t.name(), t.dims(), t.type(), abs, t.bytes());
            tensors.put(t.name(), placed);
        }
        return new GgufFile(path, version, Collections.unmodifiableMap(md), Collections.unmodifiableMap(tensors),
                alignment, dataStart, ch, size <= SMALL_FILE ? b : null);
    }

    /** Reads little-endian values, turning every overrun into a message naming what was being read. */
    private static final class Cursor {
        final Path path;
        final ByteBuffer b;
        final java.nio.charset.CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        /** A string's bytes, reused from one string to the next. */
        private byte[] bytes = new byte[256];

        Cursor(Path path, ByteBuffer b) {
            this.path = path;
            this.b = b;
        }

        private void need(long bytes, String what) {
            if (bytes < 0 || bytes > b.remaining()) {
                throw new ModelFormatException(path + ": truncated GGUF: " + what + " needs " + bytes + " bytes at byte "
                        + b.position() + ", " + b.remaining() + " left");
            }
        }

        int i32(String what) {
            need(4, what);
            return b.getInt();
        }

        long i64(String what) {
            need(8, what);
            return b.getLong();
        }

        /** A u64 count of items each at least {@code minBytes} long: checked against what is left. */
        long count(String what, long minBytes) {
            long n = i64(what);
            if (n < 0 || n > b.remaining() / Math.max(1, minBytes)) {
                throw new ModelFormatException(path + ": corrupt or truncated GGUF: " + what + " " + Long.toUnsignedString(n)
                        + " does not fit in the " + b.remaining() + " bytes left");
            }
            return n;
        }

        String string(String what) {
            return string(what, -1);
        }

        /** What element {@code index} of array {@code key} is called in a message (index -1: the key itself). */
        private static String element(String key, int index) {
            return index < 0 ? key : key + "[" + index + "]";
        }

        /**
         * A string value, or element {@code index} of a string array: a vocabulary has 128k tokens and 280k
         * merges, so the name for a message is built only on error, and an all-ASCII string (most of them)
         * skips the UTF-8 decoder (this halved the header's parse time on a Llama-3 vocabulary).
         */
        String string(String key, int index) {
            if (b.remaining() < 8) {
                need(8, "length of " + element(key, index));
            }
            long len = b.getLong();
            if (len < 0 || len > b.remaining()) {
                need(len, element(key, index));
            }
            int n = (int) len;
            if (bytes.length < n) {
                bytes = new byte[Math.max(n, 2 * bytes.length)];
            }
            b.get(b.position(), bytes, 0, n);
            b.position(b.position() + n);
            int i = 0;
            while (i < n && bytes[i] >= 0) {
                i++;
            }
            if (i == n) {
                return new String(bytes, 0, n, StandardCharsets.ISO_8859_1); // ASCII: the same characters
            }
            try {
                return utf8.decode(ByteBuffer.wrap(bytes, 0, n)).toString();
            } catch (CharacterCodingException e) {
                throw new ModelFormatException(path + ": corrupt GGUF: " + element(key, index) + " is not valid UTF-8");
            }
        }

        Object value(int type, String key, int depth) {
            try {
                switch (type) {
                    case 0: return (long) (b.get() & 0xFF);
                    case 1: return (long) b.get();
                    case 2: return (long) (b.getShort() & 0xFFFF);
                    case 3: return (long) b.getShort();
                    case 4: return b.getInt() & 0xFFFFFFFFL;
                    case 5: return (long) b.getInt();
                    case 6: return b.getFloat();
                    case 7: return b.get() != 0;
                    case 8: return string(key);
                    case 9: return array(key, depth);
                    case 10: case 11: return b.getLong();
                    case 12: return b.getDouble();
                    default:
                        throw new ModelFormatException(path + ": metadata " + key + " has unknown value type " + type);
                }
            } catch (BufferUnderflowException e) {
                throw new ModelFormatException(path + ": truncated GGUF: metadata " + key + " runs past the end of the file");
            }
        }

        private Object array(String key, int depth) {
            if (depth > 4) {
                throw new ModelFormatException(path + ": metadata " + key + " nests arrays too deeply");
            }
            int type = i32("element type of " + key);
            int width = switch (type) {
                case 0, 1, 7 -> 1;
                case 2, 3 -> 2;
                case 4, 5, 6 -> 4;
                case 10, 11, 12, 8 -> 8; // a string takes at least its 8-byte length
                case 9 -> 12;
                default -> throw new ModelFormatException(path + ": metadata " + key + " is an array of unknown type " + type);
            };
            int n = (int) count("length of array " + key, width);
            switch (type) {
                case 6: {
                    float[] a = new float[n];
                    b.asFloatBuffer().get(a);
                    b.position(b.position() + 4 * n);
                    return a;
                }
                case 12: {
                    double[] a = new double[n];
                    for (int i = 0; i < n; i++) a[i] = b.getDouble();
                    return a;
                }
                case 7: {
                    boolean[] a = new boolean[n];
                    for (int i = 0; i < n; i++) a[i] = b.get() != 0;
                    return a;
                }
                case 8: {
                    String[] a = new String[n];
                    for (int i = 0; i < n; i++) a[i] = string(key, i);
                    return a;
                }
                case 9: {
                    Object[] a = new Object[n];
                    for (int i = 0; i < n; i++) a[i] = array(key + "[" + i + "]", depth + 1);
                    return a;
                }
                case 5: { // int32: token types, with a vocabulary's length
                    long[] a = new long[n];
                    for (int i = 0; i < n; i++) a[i] = b.getInt();
                    return a;
                }
                default: {
                    long[] a = new long[n];
                    for (int i = 0; i < n; i++) a[i] = (Long) value(type, key, depth);
                    return a;
                }
            }
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public long alignment() {
        return alignment;
    }

    public long dataStart() {
        return dataStart;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Optional<TensorInfo> tensor(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** The tensor's bytes, memory-mapped (read-only, little-endian); a slice of the bytes read for a small file. */
    public ByteBuffer data(TensorInfo t) throws IOException {
        if (t.bytes() > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(path + ": tensor " + t.name() + " is over 2 GiB, more than one buffer holds");
        }
        if (smallFileOrNull != null) {
            return smallFileOrNull.slice((int) t.offset(), (int) t.bytes()).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        return channel.map(FileChannel.MapMode.READ_ONLY, t.offset(), t.bytes()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Copies {@code dst.remaining()} bytes of the tensor, from {@code offset} bytes into it, into {@code dst}
     * (whose position then stands at its limit). Unlike {@link #data}, nothing stays mapped: a loader that
     * repacks the weights into its own arrays keeps only those in memory, not the file's pages too.
     */
    public void read(TensorInfo t, long offset, ByteBuffer dst) throws IOException {
        if (offset < 0 || offset + dst.remaining() > t.bytes()) {
            throw new IllegalArgumentException("bytes [" + offset + ", " + (offset + dst.remaining()) + ") of tensor "
                    + t.name() + " (" + t.bytes() + " bytes)");
        }
        long at = t.offset() + offset;
        if (smallFileOrNull != null) {
            dst.put(smallFileOrNull.slice((int) at, dst.remaining()));
            return;
        }
        while (dst.hasRemaining()) {
            int n = channel.read(dst, at);
            if (n < 0) {
                throw new ModelFormatException(path + ": the file ended while reading tensor " + t.name()
                        + " (was it truncated while open?)");
            }
            at += n;
        }
    }

    public void close() throws IOException {
        channel.close();
    }

    // ---- typed metadata access, each failing with a message naming the key ----

    public Optional<Object> value(String key) {
        return Optional.ofNullable(metadata.get(key));
    }

    public long integer(String key) {
        Object v = metadata.get(key);
        if (v == null) {
            throw new ModelFormatException(path + ": GGUF metadata lacks " + key);
        }
        if (!(v instanceof Long)) {
            throw new ModelFormatException(path + ": GGUF metadata " + key + " is not an integer: " + v);
        }
        return (Long) v;
    }

    public long integer(String key, long fallback) {
        return metadata.containsKey(key) ? integer(key) : fallback;
    }

    public double number(String key, double fallback) {
        Object v = metadata.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Float f) {
            return f;
        }
        if (v instanceof Double d) {
            return d;
        }
        if (v instanceof Long l) {
            return l;
        }
        throw new ModelFormatException(path + ": GGUF metadata " + key + " is not a number: " + v);
    }

    public Optional<String> string(String key) {
        Object v = metadata.get(key);
        if (v != null && !(v instanceof String)) {
            throw new ModelFormatException(path + ": GGUF metadata " + key + " is not a string");
        }
        return Optional.ofNullable((String) v);
    }

    public boolean bool(String key, boolean fallback) {
        Object v = metadata.get(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Boolean)) {
            throw new ModelFormatException(path + ": GGUF metadata " + key + " is not a bool");
        }
        return (Boolean) v;
    }

    @SuppressWarnings("unchecked")
    public <T> Optional<T> array(String key, Class<T> type) {
        Object v = metadata.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (!type.isInstance(v)) {
            throw new ModelFormatException(path + ": GGUF metadata " + key + " is not an array of the expected type");
        }
        return Optional.of((T) v);
    }
}
