package dev.earlyexit.format;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.GgmlType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import dev.earlyexit.tokenizer.SentencePieceBpeTokenizer;
import dev.earlyexit.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Models written as GGUF and read back run as they did. */
class GgufExportTest {
    @TempDir
    Path dir;

    @Test
    void stories15MWrittenAsF32GgufGivesTheSameLogitsAndTokenizer() throws Exception {
        Path model = TestModels.stories15M();
        var l = Llama2cCheckpoint.load(model, DType.F32);
        Tokenizer tok = SentencePieceBpeTokenizer.load(model.resolveSibling("tokenizer.bin"));
        Path f = dir.resolve("s.gguf");
        GgufExport.write(l.config(), l.weights(), tok, GgmlType.F32, f);
        var g = GgufCheckpoint.load(f);
        assertThat(g.config().ropeStyle()).isEqualTo(ModelConfig.RopeStyle.INTERLEAVED);
        String text = "Once upon a time, Émile saw 3 cats — 猫! <s> \n\t end";
        assertThat(g.tokenizerOrNull().encode(text)).containsExactly(tok.encode(text));
        int[] ids = tok.encode("Lily and Ben went to the park to play with a ball.");
        try (ThreadPool pool = new ThreadPool(2)) {
            float[] a = GgufCheckpointTest.logits(new Transformer(l.config(), l.weights(), pool), ids);
            float[] b = GgufCheckpointTest.logits(new Transformer(g.config(), g.weights(), pool), ids);
            assertThat(b).containsExactly(a);
        }
    }
}
