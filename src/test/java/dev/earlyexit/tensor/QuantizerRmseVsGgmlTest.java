package dev.earlyexit.tensor;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Our quantizers' RMSE against the float weights is no worse than ggml's on the same tensors: the 2-D
 * weights of stories15M-f16.gguf against ggml's own Q8_0 and Q4_0 of them (../shared/reference/gguf),
 * and Q4_K where a ggml Q4_K file of the same model is named by -Dggml.q4k (made with
 * ../shared/tools/gguf_quantize.c; see docs/quantization.md). Q6_K and Q5_K against ggml's error as
 * recorded in src/test/resources/gguf/ggml-rmse-stories15M-*.json (per tensor, with ggml's blocks of two
 * rows; {@link GgmlRmseReference} made them), or against a ggml file named by -Dggml.q6k / -Dggml.q5k.
 * Skips when the files are absent.
 */
class QuantizerRmseVsGgmlTest {
    private static final Path DIR = Paths.get("..", "shared", "reference", "gguf");

    @Test
    void q8_0() throws Exception {
        compare(DIR.resolve("stories15M-q8_0.gguf"), GgmlType.Q8_0);
    }

    @Test
    void q4_0() throws Exception {
        compare(DIR.resolve("stories15M-q4_0.gguf"), GgmlType.Q4_0);
    }

    @Test
    void q4_K() throws Exception {
        String p = System.getProperty("ggml.q4k");
        Assumptions.assumeTrue(p != null, "skipped: -Dggml.q4k=FILE names no ggml Q4_K GGUF of stories15M");
        compare(Paths.get(p), GgmlType.Q4_K);
    }

    @Test
    void q6_K() throws Exception {
        compareRecorded("q6_k", GgmlType.Q6_K);
    }

    @Test
    void q5_K() throws Exception {
        compareRecorded("q5_k", GgmlType.Q5_K);
    }

    /**
     * Ours against ggml's recorded RMSE per tensor (at most 1.0x, each tensor and all together). ggml's
     * recorded rows are dequantized and checked against the f16 weights first: their error must be of
     * the tensor's recorded size, which ties the record to these weights.
     */
    private static void compareRecorded(String name, GgmlType type) throws Exception {
        String file = System.getProperty("ggml." + name.replace("_", ""));
        if (file != null) {
            compare(Paths.get(file), type);
        }
        Path f16 = DIR.resolve("stories15M-f16.gguf");
        Assumptions.assumeTrue(Files.isRegularFile(f16), "skipped: needs " + f16);
        JsonNode ref = new ObjectMapper().readTree(GgufTestTensors.resource("/gguf/ggml-rmse-stories15M-" + name + ".json"));
        assertThat(ref.get("type").asText()).isEqualTo(type.ggmlName());
        Map<String, GgufTestTensors.Tensor> floats = new HashMap<>();
        for (GgufTestTensors.Tensor t : GgufTestTensors.read(Files.readAllBytes(f16))) {
            floats.put(t.name(), t);
        }
        double oursTotal = 0;
        double ggmlTotal = 0;
        long n = 0;
        for (JsonNode t : ref.get("tensors")) {
            GgufTestTensors.Tensor src = floats.get(t.get("name").asText());
            int rows = t.get("rows").asInt();
            int cols = t.get("cols").asInt();
            int count = rows * cols;
            assertThat(src.elements()).isEqualTo(count);
            float[] w = new float[count];
            GgmlDequant.dequantize(src.type(), src.data().duplicate(), w, 0, count);
            float[] ours = new float[count];
            GgmlDequant.dequantize(type, ByteBuffer.wrap(GgmlMatrices.quantize(type, w, 0, rows, cols)), ours, 0, count);
            double theirs = t.get("rmse").asDouble();
            for (JsonNode row : t.get("ggml_rows")) {
                int r = row.get("row").asInt();
                float[] g = new float[cols];
                GgmlDequant.dequantize(type, ByteBuffer.wrap(HexFormat.of().parseHex(row.get("blocks_hex").asText())), g, 0, cols);
                float[] wr = Arrays.copyOfRange(w, r * cols, (r + 1) * cols);
                double ggmlRow = Math.sqrt(squaredError(g, wr) / cols);
                double oursRow = Math.sqrt(squaredError(Arrays.copyOfRange(ours, r * cols, (r + 1) * cols), wr) / cols);
                System.out.printf(Locale.ROOT, "%s %-22s row %d: rmse ours %.6g ggml %.6g%n", type.ggmlName(), t.get("name").asText(),
                        r, oursRow, ggmlRow);
                assertThat(ggmlRow).as("ggml's recorded row %d of %s against the f16 weights", r, t.get("name").asText())
                        .isBetween(theirs / 3, theirs * 3);
            }
            double se = squaredError(ours, w);
            double rmse = Math.sqrt(se / count);
            System.out.printf(Locale.ROOT, "%s %-22s rmse ours %.6g ggml %.6g ratio %.4f%n", type.ggmlName(), t.get("name").asText(),
                    rmse, theirs, rmse / theirs);
            assertThat(rmse).as("%s %s", type, t.get("name").asText()).isLessThanOrEqualTo(theirs);
            oursTotal += se;
            ggmlTotal += theirs * theirs * count;
            n += count;
        }
        assertThat(n).isPositive();
        System.out.printf(Locale.ROOT, "%s all %d values: rmse ours %.6g ggml %.6g ratio %.4f%n", type.ggmlName(), n,
                Math.sqrt(oursTotal / n), Math.sqrt(ggmlTotal / n), Math.sqrt(oursTotal / ggmlTotal));
        assertThat(oursTotal).isLessThanOrEqualTo(ggmlTotal);
    }

    private static void compare(Path ggmlFile, GgmlType type) throws Exception {
        Path f16 = DIR.resolve("stories15M-f16.gguf");
        Assumptions.assumeTrue(Files.isRegularFile(f16) && Files.isRegularFile(ggmlFile),
                "skipped: needs " + f16 + " and " + ggmlFile);
        Map<String, GgufTestTensors.Tensor> floats = new HashMap<>();
        for (GgufTestTensors.Tensor t : GgufTestTensors.read(Files.readAllBytes(f16))) {
            floats.put(t.name(), t);
        }
        List<GgufTestTensors.Tensor> quantized = GgufTestTensors.read(Files.readAllBytes(ggmlFile));
        double oursTotal = 0;
        double ggmlTotal = 0;
        long n = 0;
        for (GgufTestTensors.Tensor q : quantized) {
            if (q.type() != type) {
                continue;
            }
            GgufTestTensors.Tensor src = floats.get(q.name());
            int count = Math.toIntExact(q.elements());
            int rows = (int) q.dims()[1];
            int cols = (int) q.dims()[0];
            float[] w = new float[count];
            GgmlDequant.dequantize(src.type(), src.data().duplicate(), w, 0, count);
            float[] theirs = new float[count];
            GgmlDequant.dequantize(type, q.data().duplicate(), theirs, 0, count);
            float[] ours = new float[count];
            GgmlDequant.dequantize(type, ByteBuffer.wrap(GgmlMatrices.quantize(type, w, 0, rows, cols)), ours, 0, count);
            double se1 = squaredError(ours, w);
            double se2 = squaredError(theirs, w);
            System.out.printf(Locale.ROOT, "%s %-22s rmse ours %.6g ggml %.6g ratio %.4f%n", type.ggmlName(), q.name(),
                    Math.sqrt(se1 / count), Math.sqrt(se2 / count), Math.sqrt(se1 / se2));
            assertThat(Math.sqrt(se1 / count)).as("%s %s", type, q.name()).isLessThanOrEqualTo(Math.sqrt(se2 / count) * 1.001);
            oursTotal += se1;
            ggmlTotal += se2;
            n += count;
        }
        assertThat(n).as("tensors of type %s in %s", type, ggmlFile).isPositive();
        System.out.printf(Locale.ROOT, "%s all %d values: rmse ours %.6g ggml %.6g ratio %.4f%n", type.ggmlName(), n,
                Math.sqrt(oursTotal / n), Math.sqrt(ggmlTotal / n), Math.sqrt(oursTotal / ggmlTotal));
        assertThat(oursTotal).isLessThanOrEqualTo(ggmlTotal);
    }

    private static double squaredError(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double e = (double) a[i] - b[i];
            s += e * e;
        }
        return s;
    }
}
