package dev.earlyexit.format;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.FuzzFiles;
import dev.earlyexit.tokenizer.Tokenizer;
import java.io.IOException;

/** Hostile GGUF files (issue 17): every input reads or fails with a ModelFormatException. */
class GgufFuzzTest {
    private static final String TEXT = "Once upon a time, Lily's cat ate 123 fish!\n\t  Ünïcödé 日本 <s></s> ";
    private static final ThreadPool POOL = new ThreadPool(1);

    /** The container: header, metadata and tensor table. */
    @FuzzTest(maxDuration = "10m")
    void gguf(byte[] data) throws IOException {
        try {
            GgufFile f = GgufFile.open(FuzzFiles.write("gguf/model.gguf", data));
            try {
                f.metadata().size();
                f.tensors().values().forEach(GgufFile.TensorInfo::elements);
            } finally {
                f.close();
            }
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }

    /**
     * The whole model as {@code generate} loads it: hyper-parameters, every weight in its ggml type, the
     * tokenizer from the metadata; then one token through the model at the context the CLI would give it.
     */
    @FuzzTest(maxDuration = "10m")
    void ggufModel(byte[] data) throws IOException {
        GgufCheckpoint.Loaded m;
        try {
            m = GgufCheckpoint.load(FuzzFiles.write("gguf/model.gguf", data));
        } catch (ModelFormatException expected) {
            return; // the one allowed failure
        }
        Tokenizer tok = m.tokenizerOrNull();
        if (tok != null) {
            tok.decode(tok.encode(TEXT));
        }
        ModelConfig c = m.config().withMaxSeqLen(Math.min(m.config().maxSeqLen(), ModelResolver.DEFAULT_MAX_CONTEXT));
        Transformer t = new Transformer(c, m.weights(), POOL);
        float[] x = new float[c.dim()];
        t.embed(new int[]{Math.min(1, c.vocabSize() - 1)}, 0, 1, 0, x);
        t.forward(x, 1, 0, c.layers(), new KVCache(c));
        t.logits(x, 0, new float[c.vocabSize()]);
    }
}
