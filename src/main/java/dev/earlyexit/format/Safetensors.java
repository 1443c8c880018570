package dev.earlyexit.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads safetensors checkpoints: one {@code *.safetensors} file, or a sharded set described by a
 * {@code model.safetensors.index.json} ({@code weight_map}: tensor name -> shard file).
 *
 * <p>A file is an 8-byte little-endian header length, a JSON header (per tensor: dtype, shape and
 * [begin, end) offsets into the data section that follows; an optional {@code __metadata__} string
 * map), then the data. Every header is validated when opened (offsets inside the data, sizes equal
 * to shape x dtype size, no overlaps), so a bad file fails before any weight is read. Tensors are
 * read through one small reusable buffer with positional reads: no memory map, and no copy of the
 * file is kept besides the float arrays handed out. Reads share that buffer: one thread at a time.
 */
public final class Safetensors implements AutoCloseable {
    /** The spec's 100 MB header limit: larger is a corrupt length, not a real header. */
    private static final long MAX_HEADER_BYTES = 100L << 20;
    private static final int CHUNK_BYTES = 1 << 20;
    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String SINGLE_FILE = "model.safetensors";

    /** Element types of the safetensors spec; only the float ones can be read as floats. */
    public enum TensorType {
        F64(8, true), F32(4, true), F16(2, true), BF16(2, true),
        I64(8, false), I32(4, false), I16(2, false), I8(1, false),
        U64(8, false), U32(4, false), U16(2, false), U8(1, false),
        BOOL(1, false), F8_E4M3(1, false), F8_E5M2(1, false);

        private final int bytes;
        private final boolean floating;

        TensorType(int bytes, boolean floating) {
            this.bytes = bytes;
            this.floating = floating;
        }

        public int bytes() {
            return bytes;
        }

        public boolean floating() {
            return floating;
        }
    }

    /** One tensor of a file: its type, shape and absolute byte range [begin, end) in that file. */
    public record TensorInfo(String name, Path file, TensorType type, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        public String shapeString() {
            return Arrays.toString(shape);
        }
    }

    private final Path source;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final Map<Path, FileChannel> channels;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    private Safetensors(Path source, Map<String, TensorInfo> tensors, Map<String, String> metadata,
                        Map<Path, FileChannel> channels) {
        this.source = source;
        this.tensors = tensors;
        this.metadata = metadata;
        this.channels = channels;
    }

    /**
     * Opens a safetensors file, an index json, or a directory holding either
     * {@value #INDEX_FILE} or {@value #SINGLE_FILE}.
     */
    public static Safetensors open(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path index = path.resolve(INDEX_FILE);
            Path single = path.resolve(SINGLE_FILE);
            if (Files.isRegularFile(index)) {
                return openIndex(index);
            }
            if (Files.isRegularFile(single)) {
                return openFiles(single, List.of(single), null);
            }
            boolean pickle = Files.isRegularFile(path.resolve("pytorch_model.bin"))
                    || Files.isRegularFile(path.resolve("pytorch_model.bin.index.json"));
            throw new ModelFormatException(path + ": no " + SINGLE_FILE + " or " + INDEX_FILE + " in the directory"
                    + (pickle ? " (PyTorch .bin weights are not read: convert them to safetensors)" : ""));
        }
        if (!Files.isRegularFile(path)) {
            throw new ModelFormatException(path + ": no such file");
        }
        if (path.getFileName().toString().endsWith(".json")) {
            return openIndex(path);
        }
        return openFiles(path, List.of(path), null);
    }

    private static Safetensors openIndex(Path index) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(index + ": malformed index JSON: " + e.getOriginalMessage(), e);
        } catch (java.io.CharConversionException e) {
            // Jackson guesses UTF-16/32 from the first bytes; bytes invalid in that encoding are not an I/O failure
            throw new ModelFormatException(index + ": malformed index JSON: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new ModelFormatException(index + ": the index has no weight_map object");
        }
        Map<String, Path> weightMap = new LinkedHashMap<>();
        List<Path> shards = new ArrayList<>();
        Path dir = index.toAbsolutePath().getParent();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException(index + ": weight_map entry '" + e.getKey() + "' is not a file name");
            }
            String fileName = e.getValue().asText();
            Path shard = dir.resolve(fileName).normalize();
            // A shard name that climbs out of the checkpoint directory is a malformed (or hostile) index.
            if (!shard.startsWith(dir) || fileName.isEmpty()) {
                throw new ModelFormatException(index + ": weight_map entry '" + e.getKey() + "' names a file outside the checkpoint: "
                        + fileName);
            }
            if (!Files.isRegularFile(shard)) {
                throw new ModelFormatException(index + ": shard " + fileName + " (for tensor '" + e.getKey() + "') is missing");
            }
            weightMap.put(e.getKey(), shard);
            if (!shards.contains(shard)) {
                shards.add(shard);
            }
        }
        return openFiles(index, shards, weightMap);
    }

    private static Safetensors openFiles(Path source, List<Path> files, Map<String, Path> weightMap) throws IOException {
        Map<String, TensorInfo> all = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<Path, FileChannel> channels = new LinkedHashMap<>();
        try {
            for (Path f : files) {
                FileChannel ch = FileChannel.open(f, StandardOpenOption.READ);
                channels.put(f, ch);
                Header h = readHeader(f, ch);
                metadata.putAll(h.metadata);
                for (TensorInfo t : h.tensors) {
                    if (weightMap != null && !f.equals(weightMap.get(t.name()))) {
                        continue; // a tensor the index assigns elsewhere (or not at all) is not part of the model
                    }
                    if (all.putIfAbsent(t.name(), t) != null) {
                        throw new ModelFormatException(f + ": tensor '" + t.name() + "' appears in more than one shard");
                    }
                }
            }
            if (weightMap != null) {
                for (Map.Entry<String, Path> e : weightMap.entrySet()) {
                    if (!all.containsKey(e.getKey())) {
                        throw new ModelFormatException(source + ": the index puts tensor '" + e.getKey() + "' in "
                                + e.getValue().getFileName() + ", but that shard does not contain it");
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            for (FileChannel ch : channels.values()) {
                ch.close();
            }
            throw e;
        }
        return new Safetensors(source, Collections.unmodifiableMap(all), Collections.unmodifiableMap(metadata), channels);
    }

    private record Header(List<TensorInfo> tensors, Map<String, String> metadata) {
    }

    private static Header readHeader(Path f, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new ModelFormatException(f + ": not a safetensors file: only " + size + " bytes");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(f, ch, lenBuf, 0);
        long headerLen = lenBuf.getLong(0);
        if (headerLen < 0 || headerLen > size - 8) {
            throw new ModelFormatException(f + ": header length " + Long.toUnsignedString(headerLen)
                    + " is beyond the file size of " + size + " bytes");
        }
        if (headerLen > MAX_HEADER_BYTES) {
            throw new ModelFormatException(f + ": header length " + headerLen + " exceeds the 100 MB limit");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        readFully(f, ch, hb, 8);
        String json = new String(hb.array(), StandardCharsets.UTF_8);
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(f + ": malformed header JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(f + ": malformed header JSON: not an object");
        }
        long dataStart = 8 + headerLen;
        long dataSize = size - dataStart;
        List<TensorInfo> list = new ArrayList<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new ModelFormatException(f + ": __metadata__ is not an object");
                }
                for (Map.Entry<String, JsonNode> kv : v.properties()) {
                    if (!kv.getValue().isTextual()) {
                        throw new ModelFormatException(f + ": __metadata__ value '" + kv.getKey() + "' is not a string");
                    }
                    metadata.put(kv.getKey(), kv.getValue().asText());
                }
                continue;
            }
            list.add(tensorInfo(f, name, v, dataStart, dataSize));
        }
        // Tensors must not share bytes: sorted by start, each begins at or after the previous end.
        List<TensorInfo> sorted = new ArrayList<>(list);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo prev = sorted.get(i - 1);
            TensorInfo cur = sorted.get(i);
            if (cur.begin() < prev.end()) {
                throw new ModelFormatException(f + ": tensors '" + prev.name() + "' and '" + cur.name()
                        + "' have overlapping data offsets");
            }
        }
        return new Header(list, metadata);
    }

    private static TensorInfo tensorInfo(Path f, String name, JsonNode v, long dataStart, long dataSize) {
        String where = f + ": tensor '" + name + "'";
        if (!v.isObject()) {
            throw new ModelFormatException(where + ": entry is not an object");
        }
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new ModelFormatException(where + ": missing dtype");
        }
        TensorType type;
        try {
            type = TensorType.valueOf(dt.asText().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(where + ": unknown dtype '" + dt.asText() + "'");
        }
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new ModelFormatException(where + ": missing shape");
        }
        long[] shape = new long[sh.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new ModelFormatException(where + ": invalid shape " + sh);
            }
            shape[i] = d.asLong();
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException overflow) {
                throw new ModelFormatException(where + ": shape " + sh + " is too large");
            }
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
                || !off.get(1).isIntegralNumber() || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw new ModelFormatException(where + ": data_offsets must be two integers, got " + off);
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw new ModelFormatException(where + ": invalid data_offsets [" + begin + ", " + end + "]");
        }
        if (end > dataSize) {
            throw new ModelFormatException(where + ": data_offsets [" + begin + ", " + end
                    + "] are out of range: the data section has " + dataSize + " bytes (truncated file?)");
        }
        long expected = elements > Long.MAX_VALUE / type.bytes() ? -1 : elements * type.bytes();
        if (end - begin != expected) {
            throw new ModelFormatException(where + ": data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                    + " bytes, but shape " + sh + " of " + type + " needs " + expected);
        }
        return new TensorInfo(name, f, type, shape, dataStart + begin, dataStart + end);
    }

    private static void readFully(Path f, FileChannel ch, ByteBuffer dst, long pos) throws IOException {
        while (dst.hasRemaining()) {
            int r = ch.read(dst, pos);
            if (r < 0) {
                throw new ModelFormatException(f + ": unexpected end of file at byte " + pos);
            }
            pos += r;
        }
    }

    /** The file, index or directory this was opened from. */
    public Path source() {
        return source;
    }

    /** Tensor names, in file order. */
    public Set<String> names() {
        return tensors.keySet();
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The {@code __metadata__} entries of all files. */
    public Map<String, String> metadata() {
        return metadata;
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException(source + ": missing tensor '" + name + "'");
        }
        return t;
    }

    /** Checks a tensor's shape, naming both shapes when they differ. */
    public TensorInfo info(String name, long... expectedShape) {
        TensorInfo t = info(name);
        if (!Arrays.equals(t.shape(), expectedShape)) {
            throw new ModelFormatException(t.file() + ": tensor '" + name + "' has shape " + t.shapeString()
                    + ", expected " + Arrays.toString(expectedShape));
        }
        return t;
    }

    /** The whole tensor as floats, after checking its shape. */
    public float[] read(String name, long... expectedShape) throws IOException {
        TensorInfo t = info(name, expectedShape);
        if (t.elements() > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(t.file() + ": tensor '" + name + "' has " + t.elements()
                    + " elements, more than one Java array holds");
        }
        float[] out = new float[(int) t.elements()];
        read(name, 0, out, 0, out.length);
        return out;
    }

    /**
     * Elements [from, from + n) of a tensor (in row-major order) into dst[dstOff ...], widened to
     * float32: lets loaders place parts of a tensor straight into fused matrices.
     */
    public void read(String name, long from, float[] dst, int dstOff, int n) throws IOException {
        TensorInfo t = info(name);
        if (!t.type().floating()) {
            throw new ModelFormatException(t.file() + ": tensor '" + name + "' has dtype " + t.type()
                    + ", which cannot be read as floats");
        }
        if (from < 0 || n < 0 || from + n > t.elements()) {
            throw new IllegalArgumentException("elements [" + from + ", " + (from + n) + ") are outside tensor '" + name
                    + "' of " + t.elements());
        }
        FileChannel ch = channels.get(t.file());
        int eb = t.type().bytes();
        long pos = t.begin() + from * eb;
        int done = 0;
        while (done < n) {
            int count = Math.min(n - done, CHUNK_BYTES / eb);
            buffer.clear().limit(count * eb);
            readFully(t.file(), ch, buffer, pos);
            buffer.flip();
            convert(t.type(), buffer, dst, dstOff + done, count);
            pos += (long) count * eb;
            done += count;
        }
    }

    private static void convert(TensorType type, ByteBuffer b, float[] dst, int off, int n) {
        switch (type) {
            case F32 -> b.asFloatBuffer().get(dst, off, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst[off + i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xFFFF) << 16);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst[off + i] = halfToFloat(b.getShort(2 * i));
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    dst[off + i] = (float) b.getDouble(8 * i);
                }
            }
            default -> throw new IllegalStateException("not a float type: " + type);
        }
    }

    /** IEEE 754 binary16 to float32 (exact: every half value is a float); Java 17 lacks Float.float16ToFloat. */
    static float halfToFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (FileChannel ch : channels.values()) {
            try {
                ch.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
