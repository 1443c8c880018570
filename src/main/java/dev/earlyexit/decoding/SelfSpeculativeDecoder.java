package dev.earlyexit.decoding;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.Kernels;

import java.util.Arrays;
import java.util.List;

/**
 * Dynamic self-speculative decoding (DSSD): the exit heads draft, the full model verifies, and the
 * output is the full model's (token-identical when greedy, the same distribution when sampling).
 *
 * <h2>One round</h2>
 * The context holds L positions at every layer; {@code next} is the last output token, not yet run.
 * The round works on a window of tokens w[0] = next, w[1], ... at positions L, L+1, ...
 * <ol>
 *   <li><b>Draft.</b> The newest window token runs layer by layer up to each head in turn; at the first
 *       head where the {@link DraftRule} takes the draft, that head's choice (argmax, or a sample from
 *       its filtered distribution) becomes the next window token. A token no head is taken at ends the
 *       draft; so do the rule's stop (before each draft step), the maximum draft length, a stop token
 *       and the token/context limits.</li>
 *   <li><b>Verify.</b> Every window token is brought to the last layer in one pass. Each keeps the
 *       hidden state and the layer ("depth") it reached while drafting and re-enters there; a layer
 *       runs once, as one block, for the suffix of the window that has not passed it yet. The final
 *       logits of w[j] judge w[j+1]: the longest agreeing prefix is accepted, then the full model's own
 *       token follows (a correction, or a bonus when every draft agreed). A last draft that no layer
 *       has run yet is left out when the rule says its bonus is unlikely to pay
 *       ({@link DraftRule#runLastDraft}); if every draft holds, it is then the next round's w[0].</li>
 *   <li><b>Roll back.</b> All layers now hold L + (tokens run) positions; every layer is truncated to
 *       L + accepted + 1, which drops exactly the rejected drafts' entries, also those written at
 *       shallow layers while drafting.</li>
 * </ol>
 *
 * <h2>Depths stay non-increasing along the window</h2>
 * A layer's cache positions must stay consecutive, so at every layer the tokens that still need it must
 * be a suffix of the window. When a drafting token must go deeper than an earlier window token got (it
 * was not confident at a shallow head, the earlier one was), the earlier ones ride along in the same
 * block: a layer is run for every window token below it at once ({@link #advance}). The weights are
 * still read once per layer per draft step, and the work is work verification would do anyway. So the
 * depth of w[j] is the deepest layer any token from w[j] on reached, and depth[] never increases
 * along the window.
 *
 * <h2>Sampling</h2>
 * Speculative sampling: a draft x drawn from the head's distribution q (temperature, top-k and top-p
 * applied the same way as to the model's p) is kept with probability min(1, p(x)/q(x)); on rejection
 * the replacement comes from normalize(max(0, p − q)); after full acceptance the bonus comes from p.
 * The output distribution is then exactly the full model's. The heads' exit decision sees their
 * untempered softmax and depends only on the prefix, which keeps that property.
 *
 * <h2>LayerSkip-style baseline</h2>
 * {@link #layerSkip}: one head, {@link ExitCriterion#always()}, so every draft has the fixed length.
 *
 * <p>All buffers are sized once by the maximum draft length, so a round allocates nothing. One
 * instance is driven by one thread at a time.
 */
public final class SelfSpeculativeDecoder {

    private final Transformer model;
    private final ModelConfig c;
    private final ExitHead[] heads;
    private final int[] headLayers;
    private final DraftRule rule;
    private final int maxDraft;
    private final String mode;
    private final int[] stopIds;
    private final KVCache cache;
    private ModelOps ops;

    // Window of one round: token, depth reached, hidden state at that depth, and which head drafted it.
    private final int[] window;
    private final int[] depth;
    private final int[] draftedBy;
    private final float[] hidden;      // [maxDraft + 1, dim]
    private final float[] block;       // gather buffer for a suffix of the window
    private final float[] row;         // one embedded token
    private final float[] finalLogits; // [maxDraft + 1, vocab]
    private final float[] headLogits;  // [max head output]
    private final float[] headProbs;
    // Sampling only: the draft distribution q of each window token, the model's p, the residual.
    private final int maxOut;
    private final float[] draftDist;   // [maxDraft + 1, maxOut]
    private final float[][] headDist;  // per head, exactly its output size
    private final float[] modelDist;
    private final float[] residual;

    // State of the generation in progress (one thread at a time).
    private int contextLength;         // L: positions every layer holds at the start of a round
    private int acceptedInRound;       // drafts the last verification accepted
    private boolean nextWasDrafted;    // the last verification's next token is its last, accepted draft
    private double windowChance;       // the rule's acceptance estimate of this round's drafts so far
    private int[] out;
    private int[] outLayers;
    private int produced;
    private int chosen;
    private int maxTokens;
    private boolean honorStop;
    private Generator.TokenListener listener;
    private long drafted;
    private long accepted;
    private long verifications;
    private long plainSteps;
    private long headCalls;
    private long tokenLayers;
    private int finalHeadAccepted;
    private long draftNs;
    private long verifyNs;

    /**
     * @param heads     exit heads in strictly ascending layer order (a subset head may sit after the last layer)
     * @param criterion when a drafting token may leave at a head
     * @param maxDraft  the most tokens one round drafts (>= 1)
     */
    public SelfSpeculativeDecoder(Transformer model, List<? extends ExitHead> heads, ExitCriterion criterion,
                                  int maxDraft) {
        this(model, heads, DraftRule.of(criterion), maxDraft, "dssd");
    }

    /**
     * @param heads    exit heads in strictly ascending layer order
     * @param rule     where drafting tokens leave and when drafts stop (e.g. a calibrated draft plan)
     * @param maxDraft the most tokens one round drafts (>= 1)
     */
    public SelfSpeculativeDecoder(Transformer model, List<? extends ExitHead> heads, DraftRule rule, int maxDraft) {
        this(model, heads, rule, maxDraft, "dssd");
    }

    /** The LayerSkip-style baseline: every token exits at {@code head}; drafts are {@code draftLength} long. */
    public static SelfSpeculativeDecoder layerSkip(Transformer model, ExitHead head, int draftLength) {
        return new SelfSpeculativeDecoder(model, List.of(head), DraftRule.of(ExitCriterion.always()), draftLength,
                "layerskip");
    }

    private SelfSpeculativeDecoder(Transformer model, List<? extends ExitHead> heads, DraftRule rule,
                                   int maxDraft, String mode) {
        this.model = model;
        this.c = model.config();
        if (heads.isEmpty()) {
            throw new IllegalArgumentException("self-speculative decoding needs at least one exit head");
        }
        if (maxDraft < 1) {
            throw new IllegalArgumentException("the maximum draft length must be >= 1, got " + maxDraft);
        }
        this.heads = heads.toArray(new ExitHead[0]);
        this.headLayers = new int[this.heads.length];
        int outMax = 0;
        for (int k = 0; k < this.heads.length; k++) {
            int layer = this.heads[k].layer();
            if (layer < 1 || layer > c.layers()) {
                throw new IllegalArgumentException("an exit head after layer " + layer + " cannot draft for a "
                        + c.layers() + "-layer model (heads must sit after layers 1.." + c.layers() + ")");
            }
            if (k > 0 && layer <= headLayers[k - 1]) {
                throw new IllegalArgumentException("exit heads must be in strictly ascending layer order, got "
                        + headLayers[k - 1] + " then " + layer);
            }
            headLayers[k] = layer;
            outMax = Math.max(outMax, this.heads[k].outputSize());
        }
        this.ops = ModelOps.direct(model);
        this.rule = rule;
        this.maxDraft = maxDraft;
        this.mode = mode;
        this.stopIds = Generator.stopIds(c);
        this.cache = new KVCache(c);
        int slots = maxDraft + 1;
        this.window = new int[slots];
        this.depth = new int[slots];
        this.draftedBy = new int[slots];
        this.hidden = new float[slots * c.dim()];
        this.block = new float[slots * c.dim()];
        this.row = new float[c.dim()];
        this.finalLogits = new float[slots * c.vocabSize()];
        this.maxOut = outMax;
        this.headLogits = new float[outMax];
        this.headProbs = new float[outMax];
        this.draftDist = new float[slots * outMax];
        this.headDist = new float[this.heads.length][];
        for (int k = 0; k < this.heads.length; k++) {
            headDist[k] = new float[this.heads[k].outputSize()];
        }
        this.modelDist = new float[c.vocabSize()];
        this.residual = new float[c.vocabSize()];
    }

    /**
     * Runs the model work through {@code ops} from now on (a {@link LayerSweeper} client batches it with
     * other decoders'); by default it runs directly on the model.
     */
    public SelfSpeculativeDecoder using(ModelOps ops) {
        this.ops = ops;
        return this;
    }

    public String mode() {
        return mode;
    }

    public int maxDraft() {
        return maxDraft;
    }

    public int[] headLayers() {
        return headLayers.clone();
    }

    /** The cache after the last generation: every layer holds the context before the last output token. */
    public KVCache cache() {
        return cache;
    }

    public SpeculativeResult generate(int[] promptIds, int maxTokens, SamplingOptions sampling,
                                      Generator.TokenListener listener) {
        return generate(promptIds, maxTokens, sampling, listener, true);
    }

    /** As {@link Generator#generate}: same stopping rules, same output when greedy. */
    public SpeculativeResult generate(int[] promptIds, int maxTokens, SamplingOptions sampling,
                                      Generator.TokenListener listener, boolean honorStopTokens) {
        Generator.checkPrompt(promptIds, c);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
        }
        int layers = c.layers();
        int vocab = c.vocabSize();
        Sampler sampler = new Sampler(sampling, vocab);
        Sampler[] headSamplers = new Sampler[heads.length];
        for (int k = 0; k < heads.length; k++) {
            headSamplers[k] = new Sampler(sampling, heads[k].outputSize());
        }
        startRun(promptIds.length, maxTokens, honorStopTokens, listener);

        // Prefill: the prompt through every layer, the first token from the full model.
        long t0 = System.nanoTime();
        int n = promptIds.length;
        float[] prompt = new float[n * c.dim()];
        ops.embed(promptIds, 0, n, 0, prompt);
        ops.forward(prompt, n, 0, layers, cache);
        System.arraycopy(prompt, (n - 1) * c.dim(), row, 0, c.dim());
        ops.logits(row, 1, finalLogits);
        int next = sampler.sample(finalLogits, 0);
        long t1 = System.nanoTime();

        GenerationResult.StopReason reason = emit(next, layers);
        while (reason == null) {
            contextLength = n + produced - 1; // `next` sits at this position
            if (contextLength + 1 >= c.maxSeqLen()) {
                reason = GenerationResult.StopReason.CONTEXT_FULL;
                break;
            }
            // Window tokens sit at positions <= maxSeqLen - 2 (each yields one more token) and a round
            // yields at most |window| tokens.
            int limit = Math.min(maxDraft + 1, Math.min(c.maxSeqLen() - 1 - contextLength, maxTokens - produced));
            long d0 = System.nanoTime();
            int count = draft(next, limit, sampling.greedy(), headSamplers, sampler);
            long d1 = System.nanoTime();
            next = verify(count, sampling.greedy(), sampler);
            long d2 = System.nanoTime();
            draftNs += d1 - d0;
            verifyNs += d2 - d1;
            int acceptedHere = acceptedInRound;
            drafted += count - 1;
            accepted += acceptedHere;
            if (count > 1) {
                verifications++;
            } else {
                plainSteps++;
            }
            for (int i = 1; i <= acceptedHere && reason == null; i++) {
                reason = emit(window[i], headLayers[draftedBy[i]]);
                if (headLayers[draftedBy[i]] == layers && reason != GenerationResult.StopReason.STOP_TOKEN) {
                    finalHeadAccepted++;
                }
                if (reason == GenerationResult.StopReason.STOP_TOKEN) {
                    cache.truncateAll(contextLength + i); // as the full model: the stop token is not run
                }
            }
            if (reason == null && !nextWasDrafted) {
                reason = emit(next, layers);
            }
        }
        long t2 = System.nanoTime();
        GenerationResult g = new GenerationResult(promptIds.clone(), Arrays.copyOf(out, produced), (t1 - t0) / 1e6,
                (t2 - t1) / 1e6, chosen - 1, reason);
        SpeculativeResult r = new SpeculativeResult(g, mode, Arrays.copyOf(outLayers, produced), layers,
                headLayers.clone(), drafted, accepted, verifications, plainSteps, draftNs / 1e6, verifyNs / 1e6,
                headCalls, tokenLayers, finalHeadAccepted);
        this.out = null;
        this.outLayers = null;
        this.listener = null;
        return r;
    }

    private void startRun(int promptLength, int maxTokens, boolean honorStop, Generator.TokenListener listener) {
        cache.clear();
        int room = Math.min(maxTokens, c.maxSeqLen() - promptLength);
        this.out = new int[room];
        this.outLayers = new int[room];
        this.produced = 0;
        this.chosen = 0;
        this.maxTokens = maxTokens;
        this.honorStop = honorStop;
        this.listener = listener;
        drafted = accepted = verifications = plainSteps = headCalls = tokenLayers = draftNs = verifyNs = 0;
        finalHeadAccepted = 0;
    }

    /** Appends one chosen token to the output, in the full model's order of checks; non-null ends generation. */
    private GenerationResult.StopReason emit(int token, int exitLayer) {
        chosen++;
        if (honorStop && Generator.isStop(stopIds, token)) {
            return GenerationResult.StopReason.STOP_TOKEN;
        }
        out[produced] = token;
        outLayers[produced] = exitLayer;
        produced++;
        if (listener != null) {
            listener.onToken(token);
        }
        return produced == maxTokens ? GenerationResult.StopReason.MAX_TOKENS : null;
    }

    // ---------------------------------------------------------------- draft

    /**
     * Drafts from {@code next} (window[0]) and returns the window size: 1 + the drafted tokens, at most
     * {@code limit}.
     */
    private int draft(int next, int limit, boolean greedy, Sampler[] headSamplers, Sampler sampler) {
        int dim = c.dim();
        int count = 0;
        int token = next;
        windowChance = 1.0;
        while (true) {
            // Enter the token at position L + count, depth 0.
            window[count] = token;
            depth[count] = 0;
            ops.embed(window, count, 1, contextLength + count, row);
            System.arraycopy(row, 0, hidden, count * dim, dim);
            count++;
            if (count == limit || (honorStop && count > 1 && Generator.isStop(stopIds, token))) {
                return count; // the last token waits for verification at depth 0
            }
            int j = count - 1;
            if (!rule.keepDrafting(windowChance)) {
                return count; // drafting one more no longer pays: w[j] waits at depth 0
            }
            int k = firstConfidentHead(count);
            if (k < 0) {
                return count; // no head is confident: w[j] goes to the full model from where it stopped
            }
            int index;
            if (greedy) {
                index = Kernels.argmax(headLogits, 0, heads[k].outputSize());
            } else {
                int size = heads[k].outputSize();
                headSamplers[k].distribution(headLogits, 0, headDist[k]);
                System.arraycopy(headDist[k], 0, draftDist, (j + 1) * maxOut, size);
                index = draw(headDist[k], size, sampler);
            }
            token = heads[k].tokenId(index);
            draftedBy[j + 1] = k;
        }
    }

    /**
     * Runs the newest window token (window[count - 1]) head by head; returns the first head where the rule
     * takes the draft (its logits left in headLogits, windowChance updated), or -1.
     */
    private int firstConfidentHead(int count) {
        int j = count - 1;
        for (int k = 0; k < heads.length; k++) {
            advance(count, headLayers[k]);
            ExitHead h = heads[k];
            int size = h.outputSize();
            ops.headLogits(h, hidden, j * c.dim(), headLogits);
            headCalls++;
            System.arraycopy(headLogits, 0, headProbs, 0, size);
            Kernels.softmax(headProbs, 0, size);
            double chance = rule.exitChance(k, headProbs, size, windowChance);
            if (chance > 0) {
                windowChance *= chance;
                return k;
            }
        }
        return -1;
    }

    /**
     * Brings window tokens [0, count) to depth >= target. Depths are non-increasing along the window,
     * so the tokens below a layer are a suffix, at consecutive positions of that layer's cache; each
     * stretch of layers that the same suffix needs runs as one block.
     */
    private void advance(int count, int target) {
        int dim = c.dim();
        while (depth[count - 1] < target) {
            int lo = depth[count - 1];
            int s = count - 1;
            while (s > 0 && depth[s - 1] == lo) {
                s--;
            }
            int hi = s > 0 ? Math.min(target, depth[s - 1]) : target;
            int T = count - s;
            if (cache.length(lo) != contextLength + s) {
                throw new IllegalStateException("layer " + lo + " holds " + cache.length(lo) + " positions, expected "
                        + (contextLength + s));
            }
            if (s == 0) {
                ops.forward(hidden, T, lo, hi, cache);
            } else {
                System.arraycopy(hidden, s * dim, block, 0, T * dim);
                ops.forward(block, T, lo, hi, cache);
                System.arraycopy(block, 0, hidden, s * dim, T * dim);
            }
            for (int t = s; t < count; t++) {
                depth[t] = hi;
            }
            tokenLayers += (long) T * (hi - lo);
        }
    }

    // ---------------------------------------------------------------- verify

    /**
     * Runs the window to the last layer, accepts the longest prefix of drafts the model agrees with
     * (acceptedInRound), rolls the cache back to the kept tokens and returns the next token: the model's
     * own, or (nextWasDrafted) the last draft when every draft held and the rule left that one unrun.
     *
     * <p>A last draft no layer has run yet is judged by the token before it; running it too only pays
     * when every draft holds (its logits then give one more token), so the rule decides from the window's
     * acceptance estimate. Left unrun, it becomes the next round's first token when it holds.
     */
    private int verify(int count, boolean greedy, Sampler sampler) {
        int vocab = c.vocabSize();
        int judged = count > 1 && depth[count - 1] == 0 && !rule.runLastDraft(windowChance) ? count - 1 : count;
        advance(judged, c.layers());
        ops.logits(hidden, judged, finalLogits);
        int a = 0;
        int next = -1;
        if (greedy) {
            while (a < count - 1 && Kernels.argmax(finalLogits, a * vocab, vocab) == window[a + 1]) {
                a++;
            }
            if (a < judged) {
                next = Kernels.argmax(finalLogits, a * vocab, vocab);
            }
        } else {
            while (a < count - 1) {
                sampler.distribution(finalLogits, a * vocab, modelDist);
                int x = window[a + 1];
                ExitHead h = heads[draftedBy[a + 1]];
                int qOff = (a + 1) * maxOut;
                float q = draftDist[qOff + h.indexOf(x)];
                float p = modelDist[x];
                if (p >= q || sampler.nextUniform() * q < p) {
                    a++;
                    continue;
                }
                next = sampleResidual(h, qOff, sampler);
                break;
            }
            if (next < 0 && a < judged) {
                next = sampler.sample(finalLogits, a * vocab);
            }
        }
        acceptedInRound = a;
        nextWasDrafted = a == judged; // only when the last draft was left unrun and every draft held
        if (nextWasDrafted) {
            next = window[a];
        }
        // Every layer holds L + judged positions; keep w[0..a] (all of them when the last draft was unrun).
        cache.truncateAll(contextLength + a + 1);
        return next;
    }

    /** A draw from normalize(max(0, p − q)), p in modelDist, q the head's distribution at draftDist[qOff]. */
    private int sampleResidual(ExitHead h, int qOff, Sampler sampler) {
        int vocab = c.vocabSize();
        System.arraycopy(modelDist, 0, residual, 0, vocab);
        for (int i = 0, size = h.outputSize(); i < size; i++) {
            int v = h.tokenId(i);
            residual[v] = Math.max(0f, residual[v] - draftDist[qOff + i]);
        }
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            sum += residual[v];
        }
        if (!(sum > 0)) {
            return sampler.sampleFrom(modelDist); // p == q up to rounding: p itself is the answer
        }
        Kernels.scale(residual, 0, vocab, (float) (1.0 / sum));
        return sampler.sampleFrom(residual);
    }

    /** An index drawn from dist[0, n), which sums to one, with the sampler's seeded stream. */
    private static int draw(float[] dist, int n, Sampler sampler) {
        double r = sampler.nextUniform();
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < n; i++) {
            if (dist[i] > 0f) {
                cumulative += dist[i];
                last = i;
                if (r < cumulative) {
                    return i;
                }
            }
        }
        return last;
    }
}
