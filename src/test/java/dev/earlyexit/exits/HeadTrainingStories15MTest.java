package dev.earlyexit.exits;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.cli.Main;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Learning is real on the default model: short trainings (seconds) on the model's own generations.
 * Skipped when stories15M is absent.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HeadTrainingStories15MTest {
    private LoadedModel model;
    private ThreadPool pool;
    private Transformer transformer;
    private HeadDataset train;
    private HeadDataset heldOut;
    private final int[] layers = {1, 2, 3, 4, 5};

    @BeforeAll
    void data() throws Exception {
        Path path = TestModels.stories15M();
        model = new ModelResolver(new ModelCache(Files.createTempDirectory("cache")), s -> { })
                .load(path.toString(), null, DType.F32);
        pool = new ThreadPool(2);
        transformer = new Transformer(model.config(), model.weights(), pool);
        train = HeadDataset.build(transformer, model.requireTokenizer(), layers,
                new HeadDataset.Spec(HeadDataset.TRAIN_PROMPTS, 3, 60, 1f, 1, List.of(), 0), null);
        heldOut = HeadDataset.build(transformer, model.requireTokenizer(), layers,
                new HeadDataset.Spec(HeadDataset.HELD_OUT_PROMPTS.subList(0, 3), 1, 60, 1f, 99, List.of(), 0), null);
    }

    @AfterAll
    void close() {
        if (pool != null) {
            pool.close();
        }
    }

    private HeadTraining.Setup subsetSetup(int steps, HeadInit init) {
        float lr = init == HeadInit.RANDOM ? 1e-2f : 3e-3f;
        return new HeadTraining.Setup(HeadKind.SUBSET, init, layers, 8, 0.95, 0,
                new TrainingOptions(0.1f, steps, 32, lr, 0.01f, 5, 0.1f, 3));
    }

    @Test
    void headsTrainedFromRandomAgreeFarMoreThanUntrainedOnes() {
        HeadTraining.Result r = HeadTraining.run(transformer, subsetSetup(60, HeadInit.RANDOM), train, heldOut, null);
        List<HeadMetrics> before = r.before();
        List<HeadMetrics> after = r.after();
        for (int h = 0; h < layers.length; h++) {
            assertThat(before.get(h).agreement()).as("untrained head %d", layers[h]).isLessThan(0.05);
            assertThat(after.get(h).agreement()).as("trained head %d", layers[h])
                    .isGreaterThan(before.get(h).agreement() + 0.15);
            assertThat(after.get(h).entropy()).as("entropy of head %d", layers[h]).isLessThan(before.get(h).entropy());
        }
        double shallow = (after.get(0).agreement() + after.get(1).agreement()) / 2;
        double deep = (after.get(3).agreement() + after.get(4).agreement()) / 2;
        assertThat(deep).isGreaterThan(shallow);
        assertThat(r.history().steps()).isEqualTo(60);
    }

    @Test
    void trainedHeadsAgreeMoreTheDeeperTheyAre() {
        HeadTraining.Result untrained = HeadTraining.run(transformer, subsetSetup(0, HeadInit.RANDOM), train, heldOut, null);
        HeadTraining.Result r = HeadTraining.run(transformer, subsetSetup(40, HeadInit.COPY), train, heldOut, null);
        List<HeadMetrics> after = r.after();
        for (int h = 0; h < layers.length; h++) {
            assertThat(after.get(h).agreement()).as("trained head %d vs an untrained random one", layers[h])
                    .isGreaterThan(untrained.after().get(h).agreement() + 0.1);
            if (h > 0) {
                assertThat(after.get(h).agreement()).as("head %d vs head %d", layers[h], layers[h - 1])
                        .isGreaterThan(after.get(h - 1).agreement() - 0.05);
            }
        }
        assertThat(after.get(4).agreement()).isGreaterThan(after.get(0).agreement() + 0.25);
        // training moved the shallow copied head, which starts out useless after one layer
        assertThat(after.get(0).agreement()).isGreaterThan(r.before().get(0).agreement() + 0.05);
    }

    @Test
    void trainingIsDeterministicForASeedWhateverTheThreadCount() {
        HeadTraining.Result a = HeadTraining.run(transformer, subsetSetup(8, HeadInit.RANDOM), train, heldOut, null);
        HeadTraining.Result b;
        try (ThreadPool one = new ThreadPool(1)) {
            Transformer t1 = new Transformer(model.config(), model.weights(), one);
            b = HeadTraining.run(t1, subsetSetup(8, HeadInit.RANDOM), train, heldOut, null);
        }
        for (int h = 0; h < layers.length; h++) {
            List<Param> pa = a.heads().head(h).params();
            List<Param> pb = b.heads().head(h).params();
            for (int i = 0; i < pa.size(); i++) {
                assertThat(pb.get(i).data()).as(pa.get(i).name()).containsExactly(pa.get(i).data());
            }
            assertThat(b.after().get(h)).isEqualTo(a.after().get(h));
        }
    }

    @Test
    void savedAndReloadedHeadsGiveIdenticalOutputs(@TempDir Path dir) throws Exception {
        HeadTraining.Result r = HeadTraining.run(transformer, subsetSetup(5, HeadInit.COPY), train, heldOut, null);
        Path file = dir.resolve("subset.safetensors");
        r.heads().save(file);
        ExitHeads loaded = ExitHeads.load(file, model);
        assertThat(loaded.metadata()).containsKeys("held_out_metrics", "train_data", "lambda", "seed", "init");
        int dim = model.config().dim();
        for (int h = 0; h < layers.length; h++) {
            ExitHead a = r.heads().head(h);
            ExitHead b = loaded.head(h);
            float[] za = new float[a.outputSize()];
            float[] zb = new float[b.outputSize()];
            for (int p = 0; p < heldOut.size(); p += 37) {
                a.logits(heldOut.hidden(h), p * dim, za, pool);
                b.logits(heldOut.hidden(h), p * dim, zb, pool);
                assertThat(zb).containsExactly(za);
            }
        }
    }

    @Test
    void trainHeadsCommandPrintsJsonAndStoresHeads(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("h").resolve("subset.safetensors");
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            code = Main.run("train-heads", "--model", model.source().toString(), "--kind", "subset", "--layers", "2,4",
                    "--steps", "3", "--batch", "16", "--samples", "1", "--held-out-samples", "1", "--max-new-tokens", "16",
                    "--threads", "2", "--out", out.toString(), "--json", "--no-progress");
        } finally {
            System.setOut(saved);
        }
        assertThat(code).isZero();
        JsonNode json = new ObjectMapper().readTree(buf.toString(StandardCharsets.UTF_8));
        assertThat(json.get("seconds").asDouble()).isPositive();
        assertThat(json.get("heads")).hasSize(2);
        assertThat(json.get("heads").get(1).get("layer").asInt()).isEqualTo(4);
        assertThat(json.get("heads").get(1).has("agreement")).isTrue();
        assertThat(json.get("heads").get(1).has("entropy")).isTrue();
        assertThat(out).exists();
        assertThat(dir.resolve("h").resolve("subset.metrics.json")).exists();
        assertThat(dir.resolve("h").resolve("subset.metrics.csv")).exists();
        assertThat(dir.resolve("h").resolve("subset.png")).exists();
        assertThat(ExitHeads.load(out, model).layers()).containsExactly(2, 4);
    }
}
