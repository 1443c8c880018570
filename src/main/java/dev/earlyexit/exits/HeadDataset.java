package dev.earlyexit.exits;

import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Training (or held-out) data for exit heads, made by the frozen model itself: continuations sampled
 * (seeded) from prompts, plus optional teacher-forced text. Each sequence runs once as one block through
 * the model, layer range by layer range, and we keep, for every position, the hidden state after each
 * head layer, the final hidden state (before the final norm) and the model's argmax.
 *
 * <p>The targets p_model are not stored (32000 floats per position would be 128 KB each); the trainer
 * recomputes them for each batch from the final hidden state with the frozen final norm and
 * classifier. That is exact and costs one classifier pass per batch, less than one full head's forward.
 */
public final class HeadDataset {
    /** The paper's training prompts. */
    public static final List<String> TRAIN_PROMPTS = List.of(
            "This is an example script:", "My name is", "I am a", "Welcome to", "what is a");
    /** Held-out prompts, none of the training ones. */
    public static final List<String> HELD_OUT_PROMPTS = List.of(
            "Once upon a time", "One day, a little", "The sun was", "Lily and Ben", "There was a big");

    /** How the data was made, stored with the heads. */
    public record Summary(int sequences, int prompts, int generatedTokens, int textTokens, int positions,
                          int samplesPerPrompt, int maxNewTokens, float temperature, long seed) {
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("sequences", sequences);
            m.put("prompts", prompts);
            m.put("generated_tokens", generatedTokens);
            m.put("text_tokens", textTokens);
            m.put("positions", positions);
            m.put("samples_per_prompt", samplesPerPrompt);
            m.put("max_new_tokens", maxNewTokens);
            m.put("temperature", temperature);
            m.put("seed", seed);
            return m;
        }
    }

    /** What to generate. */
    public record Spec(List<String> prompts, int samplesPerPrompt, int maxNewTokens, float temperature, long seed,
                       List<String> texts, int maxTextTokens) {
    }

    /** Called after each sequence with (done, total). */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total);
    }

    private final int dim;
    private final int[] layers;
    private final int size;
    private final float[][] hidden;
    private final float[] finalHidden;
    private final int[] modelArgmax;
    private final long[] argmaxCounts;
    private final Summary summary;

    private HeadDataset(int dim, int[] layers, int size, float[][] hidden, float[] finalHidden, int[] modelArgmax,
                        long[] argmaxCounts, Summary summary) {
        this.dim = dim;
        this.layers = layers;
        this.size = size;
        this.hidden = hidden;
        this.finalHidden = finalHidden;
        this.modelArgmax = modelArgmax;
        this.argmaxCounts = argmaxCounts;
        this.summary = summary;
    }

    /** Generates the sequences of {@code spec} and captures them at {@code layers} (1-based, ascending). */
    public static HeadDataset build(Transformer model, Tokenizer tok, int[] layers, Spec spec, Progress progress) {
        ModelConfig c = model.config();
        List<int[]> sequences = new ArrayList<>();
        int generated = 0;
        int total = spec.prompts().size() * spec.samplesPerPrompt() + spec.texts().size();
        Generator gen = new Generator(model);
        int done = 0;
        for (int pi = 0; pi < spec.prompts().size(); pi++) {
            int[] prompt = encode(tok, c, spec.prompts().get(pi));
            for (int s = 0; s < spec.samplesPerPrompt(); s++) {
                long seed = spec.seed() * 1_000_003L + pi * 1009L + s;
                SamplingOptions opts = new SamplingOptions(spec.temperature(), 0, 1f, seed);
                GenerationResult r = gen.generate(prompt, spec.maxNewTokens(), opts, null);
                int[] seq = Arrays.copyOf(prompt, prompt.length + r.ids().length);
                System.arraycopy(r.ids(), 0, seq, prompt.length, r.ids().length);
                sequences.add(seq);
                generated += r.ids().length;
                if (progress != null) {
                    progress.update(++done, total);
                }
            }
        }
        int textTokens = 0;
        for (String text : spec.texts()) {
            int[] ids = tok.encode(text);
            int chunk = c.maxSeqLen() - (c.bosId() >= 0 ? 1 : 0);
            for (int off = 0; off < ids.length && textTokens < spec.maxTextTokens(); off += chunk) {
                int n = Math.min(Math.min(chunk, ids.length - off), spec.maxTextTokens() - textTokens);
                int[] seq = new int[n + (c.bosId() >= 0 ? 1 : 0)];
                int k = 0;
                if (c.bosId() >= 0) {
                    seq[k++] = c.bosId();
                }
                System.arraycopy(ids, off, seq, k, n);
                sequences.add(seq);
                textTokens += n;
            }
            if (progress != null) {
                progress.update(++done, total);
            }
        }
        Summary summary = new Summary(sequences.size(), spec.prompts().size(), generated, textTokens,
                sequences.stream().mapToInt(s -> s.length).sum(), spec.samplesPerPrompt(), spec.maxNewTokens(),
                spec.temperature(), spec.seed());
        return capture(model, layers, sequences, summary);
    }

    /** Runs each sequence once as a block and keeps the hidden states at the head layers. */
    public static HeadDataset capture(Transformer model, int[] layers, List<int[]> sequences, Summary summary) {
        ModelConfig c = model.config();
        int d = c.dim();
        for (int i = 0; i < layers.length; i++) {
            if (layers[i] < 1 || layers[i] >= c.layers() || (i > 0 && layers[i] <= layers[i - 1])) {
                throw new IllegalArgumentException("head layers must be ascending, each in [1, " + (c.layers() - 1)
                        + "], got " + Arrays.toString(layers));
            }
        }
        int positions = 0;
        int longest = 1;
        for (int[] s : sequences) {
            positions += s.length;
            longest = Math.max(longest, s.length);
        }
        float[][] hidden = new float[layers.length][positions * d];
        float[] fin = new float[positions * d];
        int[] argmax = new int[positions];
        long[] counts = new long[c.vocabSize()];
        float[] x = new float[longest * d];
        float[] logits = new float[longest * c.vocabSize()];
        KVCache cache = new KVCache(c);
        int pos = 0;
        for (int[] seq : sequences) {
            int T = seq.length;
            cache.clear();
            model.embed(seq, 0, T, 0, x);
            int prev = 0;
            for (int k = 0; k < layers.length; k++) {
                model.forward(x, T, prev, layers[k], cache);
                System.arraycopy(x, 0, hidden[k], pos * d, T * d);
                prev = layers[k];
            }
            model.forward(x, T, prev, c.layers(), cache);
            System.arraycopy(x, 0, fin, pos * d, T * d);
            model.logitsBlock(x, T, logits);
            for (int t = 0; t < T; t++) {
                int a = Kernels.argmax(logits, t * c.vocabSize(), c.vocabSize());
                argmax[pos + t] = a;
                counts[a]++;
            }
            pos += T;
        }
        return new HeadDataset(d, layers.clone(), positions, hidden, fin, argmax, counts, summary);
    }

    static int[] encode(Tokenizer tok, ModelConfig c, String text) {
        if (tok == null) {
            throw new IllegalArgumentException("training heads from prompts needs the model's tokenizer");
        }
        int[] body = tok.encode(text);
        if (c.bosId() < 0) {
            return body;
        }
        int[] ids = new int[body.length + 1];
        ids[0] = c.bosId();
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }

    public int size() {
        return size;
    }

    public int dim() {
        return dim;
    }

    public int[] layers() {
        return layers.clone();
    }

    /** Hidden states after head layer index k (not the layer number), [size, dim]. */
    public float[] hidden(int k) {
        return hidden[k];
    }

    /** Hidden states after the last layer, before the final norm, [size, dim]. */
    public float[] finalHidden() {
        return finalHidden;
    }

    public int modelArgmax(int position) {
        return modelArgmax[position];
    }

    /** How often the model's argmax is each token, over all positions (what a subset head should cover). */
    public long[] argmaxCounts() {
        return argmaxCounts.clone();
    }

    public Summary summary() {
        return summary;
    }

    /** Bytes held. */
    public long bytes() {
        return 4L * size * dim * (layers.length + 1) + 4L * size;
    }
}
