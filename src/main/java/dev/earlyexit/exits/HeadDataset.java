package dev.earlyexit.exits;

import dev.earlyexit.decoding.BatchedGenerator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.F32Matrix;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

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

    /**
     * Continuations decoded together per worker: one at a time was 3.4x slower (101 s against 29.5 s for
     * stories15M's 120 training continuations, 2 workers; the same data bit for bit).
     */
    static final int GENERATION_ROWS = BatchedGenerator.MAX_ROWS;

    /**
     * Generates the sequences of {@code spec} and captures them at {@code layers} (1-based, ascending).
     * Each continuation has its own seed, so the data do not depend on how generation is spread over
     * threads: with f32 weights, one generator per thread of the model's pool, each single-threaded and
     * decoding {@link #GENERATION_ROWS} continuations together as one block ({@link BatchedGenerator}).
     */
    public static HeadDataset build(Transformer model, Tokenizer tok, int[] layers, Spec spec, Progress progress) {
        ModelConfig c = model.config();
        List<int[]> prompts = new ArrayList<>();
        for (String p : spec.prompts()) {
            prompts.add(encode(tok, c, p));
        }
        int jobs = prompts.size() * spec.samplesPerPrompt();
        int total = jobs + spec.texts().size();
        int[][] generated = new int[jobs][];
        AtomicInteger done = new AtomicInteger();
        Progress sync = progress == null ? null : (d, t) -> {
            synchronized (done) {
                progress.update(d, t);
            }
        };
        int workers = Math.min(Math.max(1, jobs), model.pool().threads());
        ModelWeights[] copies = new ModelWeights[workers];
        for (int w = 0; w < workers; w++) {
            copies[w] = w == 0 || workers == 1 ? model.weights() : ownMatrices(model.weights());
            if (copies[w] == null) {
                workers = 1;
                break;
            }
        }
        int nWorkers = workers;
        Thread[] threads = new Thread[nWorkers];
        Throwable[] failure = new Throwable[1];
        for (int w = 0; w < nWorkers; w++) {
            int worker = w;
            threads[w] = new Thread(() -> {
                try (ThreadPool one = new ThreadPool(1)) {
                    List<Integer> mine = new ArrayList<>();
                    for (int j = worker; j < jobs; j += nWorkers) {
                        mine.add(j);
                    }
                    int[][] starts = new int[mine.size()][];
                    SamplingOptions[] options = new SamplingOptions[mine.size()];
                    for (int i = 0; i < mine.size(); i++) {
                        int j = mine.get(i);
                        int pi = j / spec.samplesPerPrompt();
                        int s = j % spec.samplesPerPrompt();
                        starts[i] = prompts.get(pi);
                        options[i] = new SamplingOptions(spec.temperature(), 0, 1f, spec.seed() * 1_000_003L + pi * 1009L + s);
                    }
                    int[][] ids = BatchedGenerator.generate(new Transformer(c, copies[worker], one), starts, options,
                            spec.maxNewTokens(), GENERATION_ROWS, i -> {
                                if (sync != null) {
                                    sync.update(done.incrementAndGet(), total);
                                }
                            });
                    for (int i = 0; i < mine.size(); i++) {
                        int[] seq = Arrays.copyOf(starts[i], starts[i].length + ids[i].length);
                        System.arraycopy(ids[i], 0, seq, starts[i].length, ids[i].length);
                        generated[mine.get(i)] = seq;
                    }
                } catch (Throwable t) {
                    synchronized (failure) {
                        failure[0] = t;
                    }
                }
            }, "earlyexit-datagen-" + w);
            threads[w].start();
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while generating training data", e);
            }
        }
        if (failure[0] != null) {
            if (failure[0] instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(failure[0]);
        }
        List<int[]> sequences = new ArrayList<>(Arrays.asList(generated));
        int generatedTokens = 0;
        for (int j = 0; j < jobs; j++) {
            generatedTokens += generated[j].length - prompts.get(j / spec.samplesPerPrompt()).length;
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
            if (sync != null) {
                sync.update(done.incrementAndGet(), total);
            }
        }
        Summary summary = new Summary(sequences.size(), spec.prompts().size(), generatedTokens, textTokens,
                sequences.stream().mapToInt(s -> s.length).sum(), spec.samplesPerPrompt(), spec.maxNewTokens(),
                spec.temperature(), spec.seed());
        return capture(model, layers, sequences, summary);
    }

    /**
     * The same f32 weights behind new Matrix objects (a Matrix may be driven by one thread at a time, the
     * arrays themselves are only read), or null when some matrix is not f32.
     */
    private static ModelWeights ownMatrices(ModelWeights w) {
        LayerWeights[] layers = new LayerWeights[w.layers().length];
        for (int l = 0; l < layers.length; l++) {
            LayerWeights x = w.layers()[l];
            Matrix qkv = own(x.wqkv());
            Matrix wo = own(x.wo());
            Matrix up = own(x.wUp());
            Matrix down = own(x.wDown());
            if (qkv == null || wo == null || up == null || down == null) {
                return null;
            }
            layers[l] = new LayerWeights(x.attnNorm(), x.attnNormBias(), qkv, x.bqkv(), wo, x.bo(), x.mlpNorm(),
                    x.mlpNormBias(), up, x.bUp(), down, x.bDown(), x.qNorm(), x.kNorm());
        }
        Matrix emb = own(w.tokenEmbedding());
        Matrix cls = w.classifier() == w.tokenEmbedding() ? emb : own(w.classifier());
        if (emb == null || cls == null) {
            return null;
        }
        return new ModelWeights(emb, w.positionEmbedding(), layers, w.finalNorm(), w.finalNormBias(), cls,
                w.classifierBias());
    }

    private static Matrix own(Matrix m) {
        return m instanceof F32Matrix f ? new F32Matrix(f.storage(), f.offset(), f.rows(), f.cols()) : null;
    }

    /** Runs each sequence once as a block and keeps the hidden states at the head layers. */
    public static HeadDataset capture(Transformer model, int[] layers, List<int[]> sequences, Summary summary) {
        ModelConfig c = model.config();
        int d = c.dim();
        for (int i = 0; i < layers.length; i++) {
            if (layers[i] < 1 || layers[i] > c.layers() || (i > 0 && layers[i] <= layers[i - 1])) {
                throw new IllegalArgumentException("head layers must be ascending, each in [1, " + c.layers()
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
