package dev.earlyexit.exits;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.ModelFingerprint;
import dev.earlyexit.tensor.TrainKernels;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One complete run: new heads for a model (kind, init, layers), trained on a dataset, measured on a
 * held-out set before and after, and packed as {@link ExitHeads} with the run's settings and results
 * in the metadata. The CLI's train-heads and the tests both go through here.
 */
public final class HeadTraining {

    /** What to build and how to train it. {@code vocabSize} 0 picks the subset by {@code coverage}. */
    public record Setup(HeadKind kind, HeadInit init, int[] layers, int adapterRank, double coverage, int vocabSize,
                        TrainingOptions training) {
    }

    /** Everything a run produced. */
    public record Result(ExitHeads heads, TrainingHistory history, List<HeadMetrics> before, List<HeadMetrics> after,
                         double trainSeconds, double evalSeconds, VocabularySubset subset, int batch,
                         double modelEntropy) {
        /** Training positions processed per second (each through every head, forward and backward). */
        public double tokensPerSecond() {
            return (double) history.steps() * batch / Math.max(trainSeconds, 1e-9);
        }
    }

    private HeadTraining() {
    }

    /**
     * Default head layers: {@link #defaultLayers(int)}, and for subset heads also the last layer, where
     * a head over the few hundred tokens the model mostly predicts stands in for the full classifier.
     */
    public static int[] defaultLayers(int modelLayers, HeadKind kind) {
        int[] l = defaultLayers(modelLayers);
        if (kind != HeadKind.SUBSET) {
            return l;
        }
        int[] withLast = java.util.Arrays.copyOf(l, l.length + 1);
        withLast[l.length] = modelLayers;
        return withLast;
    }

    /** Default head layers: every layer but the last for models of up to 8 layers, else 4 evenly spaced. */
    public static int[] defaultLayers(int modelLayers) {
        if (modelLayers <= 8) {
            int[] l = new int[modelLayers - 1];
            for (int i = 0; i < l.length; i++) {
                l[i] = i + 1;
            }
            return l;
        }
        return new int[] {modelLayers / 5, 2 * modelLayers / 5, 3 * modelLayers / 5, 4 * modelLayers / 5};
    }

    /**
     * New, untrained heads for the setup (random weights from the training seed, one stream per head).
     * A head after the last layer is always a copy: see {@link HeadTrainer#isFrozen}.
     */
    public static List<TrainableHead> newHeads(Setup s, ModelConfig c, ModelWeights w, VocabularySubset subset) {
        List<TrainableHead> heads = new ArrayList<>();
        for (int layer : s.layers()) {
            SplittableRandom r = new SplittableRandom(s.training().seed() * 31 + layer);
            HeadInit init = layer == c.layers() ? HeadInit.COPY : s.init();
            heads.add(HeadFactory.create(s.kind(), init, layer, c, w, subset, s.adapterRank(), r));
        }
        return heads;
    }

    /** The reduced vocabulary of a subset run, chosen from the model's argmax over the training data. */
    public static VocabularySubset subset(Setup s, ModelConfig c, HeadDataset train) {
        if (s.kind() != HeadKind.SUBSET) {
            return null;
        }
        return VocabularySubset.fromCounts(train.argmaxCounts(), s.coverage(), s.vocabSize(), c.eosId(), c.bosId());
    }

    /** Builds, evaluates (untrained), trains and evaluates heads; returns them with their history and metrics. */
    public static Result run(Transformer model, Setup s, HeadDataset train, HeadDataset heldOut,
                             HeadTrainer.StepListener listener) {
        ModelConfig c = model.config();
        ModelWeights w = model.weights();
        VocabularySubset subset = subset(s, c, train);
        List<TrainableHead> heads = newHeads(s, c, w, subset);
        TrainKernels k = new TrainKernels(model.pool());
        HeadTrainer trainer = new HeadTrainer(model, heads, s.training(), k);
        long t0 = System.nanoTime();
        List<HeadMetrics> before = trainer.evaluate(heldOut);
        long t1 = System.nanoTime();
        TrainingHistory history = trainer.train(train, listener);
        long t2 = System.nanoTime();
        List<HeadMetrics> after = trainer.evaluate(heldOut);
        long t3 = System.nanoTime();
        double trainSeconds = (t2 - t1) / 1e9;
        double evalSeconds = ((t1 - t0) + (t3 - t2)) / 1e9;

        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("init", s.init().cliName());
        meta.put("lambda", Float.toString(s.training().lambda()));
        meta.put("seed", Long.toString(s.training().seed()));
        meta.put("steps", Integer.toString(s.training().steps()));
        meta.put("batch", Integer.toString(s.training().batch()));
        meta.put("lr", Float.toString(s.training().lr()));
        meta.put("weight_decay", Float.toString(s.training().weightDecay()));
        meta.put("warmup_steps", Integer.toString(s.training().warmupSteps()));
        meta.put("train_data", json(train.summary().toMap()));
        meta.put("held_out_data", json(heldOut.summary().toMap()));
        if (subset != null) {
            meta.put("vocab_coverage_train", Double.toString(subset.coverage(train.argmaxCounts())));
        }
        meta.put("held_out_metrics", json(after.stream().map(HeadMetrics::toMap).toList()));
        meta.put("untrained_held_out_metrics", json(before.stream().map(HeadMetrics::toMap).toList()));
        meta.put("held_out_model_entropy", String.format(java.util.Locale.ROOT, "%.4f", trainer.modelEntropy()));
        meta.put("train_seconds", String.format(java.util.Locale.ROOT, "%.2f", trainSeconds));
        meta.put("model_architecture", c.architecture());
        ExitHeads packed = new ExitHeads(heads, ModelFingerprint.of(c, w), meta);
        return new Result(packed, history, before, after, trainSeconds, evalSeconds, subset, s.training().batch(),
                trainer.modelEntropy());
    }

    static String json(Object o) {
        try {
            return new ObjectMapper().writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
