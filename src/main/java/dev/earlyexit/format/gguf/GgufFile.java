package dev.earlyexit.format.gguf;

import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.tensor.GgmlType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (v2, v3): header, metadata and tensor infos parsed and checked up front; tensor data read
 * on demand. Every length and offset is checked against the file's size before anything is allocated,
 * so a truncated or corrupt file gives one {@link ModelFormatException} naming the file and the problem.
 */
public final class GgufFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" little-endian
    public static final int DEFAULT_ALIGNMENT = 32;
    private static final int MAX_DIMS = 4;

    /** GGUF metadata value types, by their ids. */
    public enum ValueType {
        UINT8(1), INT8(1), UINT16(2), INT16(2), UINT32(4), INT32(4), FLOAT32(4), BOOL(1), STRING(8), ARRAY(12),
        UINT64(8), INT64(8), FLOAT64(8);

        /** The fewest bytes one value takes (used to bound array counts by the bytes left). */
        final int minBytes;

        ValueType(int minBytes) {
            this.minBytes = minBytes;
        }

        static ValueType byId(int id) {
            ValueType[] all = values();
            return id >= 0 && id < all.length ? all[id] : null;
        }
    }

    /**
     * One metadata value: integers as Long (uint64 as its bit pattern), FLOAT32 as Float, FLOAT64 as Double,
     * BOOL as Boolean, STRING as String; ARRAY as a List of such values with its element type.
     */
    public record Value(ValueType type, ValueType elementType, Object value) {
    }

    /**
     * @param dims   as GGUF lists them, innermost first: a [rows, cols] matrix has dims [cols, rows]
     * @param offset from the start of the file
     */
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
    private final FileChannel channel;
    private final int version;
    private final int alignment;
    private final Map<String, Value> metadata;
    private final Map<String, TensorInfo> tensors;

    private GgufFile(Path path, FileChannel channel, int version, int alignment, Map<String, Value> metadata,
                     Map<String, TensorInfo> tensors) {
        this.path = path;
        this.channel = channel;
        this.version = version;
        this.alignment = alignment;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    public static GgufFile open(Path path) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot open GGUF file: " + e.getMessage(), e);
        }
        try {
            return parse(path, ch);
        } catch (RuntimeException | IOException e) {
            ch.close();
            throw e;
        }
    }

    private static GgufFile parse(Path path, FileChannel ch) throws IOException {
        Cursor in = new Cursor(path, ch);
        int magic = in.i32("magic");
        if (magic != MAGIC) {
            throw new ModelFormatException(path + ": not a GGUF file (magic 0x" + Integer.toHexString(magic) + ", expected \"GGUF\")");
        }
        int version = in.i32("version");
        if (version != 2 && version != 3) {
            throw new ModelFormatException(path + ": unsupported GGUF version " + version + " (supported: 2, 3)");
        }
        long tensorCount = in.u64("tensor count");
        long kvCount = in.u64("metadata count");
        // each tensor info and key/value takes at least 8+4+8 bytes: bounds both counts by the file size
        if (tensorCount < 0 || tensorCount > in.size / 20 || kvCount < 0 || kvCount > in.size / 12) {
            throw new ModelFormatException(path + ": truncated or corrupt GGUF header: " + tensorCount + " tensors, " + kvCount
                    + " metadata entries do not fit in " + in.size + " bytes");
        }
        Map<String, Value> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("metadata key " + i);
            int typeId = in.i32("type of " + key);
            ValueType type = ValueType.byId(typeId);
            if (type == null) {
                throw new ModelFormatException(path + ": metadata \"" + key + "\" has unknown value type " + typeId);
            }
            if (metadata.put(key, in.value(key, type)) != null) {
                throw new ModelFormatException(path + ": metadata key \"" + key + "\" appears twice");
            }
        }
        int alignment = DEFAULT_ALIGNMENT;
        Value align = metadata.get("general.alignment");
        if (align != null) {
            if (align.value() instanceof Long a && a > 0 && a <= 1 << 20 && Long.bitCount(a) == 1) {
                alignment = (int) (long) a;
            } else {
                throw new ModelFormatException(path + ": general.alignment " + align.value() + " is not a power of two");
            }
        }
        List<String> names = new ArrayList<>();
        List<long[]> dimsList = new ArrayList<>();
        List<GgmlType> types = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = in.string("tensor name " + i);
            int nDims = in.i32("dimension count of " + name);
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw new ModelFormatException(path + ": tensor " + name + " has " + nDims + " dimensions (1 to 4 allowed)");
            }
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = in.u64("dimension " + d + " of " + name);
                if (dims[d] <= 0) {
                    throw new ModelFormatException(path + ": tensor " + name + " has dimension " + Long.toUnsignedString(dims[d]));
                }
            }
            int typeId = in.i32("type of " + name);
            GgmlType type;
            try {
                type = GgmlType.byId(typeId);
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(path + ": tensor " + name + " has unknown ggml type id " + typeId);
            }
            names.add(name);
            dimsList.add(dims);
            types.add(type);
            offsets.add(in.u64("offset of " + name));
        }
        long dataStart = align(in.position(), alignment);
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            long[] dims = dimsList.get(i);
            GgmlType type = types.get(i);
            long elements;
            long bytes;
            try {
                elements = 1;
                for (long d : dims) {
                    elements = Math.multiplyExact(elements, d);
                }
                if (dims[0] % type.blockSize() != 0) {
                    throw new ModelFormatException(path + ": tensor " + name + ": rows of " + dims[0] + " values are not a whole number of "
                            + type.ggmlName() + " blocks (" + type.blockSize() + " values)");
                }
                bytes = type.bytesFor(elements);
            } catch (ArithmeticException e) {
                throw new ModelFormatException(path + ": tensor " + name + " is impossibly large");
            }
            long rel = offsets.get(i);
            if (rel < 0 || rel % alignment != 0) {
                throw new ModelFormatException(path + ": tensor " + name + " offset " + Long.toUnsignedString(rel)
                        + " is not a multiple of the alignment " + alignment);
            }
            long start = dataStart + rel;
            if (start < dataStart || start + bytes > in.size || start + bytes < start) {
                throw new ModelFormatException(path + ": truncated or corrupt: tensor " + name + " (" + type.ggmlName() + " "
                        + shape(dims) + ", " + bytes + " bytes at " + start + ") runs past the end of the file (" + in.size + " bytes)");
            }
            if (tensors.put(name, new TensorInfo(name, dims, type, start, bytes)) != null) {
                throw new ModelFormatException(path + ": tensor " + name + " appears twice");
            }
        }
        return new GgufFile(path, ch, version, alignment, Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(tensors));
    }

    static long align(long at, int alignment) {
        return (at + alignment - 1) / alignment * alignment;
    }

    static String shape(long[] dims) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(dims[i]);
        }
        return sb.append(']').toString();
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    public Map<String, Value> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    private Value required(String key) {
        Value v = metadata.get(key);
        if (v == null) {
            throw new ModelFormatException(path + ": missing metadata \"" + key + "\"");
        }
        return v;
    }

    public String string(String key) {
        Value v = required(key);
        if (!(v.value() instanceof String s)) {
            throw new ModelFormatException(path + ": metadata \"" + key + "\" is " + v.type() + ", expected a string");
        }
        return s;
    }

    public String string(String key, String dflt) {
        return has(key) ? string(key) : dflt;
    }

    public long integer(String key) {
        Value v = required(key);
        if (!(v.value() instanceof Long l)) {
            throw new ModelFormatException(path + ": metadata \"" + key + "\" is " + v.type() + ", expected an integer");
        }
        return l;
    }

    public int int32(String key) {
        long l = integer(key);
        if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
            throw new ModelFormatException(path + ": metadata \"" + key + "\" = " + l + " is out of range");
        }
        return (int) l;
    }

    public int int32(String key, int dflt) {
        return has(key) ? int32(key) : dflt;
    }

    public double number(String key, double dflt) {
        Value v = metadata.get(key);
        if (v == null) {
            return dflt;
        }
        if (v.value() instanceof Number n) {
            return n.doubleValue();
        }
        throw new ModelFormatException(path + ": metadata \"" + key + "\" is " + v.type() + ", expected a number");
    }

    public boolean bool(String key, boolean dflt) {
        Value v = metadata.get(key);
        if (v == null) {
            return dflt;
        }
        if (v.value() instanceof Boolean b) {
            return b;
        }
        throw new ModelFormatException(path + ": metadata \"" + key + "\" is " + v.type() + ", expected a bool");
    }

    /** An array's elements, each checked to be {@code elementType}; null when the key is absent. */
    @SuppressWarnings("unchecked")
    public List<Object> array(String key, ValueType elementType) {
        Value v = metadata.get(key);
        if (v == null) {
            return null;
        }
        if (v.type() != ValueType.ARRAY || v.elementType() != elementType) {
            throw new ModelFormatException(path + ": metadata \"" + key + "\" is " + v.type()
                    + (v.elementType() != null ? " of " + v.elementType() : "") + ", expected an array of " + elementType);
        }
        return (List<Object>) v.value();
    }

    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException(path + ": missing tensor " + name);
        }
        return t;
    }

    /** The tensor's bytes into {@code dst} from its position (which must have room), little-endian. */
    public void read(TensorInfo t, ByteBuffer dst) throws IOException {
        if (dst.remaining() < t.bytes()) {
            throw new IllegalArgumentException("buffer too small for " + t.name());
        }
        ByteBuffer b = dst.duplicate();
        b.limit(b.position() + (int) t.bytes());
        long at = t.offset();
        while (b.hasRemaining()) {
            int n = channel.read(b, at);
            if (n < 0) {
                throw new ModelFormatException(path + ": truncated while reading tensor " + t.name());
            }
            at += n;
        }
    }

    /** A new buffer holding the tensor's bytes, positioned at 0, little-endian. */
    public ByteBuffer read(TensorInfo t) throws IOException {
        if (t.bytes() > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(path + ": tensor " + t.name() + " (" + t.bytes() + " bytes) is too large for one buffer");
        }
        ByteBuffer b = ByteBuffer.allocate((int) t.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        read(t, b);
        return b;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** Sequential reads of the header with a refilled window, each checked against the file's size. */
    private static final class Cursor {
        private final Path path;
        private final FileChannel ch;
        final long size;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        private long bufStart;
        private final java.nio.charset.CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

        Cursor(Path path, FileChannel ch) throws IOException {
            this.path = path;
            this.ch = ch;
            this.size = ch.size();
            buf.limit(0);
        }

        long position() {
            return bufStart + buf.position();
        }

        private void need(long n, String what) throws IOException {
            if (n < 0 || position() + n > size) {
                throw new ModelFormatException(path + ": truncated GGUF file: " + what + " needs " + n + " bytes at offset "
                        + position() + ", the file has " + size);
            }
            if (buf.remaining() >= n) {
                return;
            }
            bufStart = position();
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), size - bufStart));
            while (buf.hasRemaining()) {
                if (ch.read(buf, bufStart + buf.position()) < 0) {
                    break;
                }
            }
            buf.flip();
        }

        int i32(String what) throws IOException {
            need(4, what);
            return buf.getInt();
        }

        long u64(String what) throws IOException {
            need(8, what);
            return buf.getLong();
        }

        String string(String what) throws IOException {
            long len = u64("length of " + what);
            if (len < 0 || len > size - position()) {
                throw new ModelFormatException(path + ": truncated or corrupt GGUF file: " + what + " claims "
                        + Long.toUnsignedString(len) + " bytes at offset " + position() + ", the file has " + size);
            }
            byte[] bytes = new byte[(int) Math.min(len, Integer.MAX_VALUE - 8)];
            int got = 0;
            while (got < bytes.length) {
                need(Math.min(buf.capacity(), bytes.length - got), what);
                int n = Math.min(buf.remaining(), bytes.length - got);
                buf.get(bytes, got, n);
                got += n;
            }
            try {
                return utf8.decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw new ModelFormatException(path + ": " + what + " is not valid UTF-8");
            }
        }

        Value value(String key, ValueType type) throws IOException {
            if (type == ValueType.ARRAY) {
                int elemId = i32("element type of " + key);
                ValueType elem = ValueType.byId(elemId);
                if (elem == null) {
                    throw new ModelFormatException(path + ": metadata \"" + key + "\" is an array of unknown type " + elemId);
                }
                long count = u64("length of " + key);
                if (count < 0 || count > (size - position()) / elem.minBytes) {
                    throw new ModelFormatException(path + ": truncated or corrupt GGUF file: array \"" + key + "\" claims "
                            + Long.toUnsignedString(count) + " elements, more than the " + (size - position()) + " bytes left hold");
                }
                List<Object> items = new ArrayList<>((int) count);
                for (long i = 0; i < count; i++) {
                    items.add(elem == ValueType.ARRAY ? value(key + "[" + i + "]", elem) : scalar(key, elem));
                }
                return new Value(ValueType.ARRAY, elem, Collections.unmodifiableList(items));
            }
            return new Value(type, null, scalar(key, type));
        }

        private Object scalar(String key, ValueType type) throws IOException {
            switch (type) {
                case UINT8: need(1, key); return (long) (buf.get() & 0xFF);
                case INT8: need(1, key); return (long) buf.get();
                case UINT16: need(2, key); return (long) (buf.getShort() & 0xFFFF);
                case INT16: need(2, key); return (long) buf.getShort();
                case UINT32: need(4, key); return buf.getInt() & 0xFFFFFFFFL;
                case INT32: need(4, key); return (long) buf.getInt();
                case UINT64:
                case INT64: need(8, key); return buf.getLong();
                case FLOAT32: need(4, key); return buf.getFloat();
                case FLOAT64: need(8, key); return buf.getDouble();
                case BOOL: {
                    need(1, key);
                    byte b = buf.get();
                    if (b != 0 && b != 1) {
                        throw new ModelFormatException(path + ": metadata \"" + key + "\" has bool value " + b);
                    }
                    return b == 1;
                }
                case STRING: return string("metadata \"" + key + "\"");
                default: throw new IllegalStateException(type.toString());
            }
        }
    }
}
