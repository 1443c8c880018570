package dev.earlyexit.calibration;

import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.exits.ExitHeads;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelFingerprint;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;

import java.lang.reflect.Constructor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Throwaway experiment: the planner's predictions on sampled vs greedy sets, fixed lengths and an oracle. */
public final class PlanReplayExperiment {
    public static void main(String[] args) throws Exception {
        LoadedModel m = new ModelResolver(ModelCache.defaultCache(), System.err::println).load(args[0], null, DType.F32);
        Path headsFile = Path.of(args[1]);
        ExitHeads trained = ExitHeads.load(headsFile, m.config(), m.weights(), ModelFingerprint.of(m.config(), m.weights()));
        HeadSet heads = HeadSet.fromFile(trained.kind().cliName(), headsFile, trained.heads());
        Calibration cal = Calibration.load(Path.of(args[2]));
        List<ConfidenceMetric> metrics = List.of(ConfidenceMetric.byName("max-prob"));
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            List<int[]> calPrompts = encode(m, Calibrator.CALIBRATION_PROMPTS);
            List<int[]> heldPrompts = encode(m, Calibrator.HELD_OUT_PROMPTS);
            MeasuredCosts costs = MeasuredCosts.measure(tf, heads, metrics.get(0), calPrompts.get(0), 48);
            System.out.println("costs " + costs);
            List<Calibrator.Sequence> sampled = Calibrator.generate(tf, calPrompts,
                    new Calibrator.SetOptions(4, 128, 1.0f, 0.95f, 1234));
            List<Calibrator.Sequence> greedyFromSamples = greedyFrom(tf, sampled, 128);
            List<Calibrator.Sequence> heldGreedy = new ArrayList<>();
            Generator g = new Generator(tf);
            for (int[] p : heldPrompts) {
                GenerationResult r = g.generate(p, 200, SamplingOptions.GREEDY, null);
                heldGreedy.add(new Calibrator.Sequence(concat(p, r.ids()), p.length));
            }
            AcceptanceModel[] models = new AcceptanceModel[heads.size()];
            for (int k = 0; k < models.length; k++) {
                models[k] = cal.acceptance("max-prob", k);
            }
            String[] names = {"sampled", "greedy-from-samples", "held-out greedy"};
            List<List<Calibrator.Sequence>> sets = List.of(sampled, greedyFromSamples, heldGreedy);
            int last = heads.size() - 1;
            for (int s = 0; s < sets.size(); s++) {
                Calibrator.Collected c = Calibrator.collect(tf, heads, metrics, sets.get(s));
                DraftPlanner r = DraftPlanner.replayer(c, "max-prob", models, costs, m.config().layers());
                DraftPlan plan = DraftPlanner.plan(c, "max-prob", models, costs, m.config().layers(), 16);
                double full = m.config().layers() * costs.layerMs() + costs.classifierMs();
                System.out.printf("== %s: %d positions, agreement of last head %.3f%n", names[s], c.positions(),
                        frac(c.agrees()[last]));
                System.out.println("plan " + plan.describe() + " predicted " + full / plan.predictedMsPerToken());
                for (String spec : new String[] {"6:0.6:0.8:8:0", "6:0.6:0.8:8:0.9", "6:0.3:0.5:12:0"}) {
                    String[] p = spec.split(":");
                    DraftPlanner.Outcome o = r.replay(new int[] {last}, Double.parseDouble(p[1]), Double.parseDouble(p[2]),
                            Double.parseDouble(p[4]), Integer.parseInt(p[3]));
                    System.out.printf("  %-18s %.3fx acc %.3f apv %.2f%n", spec, full / o.msPerToken(), o.acceptance(),
                            o.acceptedPerVerification());
                }
                for (int L : new int[] {2, 4, 6, 8, 10, 12, 16}) {
                    DraftPlanner.Outcome o = r.replay(new int[] {last}, 0.0, 0.0, 0.0, L);
                    System.out.printf("  fixed %-2d          %.3fx acc %.3f apv %.2f%n", L, full / o.msPerToken(),
                            o.acceptance(), o.acceptedPerVerification());
                }
                // oracle: a chance of 1 where the head agrees, 0 where not
                double[][] chance = new double[heads.size()][c.positions()];
                for (int k = 0; k < heads.size(); k++) {
                    for (int i = 0; i < c.positions(); i++) {
                        chance[k][i] = c.agrees()[k][i] ? 1 : 0;
                    }
                }
                Constructor<DraftPlanner> ctor = DraftPlanner.class.getDeclaredConstructor(double[][].class,
                        boolean[][].class, int[].class, int[].class, int.class, MeasuredCosts.class);
                ctor.setAccessible(true);
                DraftPlanner oracle = ctor.newInstance(chance, c.agrees(), c.sequenceBounds(), c.layers(),
                        m.config().layers(), costs);
                for (int L : new int[] {8, 16}) {
                    DraftPlanner.Outcome o = oracle.replay(new int[] {last}, 0.5, 0.5, 0.0, L);
                    System.out.printf("  oracle %-2d         %.3fx acc %.3f apv %.2f%n", L, full / o.msPerToken(),
                            o.acceptance(), o.acceptedPerVerification());
                }
            }
        }
    }

    static List<Calibrator.Sequence> greedyFrom(Transformer tf, List<Calibrator.Sequence> sampled, int tokens) {
        Generator g = new Generator(tf);
        List<Calibrator.Sequence> out = new ArrayList<>();
        for (int i = 0; i < sampled.size(); i++) {
            Calibrator.Sequence s = sampled.get(i);
            int prefix = Math.min(s.ids().length, s.promptLength() + 8 * (i % 4));
            int[] p = java.util.Arrays.copyOf(s.ids(), prefix);
            GenerationResult r = g.generate(p, tokens, SamplingOptions.GREEDY, null);
            out.add(new Calibrator.Sequence(concat(p, r.ids()), p.length));
        }
        return out;
    }

    static List<int[]> encode(LoadedModel m, List<String> prompts) {
        List<int[]> out = new ArrayList<>();
        for (String p : prompts) {
            out.add(dev.earlyexit.cli.GenerateCommand.encodePrompt(m, p));
        }
        return out;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static double frac(boolean[] b) {
        int n = 0;
        for (boolean x : b) {
            n += x ? 1 : 0;
        }
        return (double) n / b.length;
    }
}
