package dev.earlyexit.decoding;

import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;

import java.util.Arrays;

/**
 * Plain autoregressive generation with the full model: the prompt in one block, then one token per
 * step through every layer. The baseline that early exit and speculative decoding are measured
 * against. The decode loop allocates nothing.
 */
public final class Generator {

    /** Receives each generated id as soon as it is chosen (for streaming). */
    @FunctionalInterface
    public interface TokenListener {
        void onToken(int id);
    }

    private final Transformer model;
    private final KVCache cache;
    private final float[] x;
    private final float[] logits;
    private final int[] stopIds;

    public Generator(Transformer model) {
        this.model = model;
        ModelConfig c = model.config();
        this.cache = new KVCache(c);
        this.x = new float[c.dim()];
        this.logits = new float[c.vocabSize()];
        this.stopIds = stopIds(c);
    }

    /**
     * The ids that end generation: EOS, and for llama2.c checkpoints also BOS, which TinyStories
     * models emit between stories (llama2.c's own sampler stops on it too).
     */
    public static int[] stopIds(ModelConfig c) {
        if (c.architecture().equals("llama2.c") && c.bosId() >= 0) {
            return c.eosId() >= 0 ? new int[] {c.eosId(), c.bosId()} : new int[] {c.bosId()};
        }
        return c.eosId() >= 0 ? new int[] {c.eosId()} : new int[0];
    }

    public static boolean isStop(int[] stopIds, int id) {
        for (int s : stopIds) {
            if (s == id) {
                return true;
            }
        }
        return false;
    }

    /** Checks that a prompt fits the context and leaves room for at least one new token. */
    public static void checkPrompt(int[] promptIds, ModelConfig c) {
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt is empty: give at least one token");
        }
        if (promptIds.length >= c.maxSeqLen()) {
            throw new IllegalArgumentException("the prompt has " + promptIds.length + " tokens but the model's context is "
                    + c.maxSeqLen() + " tokens (it must leave room for at least one new token)");
        }
    }

    public GenerationResult generate(int[] promptIds, int maxTokens, SamplingOptions sampling, TokenListener listener) {
        return generate(promptIds, maxTokens, sampling, listener, true);
    }

    /** As above; with {@code honorStopTokens} false it runs to maxTokens (benchmarks want fixed lengths). */
    public GenerationResult generate(int[] promptIds, int maxTokens, SamplingOptions sampling, TokenListener listener,
                                     boolean honorStopTokens) {
        ModelConfig c = model.config();
        checkPrompt(promptIds, c);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
        }
        Sampler sampler = new Sampler(sampling, c.vocabSize());
        cache.clear();
        int[] out = new int[Math.min(maxTokens, c.maxSeqLen() - promptIds.length)];
        cache.reserve(promptIds.length + out.length); // the room this run needs, so no step grows the cache
        int produced = 0;

        long t0 = System.nanoTime();
        int n = promptIds.length;
        float[] block = new float[n * c.dim()];
        model.embed(promptIds, 0, n, 0, block);
        model.forward(block, n, 0, c.layers(), cache);
        model.logits(block, n - 1, logits);
        int next = sampler.sample(logits, 0);
        long t1 = System.nanoTime();

        GenerationResult.StopReason reason = GenerationResult.StopReason.MAX_TOKENS;
        int[] one = new int[1];
        int steps = 0;
        while (true) {
            if (honorStopTokens && isStop(stopIds, next)) {
                reason = GenerationResult.StopReason.STOP_TOKEN;
                break;
            }
            out[produced++] = next;
            if (listener != null) {
                listener.onToken(next);
            }
            if (produced == maxTokens) {
                break;
            }
            int pos = n + produced - 1;
            if (pos + 1 >= c.maxSeqLen()) {
                reason = GenerationResult.StopReason.CONTEXT_FULL;
                break;
            }
            one[0] = next;
            model.embed(one, 0, 1, pos, x);
            model.forward(x, 1, 0, c.layers(), cache);
            model.logits(x, 0, logits);
            next = sampler.sample(logits, 0);
            steps++;
        }
        long t2 = System.nanoTime();
        return new GenerationResult(promptIds.clone(), Arrays.copyOf(out, produced), (t1 - t0) / 1e6, (t2 - t1) / 1e6,
                steps, reason);
    }

    /** The cache of the last generation (its state after the last token). */
    public KVCache cache() {
        return cache;
    }
}
