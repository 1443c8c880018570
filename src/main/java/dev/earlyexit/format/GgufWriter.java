package dev.earlyexit.format;

import dev.earlyexit.tensor.GgmlMatrices;
import dev.earlyexit.tensor.GgmlType;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF v3. Metadata values map onto GGUF types as llama.cpp reads them: Integer as u32 (i32 when
 * negative), Long as u64, Float f32, Double f64, Boolean bool, String string; arrays String[] (string),
 * float[] (f32), int[] (i32).
 */
public final class GgufWriter {
    private static final int ALIGNMENT = 32;

    private record Tensor(String name, long[] dims, GgmlType type, byte[] data) {
    }

    private final Map<String, Object> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();

    public GgufWriter put(String key, Object value) {
        metadata.put(key, value);
        return this;
    }

    /**
     * {@code dims} innermost first, as GGUF lists them; {@code data} in the type's ggml encoding. A 2-D
     * tensor whose rows are not whole blocks of {@code type} is stored as
     * {@link GgmlMatrices#writtenType} says (a k-quant's fallback, as llama.cpp's quantizer does), and
     * {@code data} must be in that encoding.
     */
    public GgufWriter tensor(String name, long[] dims, GgmlType type, byte[] data) {
        if (dims.length == 2) {
            type = GgmlMatrices.writtenType(type, Math.toIntExact(dims[0]));
        }
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        if (type.bytesFor(n) != data.length) {
            throw new IllegalArgumentException("tensor " + name + ": " + data.length + " bytes for " + n + " " + type.ggmlName());
        }
        tensors.add(new Tensor(name, dims.clone(), type, data));
        return this;
    }

    public void write(Path out) throws IOException {
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(out), 1 << 20)) {
            Out o = new Out(os);
            o.i32(GgufFile.MAGIC);
            o.i32(3);
            o.i64(tensors.size());
            o.i64(metadata.size() + 1);
            o.string("general.alignment");
            o.i32(4);
            o.i32(ALIGNMENT);
            for (Map.Entry<String, Object> e : metadata.entrySet()) {
                o.string(e.getKey());
                o.value(e.getKey(), e.getValue());
            }
            long offset = 0;
            for (Tensor t : tensors) {
                o.string(t.name());
                o.i32(t.dims().length);
                for (long d : t.dims()) {
                    o.i64(d);
                }
                o.i32(t.type().id());
                o.i64(offset);
                offset = align(offset + t.data().length);
            }
            o.pad();
            for (Tensor t : tensors) {
                o.os.write(t.data());
                o.at += t.data().length;
                o.pad();
            }
        }
    }

    private static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static final class Out {
        final OutputStream os;
        final ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        long at;

        Out(OutputStream os) {
            this.os = os;
        }

        void i32(int v) throws IOException {
            b.clear();
            b.putInt(v);
            os.write(b.array(), 0, 4);
            at += 4;
        }

        void i64(long v) throws IOException {
            b.clear();
            b.putLong(v);
            os.write(b.array(), 0, 8);
            at += 8;
        }

        void string(String s) throws IOException {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            i64(u.length);
            os.write(u);
            at += u.length;
        }

        void pad() throws IOException {
            while (at % ALIGNMENT != 0) {
                os.write(0);
                at++;
            }
        }

        void value(String key, Object v) throws IOException {
            if (v instanceof Integer i) {
                i32(i < 0 ? 5 : 4);
                i32(i);
            } else if (v instanceof Long l) {
                i32(10);
                i64(l);
            } else if (v instanceof Float f) {
                i32(6);
                i32(Float.floatToRawIntBits(f));
            } else if (v instanceof Double d) {
                i32(12);
                i64(Double.doubleToRawLongBits(d));
            } else if (v instanceof Boolean z) {
                i32(7);
                os.write(z ? 1 : 0);
                at++;
            } else if (v instanceof String s) {
                i32(8);
                string(s);
            } else if (v instanceof String[] a) {
                i32(9);
                i32(8);
                i64(a.length);
                for (String s : a) {
                    string(s);
                }
            } else if (v instanceof float[] a) {
                i32(9);
                i32(6);
                i64(a.length);
                for (float f : a) {
                    i32(Float.floatToRawIntBits(f));
                }
            } else if (v instanceof int[] a) {
                i32(9);
                i32(5);
                i64(a.length);
                for (int x : a) {
                    i32(x);
                }
            } else {
                throw new IllegalArgumentException("GGUF metadata " + key + ": cannot write a " + v.getClass().getSimpleName());
            }
        }
    }
}
