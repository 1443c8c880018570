package dev.earlyexit.perf;

import dev.earlyexit.exits.HeadDataset;
import dev.earlyexit.exits.HeadInit;
import dev.earlyexit.exits.HeadKind;
import dev.earlyexit.exits.HeadMetrics;
import dev.earlyexit.exits.HeadTraining;
import dev.earlyexit.exits.TrainingOptions;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;

import java.util.List;
import java.util.Locale;

/**
 * Manual experiment (not a test): builds the default training and held-out data once, then trains one
 * configuration per argument "kind:init:lambda:steps:batch:lr" and prints held-out agreement and entropy
 * per layer. Usage: java ... HeadSweep MODEL SAMPLES THREADS CONFIG...
 */
public final class HeadSweep {
    public static void main(String[] args) throws Exception {
        LoadedModel m = new ModelResolver(ModelCache.defaultCache(), System.err::println).load(args[0], null, DType.F32);
        int samples = Integer.parseInt(args[1]);
        try (ThreadPool pool = new ThreadPool(Integer.parseInt(args[2]))) {
            Transformer t = new Transformer(m.config(), m.weights(), pool);
            int[] layers = HeadTraining.defaultLayers(m.config().layers());
            long d0 = System.nanoTime();
            HeadDataset train = HeadDataset.build(t, m.requireTokenizer(), layers, new HeadDataset.Spec(
                    HeadDataset.TRAIN_PROMPTS, samples, 200, 1f, 1, List.of(), 0), null);
            HeadDataset held = HeadDataset.build(t, m.requireTokenizer(), layers, new HeadDataset.Spec(
                    HeadDataset.HELD_OUT_PROMPTS, 2, 200, 1f, 1 + 7919, List.of(), 0), null);
            System.out.printf(Locale.ROOT, "data: %d train, %d held-out positions in %.1f s%n", train.size(), held.size(),
                    (System.nanoTime() - d0) / 1e9);
            for (int a = 3; a < args.length; a++) {
                String[] p = args[a].split(":");
                TrainingOptions o = new TrainingOptions(Float.parseFloat(p[2]), Integer.parseInt(p[3]),
                        Integer.parseInt(p[4]), Float.parseFloat(p[5]), 0.01f, Math.min(10, Integer.parseInt(p[3])), 0.1f, 1);
                HeadTraining.Setup s = new HeadTraining.Setup(HeadKind.parse(p[0]), HeadInit.parse(p[1]), layers, 32,
                        0.97, 0, o);
                HeadTraining.Result r = HeadTraining.run(t, s, train, held, null);
                StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-40s train %.1f s %.0f tok/s |",
                        args[a], r.trainSeconds(), r.tokensPerSecond()));
                for (int h = 0; h < r.after().size(); h++) {
                    HeadMetrics x = r.after().get(h);
                    sb.append(String.format(Locale.ROOT, " L%d %.3f/%.2f/c%.3f (%.3f/%.2f/c%.3f)", x.layer(), x.agreement(),
                            x.entropy(), x.confidence(), r.before().get(h).agreement(), r.before().get(h).entropy(),
                            r.before().get(h).confidence()));
                }
                sb.append(String.format(Locale.ROOT, " | model H %.2f", r.modelEntropy()));
                if (r.subset() != null) {
                    sb.append(" |V'|=").append(r.subset().size());
                }
                System.out.println(sb);
            }
        }
    }
}
