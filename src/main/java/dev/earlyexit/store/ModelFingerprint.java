package dev.earlyexit.store;

import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.BF16Matrix;
import dev.earlyexit.tensor.Matrix;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A short identity of a model's weights, stored with exit heads so that heads refuse to load onto a
 * different model.
 *
 * <p>The rule: SHA-256 over the config's dimensions, then the token embedding, final norm and
 * classifier in full, then every 61st row of every layer matrix and every layer norm. Every value is
 * first rounded to bfloat16 and hashed as those 16 bits, so a checkpoint loaded as f32 and the same
 * checkpoint loaded as bf16 give the same fingerprint (bf16 rounding is idempotent), while any
 * retrained or different model differs. A q8 load dequantizes to other values and does not match:
 * load the model as f32 or bf16 when checking heads. Costs about 0.1 s on stories15M.
 */
public final class ModelFingerprint {
    private static final int LAYER_ROW_STRIDE = 61;

    private ModelFingerprint() {
    }

    /** The fingerprint as "sha256:" + 64 hex digits. */
    public static String of(ModelConfig c, ModelWeights w) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        String dims = c.architecture() + "|" + c.dim() + "|" + c.hiddenDim() + "|" + c.layers() + "|" + c.heads()
                + "|" + c.kvHeads() + "|" + c.headDim() + "|" + c.vocabSize() + "|" + c.norm() + "|" + c.mlp()
                + "|" + c.residual();
        // Appended only when present, so the fingerprints of models without them stay as they were.
        if (!c.ropeScaling().equals(RopeScaling.NONE)) {
            dims += "|" + c.ropeScaling();
        }
        if (c.qkNorm()) {
            dims += "|qkNorm";
        }
        md.update(dims.getBytes(StandardCharsets.UTF_8));
        Hasher h = new Hasher(md, Math.max(c.dim(), c.hiddenDim()));
        h.matrix(w.tokenEmbedding(), 1);
        h.vector(w.finalNorm());
        h.vector(w.finalNormBias());
        h.matrix(w.classifier(), 1);
        h.vector(w.classifierBias());
        for (LayerWeights l : w.layers()) {
            h.vector(l.attnNorm());
            h.vector(l.mlpNorm());
            if (l.qNorm() != null) {
                h.vector(l.qNorm());
                h.vector(l.kNorm());
            }
            h.matrix(l.wqkv(), LAYER_ROW_STRIDE);
            h.matrix(l.wo(), LAYER_ROW_STRIDE);
            h.matrix(l.wUp(), LAYER_ROW_STRIDE);
            h.matrix(l.wDown(), LAYER_ROW_STRIDE);
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    private static final class Hasher {
        private final MessageDigest md;
        private final float[] row;
        private final ByteBuffer bytes;

        Hasher(MessageDigest md, int maxCols) {
            this.md = md;
            this.row = new float[maxCols];
            this.bytes = ByteBuffer.allocate(2 * maxCols).order(ByteOrder.LITTLE_ENDIAN);
        }

        void matrix(Matrix m, int stride) {
            float[] r = m.cols() <= row.length ? row : new float[m.cols()];
            for (int i = 0; i < m.rows(); i += stride) {
                m.row(i, r, 0);
                values(r, 0, m.cols());
            }
        }

        void vector(float[] v) {
            if (v == null) {
                md.update((byte) 0);
                return;
            }
            for (int i = 0; i < v.length; i += row.length) {
                values(v, i, Math.min(row.length, v.length - i));
            }
        }

        private void values(float[] v, int off, int n) {
            ByteBuffer b = n * 2 <= bytes.capacity() ? bytes : ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            b.clear();
            for (int i = 0; i < n; i++) {
                b.putShort(BF16Matrix.toBf16(v[off + i]));
            }
            md.update(b.array(), 0, 2 * n);
        }
    }
}
