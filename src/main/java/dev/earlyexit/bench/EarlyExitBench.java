package dev.earlyexit.bench;

import dev.earlyexit.cli.*;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.Calibrator;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.SequenceProbe;
import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.EarlyExitResult;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bench --mode early-exit}: speed-up of early-exit greedy decoding over the full model, same
 * threads and precision, on held-out prompts, against how far it stays with the full model: token
 * agreement (teacher-forced on the full model's own greedy text: the share of its tokens that early exit
 * would also choose) and sequence match (how much of the early-exit text is the full model's). Says where
 * the time goes: layers (owed KV entries are filled inside the same blocks), heads, the final classifier.
 */
public final class EarlyExitBench {
    private EarlyExitBench() {
    }

    /** @param showProgress a progress bar on standard error: one step per prompt and setting */
    static Map<String, Object> run(LoadedModel model, List<String> prompts, int tokensWanted, int runs, int warmup,
                                   double[] epsilons, List<EarlyExitDecoder.KvFill> fills, ExitOptions exitOptions,
                                   ThreadPool pool, boolean showProgress) throws Exception {
        int steps = prompts.size() * (1 + epsilons.length * fills.size());
        try (Progress progress = Progress.start(showProgress, "early exit, " + threads(pool), steps)) {
            return measure(model, prompts, tokensWanted, runs, warmup, epsilons, fills, exitOptions, pool, progress);
        }
    }

    /** "1 thread", "2 threads": progress bar labels. */
    static String threads(ThreadPool pool) {
        return pool.threads() + (pool.threads() == 1 ? " thread" : " threads");
    }

    private static Map<String, Object> measure(LoadedModel model, List<String> prompts, int tokensWanted, int runs,
                                               int warmup, double[] epsilons, List<EarlyExitDecoder.KvFill> fills,
                                               ExitOptions exitOptions, ThreadPool pool, Progress progress)
            throws Exception {
        ModelConfig c = model.config();
        ConfidenceMetric metric = exitOptions.metric();
        HeadSet heads = exitOptions.headSet(model);
        Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
        Transformer tf = new Transformer(c, model.weights(), pool);
        Generator full = new Generator(tf);
        SequenceProbe probe = new SequenceProbe(tf, heads, List.of(metric));

        int P = prompts.size();
        int[][] promptIds = new int[P][];
        int[][] fullIds = new int[P][];
        long fullSteps = 0;
        List<Double> fullRunTps = new ArrayList<>(); // every timed full-model round, for the headline figure
        SequenceProbe.Result[] probes = new SequenceProbe.Result[P];
        for (int p = 0; p < P; p++) {
            promptIds[p] = GenerateCommand.encodePrompt(model, prompts.get(p));
            Generator.checkPrompt(promptIds[p], c);
            int tokens = Math.min(tokensWanted, c.maxSeqLen() - promptIds[p].length);
            FullDecode f = timeFullModel(full, promptIds[p], tokens, 1, warmup); // its ids; timed below
            fullIds[p] = f.ids();
            fullSteps += f.steps();
            int[] seq = concat(promptIds[p], fullIds[p]);
            probes[p] = probe.run(seq);
            progress.step();
        }
        long generatedTokens = Arrays.stream(fullIds).mapToLong(ids -> ids.length).sum();

        List<Map<String, Object>> rows = new ArrayList<>();
        for (double eps : epsilons) {
            for (EarlyExitDecoder.KvFill fill : fills) {
                Calibration.checkEpsilon(eps);
                double[] tau = exitOptions.thresholds(cal, heads, model, metric.id(), eps);
                EarlyExitDecoder d = new EarlyExitDecoder(tf, heads, tau, metric, fill);
                double eeMs = 0;
                long eeSteps = 0;
                double layerMs = 0;
                double headMs = 0;
                double classifierMs = 0;
                double copyMs = 0;
                long fillRows = 0;
                long headCalls = 0;
                long tokenLayers = 0;
                long agree = 0;
                long positions = 0;
                double prefixShare = 0;
                long sameTokens = 0;
                long allTokens = 0;
                int[] consulted = d.consultedLayers();
                int[] exits = new int[consulted.length + 1];
                // The full model runs in alternating rounds with this setting, and the speed-up is the ratio
                // of the two (timed alone before every setting, it measured ~20% slower than alternating).
                double fullMs = 0;
                double[][] fullRoundMs = new double[runs][P];
                for (int p = 0; p < P; p++) {
                    int tokens = fullIds[p].length;
                    for (int i = 0; i < warmup; i++) {
                        d.generate(promptIds[p], tokens, SamplingOptions.GREEDY, null, false);
                    }
                    double[] ms = new double[runs];
                    double[] fms = new double[runs];
                    EarlyExitResult r = null;
                    for (int i = 0; i < runs; i++) {
                        fms[i] = full.generate(promptIds[p], tokens, SamplingOptions.GREEDY, null, false).decodeMs();
                        fullRoundMs[i][p] = fms[i];
                        r = d.generate(promptIds[p], tokens, SamplingOptions.GREEDY, null, false);
                        ms[i] = r.generation().decodeMs();
                    }
                    eeMs += BenchCommand.median(ms);
                    fullMs += BenchCommand.median(fms);
                    eeSteps += r.generation().decodeSteps();
                    layerMs += r.layerMs();
                    headMs += r.headMs();
                    classifierMs += r.classifierMs();
                    copyMs += r.kvCopyMs();
                    fillRows += r.fillRows();
                    headCalls += r.headCalls();
                    tokenLayers += r.tokenLayers();
                    int[] e = r.exitsPerHead();
                    for (int k = 0; k < e.length; k++) {
                        exits[k] += e[k];
                    }
                    // Sequence match against the full model's greedy text.
                    int[] ids = r.generation().ids();
                    int prefix = 0;
                    while (prefix < ids.length && ids[prefix] == fullIds[p][prefix]) {
                        prefix++;
                    }
                    prefixShare += (double) prefix / tokens;
                    for (int i = 0; i < ids.length; i++) {
                        if (ids[i] == fullIds[p][i]) {
                            sameTokens++;
                        }
                    }
                    allTokens += tokens;
                    progress.step();
                    // Token agreement, teacher-forced on the full model's text (decode positions: token 1 on).
                    if (fill != EarlyExitDecoder.KvFill.EXACT) {
                        // The approximate cache is not the full model's: teacher-force the decode loop itself.
                        int[] chosen = d.generate(promptIds[p], tokens, SamplingOptions.GREEDY, null, false, fullIds[p])
                                .generation().ids();
                        for (int i = 1; i < tokens; i++) {
                            if (chosen[i] == fullIds[p][i]) {
                                agree++;
                            }
                            positions++;
                        }
                        continue;
                    }
                    SequenceProbe.Result pr = probes[p];
                    double[][] conf = restrict(pr.confidence()[0], heads, consulted);
                    double[] tauC = restrict(tau, heads, consulted);
                    int[][] argmax = restrict(pr.headArgmax(), heads, consulted);
                    for (int i = 1; i < tokens; i++) {
                        int pos = promptIds[p].length - 1 + i;
                        int k = EarlyExitDecoder.exitingHead(conf, pos, tauC);
                        int chosen = k < 0 ? pr.modelArgmax()[pos] : argmax[k][pos];
                        if (chosen == fullIds[p][i]) {
                            agree++;
                        }
                        positions++;
                    }
                }
                double eeTps = eeSteps / (eeMs / 1000.0);
                double fullTps = fullSteps / (fullMs / 1000.0);
                for (double[] round : fullRoundMs) {
                    fullRunTps.add(fullSteps / (Arrays.stream(round).sum() / 1000.0));
                }
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("epsilon", eps);
                row.put("kv_fill", fill == EarlyExitDecoder.KvFill.EXACT ? "exact" : "copy");
                row.put("tokens_per_s", GenerateCommand.round(eeTps));
                row.put("full_tokens_per_s", GenerateCommand.round(fullTps));
                row.put("speedup", GenerateCommand.round(eeTps / fullTps));
                row.put("token_agreement", GenerateCommand.round((double) agree / positions));
                row.put("sequence_match", GenerateCommand.round((double) sameTokens / allTokens));
                row.put("identical_prefix", GenerateCommand.round(prefixShare / P));
                row.put("mean_layers", GenerateCommand.round((double) tokenLayers / eeSteps));
                row.put("consulted_layers", consulted);
                Map<String, Integer> perLayer = new LinkedHashMap<>();
                String[] labels = HeadSet.exitLabels(consulted, c.layers());
                for (int k = 0; k <= consulted.length; k++) {
                    perLayer.put(labels[k], exits[k]);
                }
                row.put("exits_per_layer", perLayer);
                double total = layerMs + headMs + classifierMs + copyMs;
                Map<String, Object> time = new LinkedHashMap<>();
                time.put("layers_ms", GenerateCommand.round(layerMs));
                time.put("heads_ms", GenerateCommand.round(headMs));
                time.put("classifier_ms", GenerateCommand.round(classifierMs));
                time.put("kv_copy_ms", GenerateCommand.round(copyMs));
                time.put("layers_share", GenerateCommand.round(layerMs / total));
                time.put("heads_share", GenerateCommand.round(headMs / total));
                time.put("classifier_share", GenerateCommand.round(classifierMs / total));
                row.put("time", time);
                row.put("kv_fill_rows", fillRows);
                row.put("kv_fill_share_of_layer_rows", GenerateCommand.round((double) fillRows / (fillRows + tokenLayers)));
                row.put("head_calls_per_token", GenerateCommand.round((double) headCalls / eeSteps));
                rows.add(row);
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("mode", "early-exit");
        out.put("metric", metric.id());
        out.put("heads", heads.name());
        out.put("consult", exitOptions.consult);
        out.put("threads", pool.threads());
        out.put("prompts", prompts);
        out.put("runs", runs);
        out.put("full_tokens_per_s", GenerateCommand.round(
                BenchCommand.median(fullRunTps.stream().mapToDouble(Double::doubleValue).toArray())));
        out.put("generated_tokens", generatedTokens);
        out.put("results", rows);
        LayerWeights l0 = model.weights().layers()[0];
        out.put("bytes_per_layer", l0.wqkv().bytes() + l0.wo().bytes() + l0.wUp().bytes() + l0.wDown().bytes());
        Map<String, Long> headBytes = new LinkedHashMap<>();
        for (int k = 0; k < heads.size(); k++) {
            headBytes.put(Integer.toString(heads.head(k).layer()), heads.head(k).bytesPerCall());
        }
        out.put("bytes_per_head_call", headBytes);
        out.put("bytes_classifier", model.weights().classifier().bytes());
        return out;
    }

    /** The full model's greedy tokens for one prompt and the median decode time of its timed runs. */
    record FullDecode(int[] ids, double medianMs, long steps) {
    }

    /** Greedy full-model decoding of one prompt: {@code warmup} untimed runs, then the median of {@code runs}. */
    static FullDecode timeFullModel(Generator full, int[] promptIds, int tokens, int runs, int warmup) {
        for (int i = 0; i < warmup; i++) {
            full.generate(promptIds, tokens, SamplingOptions.GREEDY, null, false);
        }
        double[] ms = new double[runs];
        GenerationResult last = null;
        for (int i = 0; i < runs; i++) {
            last = full.generate(promptIds, tokens, SamplingOptions.GREEDY, null, false);
            ms[i] = last.decodeMs();
        }
        return new FullDecode(last.ids(), BenchCommand.median(ms), last.decodeSteps());
    }

    /** The rows of the consulted heads only, in their order. */
    private static double[][] restrict(double[][] byHead, HeadSet heads, int[] consulted) {
        double[][] r = new double[consulted.length][];
        for (int i = 0; i < consulted.length; i++) {
            r[i] = byHead[index(heads, consulted[i])];
        }
        return r;
    }

    private static int[][] restrict(int[][] byHead, HeadSet heads, int[] consulted) {
        int[][] r = new int[consulted.length][];
        for (int i = 0; i < consulted.length; i++) {
            r[i] = byHead[index(heads, consulted[i])];
        }
        return r;
    }

    private static double[] restrict(double[] byHead, HeadSet heads, int[] consulted) {
        double[] r = new double[consulted.length];
        for (int i = 0; i < consulted.length; i++) {
            r[i] = byHead[index(heads, consulted[i])];
        }
        return r;
    }

    private static int index(HeadSet heads, int layer) {
        int i = Arrays.binarySearch(heads.layers(), layer);
        if (i < 0) {
            throw new IllegalStateException("no head at layer " + layer);
        }
        return i;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static List<String> defaultPrompts() {
        return Calibrator.HELD_OUT_PROMPTS;
    }
}
