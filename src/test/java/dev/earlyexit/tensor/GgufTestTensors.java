package dev.earlyexit.tensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Test-only: the tensors of a small GGUF v3 file (name, type, shape, data), enough to find ggml's
 * reference tensors; the product's reader lives in the format package.
 */
final class GgufTestTensors {
    record Tensor(String name, GgmlType type, long[] dims, ByteBuffer data) {
        long elements() {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            return n;
        }
    }

    private GgufTestTensors() {
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = GgufTestTensors.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing test resource " + name);
            }
            return in.readAllBytes();
        }
    }

    static List<Tensor> read(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt() != 0x46554747) {
            throw new IllegalArgumentException("not GGUF");
        }
        int version = b.getInt();
        if (version != 3) {
            throw new IllegalArgumentException("GGUF version " + version);
        }
        long tensorCount = b.getLong();
        long kvCount = b.getLong();
        long alignment = 32;
        for (long i = 0; i < kvCount; i++) {
            String key = string(b);
            int type = b.getInt();
            if (key.equals("general.alignment") && type == 4) {
                alignment = b.getInt() & 0xFFFFFFFFL;
            } else {
                skipValue(b, type);
            }
        }
        List<String> names = new ArrayList<>();
        List<long[]> dims = new ArrayList<>();
        List<GgmlType> types = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            names.add(string(b));
            long[] d = new long[b.getInt()];
            for (int k = 0; k < d.length; k++) {
                d[k] = b.getLong();
            }
            dims.add(d);
            types.add(GgmlType.byId(b.getInt()));
            offsets.add(b.getLong());
        }
        long dataStart = (b.position() + alignment - 1) / alignment * alignment;
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            long n = 1;
            for (long d : dims.get(i)) {
                n *= d;
            }
            int start = Math.toIntExact(dataStart + offsets.get(i));
            int len = Math.toIntExact(types.get(i).bytesFor(n));
            ByteBuffer data = ByteBuffer.wrap(file, start, len).slice().order(ByteOrder.LITTLE_ENDIAN);
            out.add(new Tensor(names.get(i), types.get(i), dims.get(i), data));
        }
        return out;
    }

    private static String string(ByteBuffer b) {
        int len = Math.toIntExact(b.getLong());
        byte[] s = new byte[len];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static void skipValue(ByteBuffer b, int type) {
        switch (type) {
            case 0, 1, 7 -> b.position(b.position() + 1);
            case 2, 3 -> b.position(b.position() + 2);
            case 4, 5, 6 -> b.position(b.position() + 4);
            case 10, 11, 12 -> b.position(b.position() + 8);
            case 8 -> string(b);
            case 9 -> {
                int elementType = b.getInt();
                long n = b.getLong();
                for (long i = 0; i < n; i++) {
                    skipValue(b, elementType);
                }
            }
            default -> throw new IllegalArgumentException("GGUF value type " + type);
        }
    }
}
