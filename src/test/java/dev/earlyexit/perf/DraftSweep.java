package dev.earlyexit.perf;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.DraftPlan;
import dev.earlyexit.calibration.Calibrator;
import dev.earlyexit.calibration.ThresholdRule;
import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SelfSpeculativeDecoder;
import dev.earlyexit.decoding.SpeculativeSweep;
import dev.earlyexit.exits.ExitHeads;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelFingerprint;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Manual experiment (not a test): greedy DSSD with draft plans "layers:draft:continue:maxDraft" (e.g.
 * "6:0.6:0.8:8", "5,6:0.3:0.5:12:0.7", then the last-draft threshold and the metric) against the LayerSkip baseline "skip:layer:length", on the held-out
 * prompts, all settings in alternating rounds; prints the median tokens/s of each and its ratio to the
 * first setting. "full" is the full model; "eps:E:maxDraft[:layers]" the paper's DSSD at ε E (default rule,
 * max-prob) consulting the listed head layers (default: every head with a finite threshold).
 * Usage: java ... DraftSweep MODEL HEADS CALIBRATION ROUNDS TOKENS SETTING...
 */
public final class DraftSweep {
    public static void main(String[] args) throws Exception {
        LoadedModel m = new ModelResolver(ModelCache.defaultCache(), System.err::println).load(args[0], null, DType.F32);
        Path headsFile = Path.of(args[1]);
        ExitHeads trained = ExitHeads.load(headsFile, m.config(), m.weights(), ModelFingerprint.of(m.config(), m.weights()));
        HeadSet heads = HeadSet.fromFile(trained.kind().cliName(), headsFile, trained.heads());
        Calibration cal = Calibration.load(Path.of(args[2]));
        int rounds = Integer.parseInt(args[3]);
        int tokens = Integer.parseInt(args[4]);
        List<int[]> prompts = new ArrayList<>();
        for (String p : Calibrator.HELD_OUT_PROMPTS) {
            prompts.add(dev.earlyexit.cli.GenerateCommand.encodePrompt(m, p));
        }
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            List<String> names = new ArrayList<>();
            List<SelfSpeculativeDecoder> decoders = new ArrayList<>();
            for (int a = 5; a < args.length; a++) {
                String[] p = args[a].split(":");
                names.add(args[a]);
                if (p[0].equals("full")) {
                    decoders.add(null);
                } else if (p[0].equals("eps")) {
                    double[] tau = cal.thresholds("max-prob", Double.parseDouble(p[1]), ThresholdRule.DEFAULT);
                    if (p.length > 3) {
                        List<Integer> keep = Arrays.stream(p[3].split(",")).map(Integer::valueOf).toList();
                        for (int k = 0; k < tau.length; k++) {
                            if (!keep.contains(heads.layers()[k])) {
                                tau[k] = Double.POSITIVE_INFINITY;
                            }
                        }
                    }
                    System.err.println(args[a] + ": thresholds " + Arrays.toString(tau));
                    decoders.add(CalibratedDraft.of(heads, tau, ConfidenceMetric.byName("max-prob"), Integer.parseInt(p[2]))
                            .orElseThrow().decoder(tf));
                } else if (p[0].equals("skip")) {
                    int layer = Integer.parseInt(p[1]);
                    int k = Arrays.stream(heads.layers()).boxed().toList().indexOf(layer);
                    decoders.add(SelfSpeculativeDecoder.layerSkip(tf, heads.head(k), Integer.parseInt(p[2])));
                } else {
                    int[] layers = Arrays.stream(p[0].split(",")).mapToInt(Integer::parseInt).toArray();
                    String metricId = p.length > 5 ? p[5] : "max-prob";
                    DraftPlan plan = new DraftPlan(metricId, layers, Double.parseDouble(p[1]), Double.parseDouble(p[2]),
                            p.length > 4 ? Double.parseDouble(p[4]) : 0.0, Integer.parseInt(p[3]), Double.NaN,
                            Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
                    decoders.add(CalibratedDraft.planned(heads, cal, plan, ConfidenceMetric.byName(metricId)).decoder(tf));
                }
            }
            double[][] tps = new double[decoders.size()][rounds];
            SpeculativeSweep.Row[] last = new SpeculativeSweep.Row[decoders.size()];
            Generator full = new Generator(tf);
            for (SelfSpeculativeDecoder d : decoders) {
                if (d == null) {
                    SpeculativeSweep.fullModel(full, prompts.subList(0, 2), tokens);
                } else {
                    SpeculativeSweep.run(d, "warm-up", -1, prompts.subList(0, 2), tokens);
                }
            }
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < decoders.size(); i++) {
                    if (decoders.get(i) == null) {
                        last[i] = SpeculativeSweep.fullModel(full, prompts, tokens);
                    } else {
                        last[i] = SpeculativeSweep.run(decoders.get(i), names.get(i), -1, prompts, tokens);
                    }
                    tps[i][r] = last[i].tokensPerSecond();
                }
            }
            double base = median(tps[0]);
            for (int i = 0; i < decoders.size(); i++) {
                System.out.printf(Locale.ROOT, "%-22s %7.1f tok/s  %.3fx  acceptance %.3f  accepted/verification %.2f%n",
                        names.get(i), median(tps[i]), median(tps[i]) / base, last[i].acceptanceRate(),
                        last[i].meanAcceptedPerVerification());
            }
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
