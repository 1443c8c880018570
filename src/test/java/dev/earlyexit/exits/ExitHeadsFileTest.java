package dev.earlyexit.exits;

import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.format.SafetensorsWriter;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.store.ModelFingerprint;
import dev.earlyexit.tensor.F32Matrix;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Saving and loading heads: identical outputs after a round trip, clear errors for wrong or damaged files. */
class ExitHeadsFileTest {
    @TempDir
    Path dir;

    private final TinyModel tiny = new TinyModel(ModelConfig.NormKind.RMS, 21);
    private final String fp = ModelFingerprint.of(tiny.config, tiny.weights);

    private ExitHeads heads(HeadKind kind) {
        SplittableRandom r = new SplittableRandom(5);
        VocabularySubset subset = new VocabularySubset(new int[] {5, 3, 9, 1, 2, 17}, TinyModel.VOCAB);
        List<TrainableHead> list = new ArrayList<>();
        for (int layer = 1; layer < TinyModel.LAYERS; layer++) {
            TrainableHead h = HeadFactory.create(kind, HeadInit.RANDOM, layer, tiny.config, tiny.weights, subset, 3, r);
            for (Param p : h.params()) {
                float[] d = p.data();
                for (int i = 0; i < d.length; i++) {
                    d[i] += (float) (r.nextGaussian() * 0.1);
                }
            }
            list.add(h);
        }
        return new ExitHeads(list, fp, Map.of("lambda", "0.1"));
    }

    @ParameterizedTest
    @EnumSource(HeadKind.class)
    void onlyASubsetHeadMaySitAfterTheLastLayer(HeadKind kind) throws IOException {
        SplittableRandom r = new SplittableRandom(3);
        VocabularySubset subset = new VocabularySubset(new int[] {5, 3, 9}, TinyModel.VOCAB);
        TrainableHead last = HeadFactory.create(kind, HeadInit.COPY, TinyModel.LAYERS, tiny.config, tiny.weights,
                subset, 3, r);
        Path file = dir.resolve("last-" + kind.cliName() + ".safetensors");
        new ExitHeads(List.of(last), fp, Map.of()).save(file);
        if (kind == HeadKind.SUBSET) {
            assertThat(ExitHeads.load(file, tiny.config, tiny.weights, fp).layers()).containsExactly(TinyModel.LAYERS);
        } else {
            assertThatThrownBy(() -> ExitHeads.load(file, tiny.config, tiny.weights, fp))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("only a subset head may sit after the last layer");
        }
    }

    @ParameterizedTest
    @EnumSource(HeadKind.class)
    void saveAndReloadGivesBitIdenticalOutputs(HeadKind kind) throws IOException {
        ExitHeads saved = heads(kind);
        Path file = dir.resolve(kind.cliName() + ".safetensors");
        saved.save(file);
        ExitHeads loaded = ExitHeads.load(file, tiny.config, tiny.weights, fp);
        assertThat(loaded.kind()).isEqualTo(kind);
        assertThat(loaded.layers()).containsExactly(1, 2);
        assertThat(loaded.metadata()).containsEntry("lambda", "0.1").containsEntry("model_fingerprint", fp);
        SplittableRandom r = new SplittableRandom(9);
        float[] hidden = TinyModel.vec(r, 3 * TinyModel.DIM, 1);
        try (ThreadPool pool = new ThreadPool(2)) {
            for (int i = 0; i < saved.size(); i++) {
                ExitHead a = saved.head(i);
                ExitHead b = loaded.head(i);
                assertThat(b.outputSize()).isEqualTo(a.outputSize());
                assertThat(b.bytesPerCall()).isEqualTo(a.bytesPerCall());
                for (int t = 0; t < 3; t++) {
                    float[] za = new float[a.outputSize()];
                    float[] zb = new float[b.outputSize()];
                    a.logits(hidden, t * TinyModel.DIM, za, pool);
                    b.logits(hidden, t * TinyModel.DIM, zb, pool);
                    assertThat(zb).containsExactly(za);
                }
                for (int k = 0; k < a.outputSize(); k++) {
                    assertThat(b.tokenId(k)).isEqualTo(a.tokenId(k));
                    assertThat(b.indexOf(a.tokenId(k))).isEqualTo(k);
                }
            }
        }
    }

    @Test
    void subsetHeadMapsTokensBothWays() {
        ExitHeads h = heads(HeadKind.SUBSET);
        ExitHead head = h.head(0);
        assertThat(head.outputSize()).isEqualTo(6);
        assertThat(head.tokenId(2)).isEqualTo(9);
        assertThat(head.indexOf(9)).isEqualTo(2);
        assertThat(head.indexOf(4)).isEqualTo(-1);
    }

    @Test
    void refusesHeadsOfAnotherModel() throws IOException {
        Path file = dir.resolve("full.safetensors");
        heads(HeadKind.FULL).save(file);
        TinyModel other = new TinyModel(ModelConfig.NormKind.RMS, 22);
        String otherFp = ModelFingerprint.of(other.config, other.weights);
        assertThat(otherFp).isNotEqualTo(fp);
        assertThatThrownBy(() -> ExitHeads.load(file, other.config, other.weights, otherFp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("trained for a different model");
    }

    @Test
    void fingerprintChangesWithOneWeightAndIgnoresBf16Storage() {
        ModelWeights w = tiny.weights;
        // the same weights stored as bf16 give the same fingerprint as their bf16-rounded f32 values
        float[] cls = ((F32Matrix) w.classifier()).toArray();
        float[] rounded = cls.clone();
        for (int i = 0; i < rounded.length; i++) {
            rounded[i] = dev.earlyexit.tensor.BF16Matrix.toFloat(dev.earlyexit.tensor.BF16Matrix.toBf16(rounded[i]));
        }
        Matrix asBf16 = Matrix.of(DType.BF16, cls.clone(), TinyModel.VOCAB, TinyModel.DIM);
        Matrix asF32Rounded = new F32Matrix(rounded, TinyModel.VOCAB, TinyModel.DIM);
        String a = ModelFingerprint.of(tiny.config, withClassifier(w, asBf16));
        String b = ModelFingerprint.of(tiny.config, withClassifier(w, asF32Rounded));
        assertThat(a).isEqualTo(b).startsWith("sha256:");
        float[] changed = cls.clone();
        changed[17] += 0.5f;
        assertThat(ModelFingerprint.of(tiny.config, withClassifier(w, new F32Matrix(changed, TinyModel.VOCAB, TinyModel.DIM))))
                .isNotEqualTo(fp);
    }

    private static ModelWeights withClassifier(ModelWeights w, Matrix c) {
        return new ModelWeights(w.tokenEmbedding(), w.positionEmbedding(), w.layers(), w.finalNorm(), w.finalNormBias(),
                c, w.classifierBias());
    }

    @Test
    void truncatedFileIsAClearError() throws IOException {
        Path file = dir.resolve("full.safetensors");
        heads(HeadKind.FULL).save(file);
        long size = Files.size(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size - 100);
        }
        assertThatThrownBy(() -> ExitHeads.load(file, tiny.config, tiny.weights, fp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("truncated");
    }

    @Test
    void garbageFileIsAClearError() throws IOException {
        Path file = dir.resolve("garbage.safetensors");
        Files.write(file, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
        assertThatThrownBy(() -> ExitHeads.load(file, tiny.config, tiny.weights, fp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(file.toString());
        Path missing = dir.resolve("missing.safetensors");
        assertThatThrownBy(() -> ExitHeads.load(missing, tiny.config, tiny.weights, fp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("no exit-heads file");
    }

    @Test
    void unknownKindOrPlainSafetensorsIsAClearError() throws IOException {
        Path bogus = dir.resolve("bogus.safetensors");
        new SafetensorsWriter().metadata("format", ExitHeads.FORMAT).metadata("format_version", "1")
                .metadata("model_fingerprint", fp).metadata("kind", "mixture").metadata("layers", "1")
                .add("head.1.norm.weight", new float[TinyModel.DIM], TinyModel.DIM).write(bogus);
        assertThatThrownBy(() -> ExitHeads.load(bogus, tiny.config, tiny.weights, fp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("unknown head kind 'mixture'");

        Path plain = dir.resolve("plain.safetensors");
        new SafetensorsWriter().add("x", new float[4], 4).write(plain);
        assertThatThrownBy(() -> ExitHeads.load(plain, tiny.config, tiny.weights, fp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("not an exit-heads file");

        Path future = dir.resolve("future.safetensors");
        new SafetensorsWriter().metadata("format", ExitHeads.FORMAT).metadata("format_version", "9")
                .add("x", new float[4], 4).write(future);
        assertThatThrownBy(() -> ExitHeads.load(future, tiny.config, tiny.weights, fp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("version 9 is not supported");
    }

    @Test
    void defaultPathIsBesideTheModel() throws IOException {
        Path model = Files.createFile(dir.resolve("model.bin"));
        assertThat(ExitHeads.defaultPath(model, HeadKind.SUBSET))
                .isEqualTo(dir.toAbsolutePath().resolve("model.heads").resolve("subset.safetensors"));
        assertThat(ExitHeads.findDefault(model)).isEmpty();
        Path hfDir = Files.createDirectories(dir.resolve("hf"));
        assertThat(ExitHeads.defaultPath(hfDir, HeadKind.FULL))
                .isEqualTo(hfDir.toAbsolutePath().resolve("heads").resolve("full.safetensors"));
        heads(HeadKind.ADAPTER).save(ExitHeads.defaultPath(model, HeadKind.ADAPTER));
        assertThat(ExitHeads.findDefault(model)).contains(ExitHeads.defaultPath(model, HeadKind.ADAPTER));
    }
}
