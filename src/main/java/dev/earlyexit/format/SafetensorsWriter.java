package dev.earlyexit.format;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.earlyexit.format.Safetensors.TensorType;
import dev.earlyexit.tensor.BF16Matrix;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes one safetensors file from float arrays, stored as F32 or BF16 (rounded to nearest even).
 * The arrays are referenced, not copied, until {@link #write}; the file is written through a small
 * buffer to a temporary name and moved into place, so a failed write leaves no partial file behind.
 */
public final class SafetensorsWriter {
    private static final int CHUNK_BYTES = 1 << 20;

    private record Entry(String name, TensorType type, float[] data, long[] shape) {
    }

    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a {@code __metadata__} string entry. */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a tensor stored as {@code type} (F32 or BF16); data is row-major and must fill the shape. */
    public SafetensorsWriter add(String name, TensorType type, float[] data, long... shape) {
        if (type != TensorType.F32 && type != TensorType.BF16) {
            throw new IllegalArgumentException("can write F32 or BF16 tensors, not " + type);
        }
        if (name.equals("__metadata__") || !names.add(name)) {
            throw new IllegalArgumentException("duplicate or reserved tensor name '" + name + "'");
        }
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != data.length) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + data.length + " values but shape "
                    + Arrays.toString(shape) + " holds " + n);
        }
        entries.add(new Entry(name, type, data, shape.clone()));
        return this;
    }

    public SafetensorsWriter add(String name, float[] data, long... shape) {
        return add(name, TensorType.F32, data, shape);
    }

    public void write(Path file) throws IOException {
        ObjectMapper om = new ObjectMapper();
        ObjectNode header = om.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode t = header.putObject(e.name());
            t.put("dtype", e.type().name());
            ArrayNode shape = t.putArray("shape");
            for (long d : e.shape()) {
                shape.add(d);
            }
            long bytes = (long) e.data().length * e.type().bytes();
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = om.writeValueAsBytes(header);
        // Pad with spaces (allowed by the spec) so the data starts 8-byte aligned.
        int padded = (json.length + 7) & ~7;
        byte[] headerBytes = Arrays.copyOf(json, padded);
        Arrays.fill(headerBytes, json.length, padded, (byte) ' ');

        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, file.getFileName().toString(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                buf.putLong(padded);
                drain(ch, buf.flip());
                drain(ch, ByteBuffer.wrap(headerBytes));
                for (Entry e : entries) {
                    writeData(ch, buf, e);
                }
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeData(FileChannel ch, ByteBuffer buf, Entry e) throws IOException {
        float[] d = e.data();
        int per = CHUNK_BYTES / e.type().bytes();
        for (int i = 0; i < d.length; i += per) {
            int end = Math.min(d.length, i + per);
            buf.clear();
            if (e.type() == TensorType.F32) {
                buf.asFloatBuffer().put(d, i, end - i);
                buf.position(4 * (end - i));
            } else {
                for (int j = i; j < end; j++) {
                    buf.putShort(BF16Matrix.toBf16(d[j]));
                }
            }
            drain(ch, buf.flip());
        }
    }

    private static void drain(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
