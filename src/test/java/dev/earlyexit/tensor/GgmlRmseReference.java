package dev.earlyexit.tensor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * Test-side tool (not a test) that records ggml's quantization error for {@link QuantizerRmseVsGgmlTest}:
 * for each tensor of {@code type} in a GGUF ggml quantized from {@code stories15M-f16.gguf}, its RMSE
 * against the f16 values, and ggml's blocks of a few rows (hex), so the test needs neither ggml nor its
 * 30 MB file. Run from the repository root after {@code mvn test-compile}:
 * <pre>
 * java -cp target/test-classes:target/classes:$(cat cp.txt) dev.earlyexit.tensor.GgmlRmseReference \
 *     ../shared/reference/gguf/stories15M-f16.gguf s15-q6_k-ggml.gguf q6_K "how the file was made" &gt; out.json
 * </pre>
 */
public final class GgmlRmseReference {
    private static final int[] ROWS = {0, 137};

    private GgmlRmseReference() {
    }

    public static void main(String[] args) throws Exception {
        Path f16 = Paths.get(args[0]);
        Path ggml = Paths.get(args[1]);
        GgmlType type = null;
        for (GgmlType t : GgmlType.values()) {
            if (t.ggmlName().equals(args[2])) {
                type = t;
            }
        }
        Map<String, GgufTestTensors.Tensor> floats = new HashMap<>();
        for (GgufTestTensors.Tensor t : GgufTestTensors.read(Files.readAllBytes(f16))) {
            floats.put(t.name(), t);
        }
        ObjectMapper om = new ObjectMapper();
        ObjectNode root = om.createObjectNode();
        root.put("type", type.ggmlName());
        root.put("source", f16.getFileName().toString());
        root.put("made_by", args.length > 3 ? args[3] : "");
        ArrayNode tensors = root.putArray("tensors");
        for (GgufTestTensors.Tensor q : GgufTestTensors.read(Files.readAllBytes(ggml))) {
            if (q.type() != type) {
                continue;
            }
            int count = Math.toIntExact(q.elements());
            int cols = (int) q.dims()[0];
            float[] w = new float[count];
            GgufTestTensors.Tensor src = floats.get(q.name());
            GgmlDequant.dequantize(src.type(), src.data().duplicate(), w, 0, count);
            float[] theirs = new float[count];
            GgmlDequant.dequantize(type, q.data().duplicate(), theirs, 0, count);
            double se = 0;
            for (int i = 0; i < count; i++) {
                double e = (double) theirs[i] - w[i];
                se += e * e;
            }
            ObjectNode t = tensors.addObject();
            t.put("name", q.name());
            t.put("rows", (int) q.dims()[1]);
            t.put("cols", cols);
            t.put("rmse", Math.sqrt(se / count));
            ArrayNode rows = t.putArray("ggml_rows");
            int rowBytes = Math.toIntExact(type.bytesFor(cols));
            for (int r : ROWS) {
                byte[] blocks = new byte[rowBytes];
                q.data().duplicate().position(r * rowBytes).get(blocks);
                ObjectNode row = rows.addObject();
                row.put("row", r);
                row.put("blocks_hex", HexFormat.of().formatHex(blocks));
            }
        }
        System.out.println(om.writerWithDefaultPrettyPrinter().writeValueAsString(root));
    }
}
