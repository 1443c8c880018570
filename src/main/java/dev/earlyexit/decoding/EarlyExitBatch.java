package dev.earlyexit.decoding;

import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;

import java.util.Arrays;

/**
 * {@link EarlyExitDecoder}'s decoding for several sequences at once (the server's slots): one step gives
 * every sequence its next token, and each layer runs once, as one block, for the rows of every sequence
 * that still needs it. A token that exits at a head leaves the block there; the others go on.
 *
 * <p>Each {@link Sequence} has its own KV cache, sampler and thresholds (its request's ε; a sequence
 * with none consults no head and is the full model). The exit rule, the heads' confidence and the exact
 * KV fill are {@link EarlyExitDecoder}'s: a position that exited after d layers owes layers d..L-1 its
 * KV entries, and rides along, as extra rows of its sequence, in the block of the next token that
 * reaches each of those layers. So every sequence's tokens and exit layers are those of
 * {@link EarlyExitDecoder} (and, with no heads, {@link Generator}) on the same request alone: the
 * float32, bf16, Q8_0 and Q4_0 kernels compute each row of a block of up to 17 rows bit for bit as a
 * lone row. (The Q4_K, Q5_K and Q6_K kernels multiply blocks of 4 or more rows in another order, and
 * the block-quantized types tile from 18, so there a batched row can differ from alone in the last
 * bits, as DSSD's verification blocks already do.)
 *
 * <p>The block buffer grows to the most rows one layer has seen (owed rows included) and is kept; a step
 * then allocates nothing. One batch is driven by one thread.
 */
public final class EarlyExitBatch {
    private final Transformer model;
    private final ModelConfig c;
    private final HeadSet heads;
    private final ConfidenceMetric metric;
    private final float[][] headLogits;     // per head, exactly its output size (argmax and sampler read the length)
    private final float[][] headSample;
    private final float[] probs;
    private final int[] oneToken = new int[1];
    private final int[] headIndexAtDepth;   // depth (1..L) -> index of the head set's head there, or -1
    private float[] askRows;
    private float[] askLogits;
    private float[] block;
    private KVCache[] blockCaches;
    private float[] logits;

    /** One sequence: its cache, what it owes, and where its next token goes. */
    public final class Sequence {
        private final KVCache cache;
        private float[] pending;            // [maxSeqLen, dim], made on the first exit before the last layer
        private final float[] cur;
        private double[] thresholds;
        private Sampler sampler;
        private int position;               // where `next` is fed
        private int next;
        // Results of the last step (or prefill).
        private int token;
        private int exitLayer;
        private int logitsOffset;           // into logits(), or -1 when a head answered
        // Per step scratch.
        private boolean running;
        private int rowStart;               // first block row at a layer; then its row at the head, or -1
        private int owed;

        private Sequence() {
            this.cache = new KVCache(c);
            this.cur = new float[c.dim()];
        }

        /**
         * Starts a request: the prompt through every layer as one block, its first token from the full
         * model (in {@link #token()}, its logits at {@link #logitsOffset()}).
         *
         * @param thresholds τ per head of the batch's head set for this request's ε; null (or all +∞):
         *                   the full model
         */
        public void start(int[] promptIds, SamplingOptions sampling, double[] thresholds) {
            Generator.checkPrompt(promptIds, c);
            if (thresholds != null && (heads == null || thresholds.length != heads.size())) {
                throw new IllegalArgumentException((heads == null ? 0 : heads.size()) + " heads but "
                        + thresholds.length + " thresholds");
            }
            this.thresholds = thresholds;
            this.sampler = new Sampler(sampling, c.vocabSize());
            cache.clear();
            int n = promptIds.length;
            float[] prompt = new float[n * c.dim()];
            model.embed(promptIds, 0, n, 0, prompt);
            model.forward(prompt, n, 0, c.layers(), cache);
            model.logits(prompt, n - 1, logits);
            token = sampler.sample(logits, 0);
            exitLayer = c.layers();
            logitsOffset = 0;
            position = n;
        }

        /** Feeds {@code id} (the last token chosen) at the next position in the coming {@link #step}. */
        public void feed(int id) {
            if (position + 1 > c.maxSeqLen()) {
                throw new IllegalStateException("context is full at " + position + " positions");
            }
            next = id;
        }

        /** The token the last step (or start) chose. */
        public int token() {
            return token;
        }

        /** The 1-based layer count it was chosen at. */
        public int exitLayer() {
            return exitLayer;
        }

        /** Where the full model's logits of that token start in {@link #logits()}, or -1 when a head chose it. */
        public int logitsOffset() {
            return logitsOffset;
        }

        /** Positions fed so far: the next token goes here. */
        public int position() {
            return position;
        }

        /** The cache; deep layers lag behind early exits until a later token fills them. */
        public KVCache cache() {
            return cache;
        }

        /** The head this sequence consults after {@code depth} layers, or -1: the one there, if its τ is finite. */
        private int headAt(int depth) {
            int k = headIndexAtDepth[depth];
            return k >= 0 && thresholds != null && thresholds[k] < Double.POSITIVE_INFINITY ? k : -1;
        }

        private float[] pending() {
            if (pending == null) {
                pending = new float[c.maxSeqLen() * c.dim()];
            }
            return pending;
        }
    }

    /** @param heads exit heads the sequences' thresholds refer to, or null for a full-model-only batch */
    public EarlyExitBatch(Transformer model, HeadSet heads, ConfidenceMetric metric) {
        this.model = model;
        this.c = model.config();
        this.heads = heads;
        this.metric = metric;
        int count = heads == null ? 0 : heads.size();
        int widest = 1;
        this.headLogits = new float[count][];
        this.headSample = new float[count][];
        for (int k = 0; k < count; k++) {
            int size = heads.head(k).outputSize();
            headLogits[k] = new float[size];
            headSample[k] = new float[size];
            widest = Math.max(widest, size);
        }
        this.probs = new float[widest];
        this.askRows = new float[c.dim()];
        this.askLogits = new float[widest];
        this.headIndexAtDepth = new int[c.layers() + 1];
        Arrays.fill(headIndexAtDepth, -1);
        for (int k = 0; k < count; k++) {
            int layer = heads.head(k).layer();
            if (layer >= 1 && layer <= c.layers()) {
                headIndexAtDepth[layer] = k;
            }
        }
        this.block = new float[c.dim()];
        this.blockCaches = new KVCache[1];
        this.logits = new float[c.vocabSize()];
    }

    public Sequence newSequence() {
        return new Sequence();
    }

    /** The full model's logits rows of the last step (or start); see {@link Sequence#logitsOffset()}. */
    public float[] logits() {
        return logits;
    }

    /**
     * Gives each of seqs[0, n) its next token, from the token it was last {@linkplain Sequence#feed fed}.
     * Afterwards {@link Sequence#token()} and {@link Sequence#exitLayer()} hold the results, and each
     * sequence's position has advanced by one.
     */
    public void step(Sequence[] seqs, int n) {
        int L = c.layers();
        int dim = c.dim();
        for (int i = 0; i < n; i++) {
            Sequence s = seqs[i];
            oneToken[0] = s.next;
            model.embed(oneToken, 0, 1, s.position, s.cur);
            s.running = true;
            s.exitLayer = L;
            s.logitsOffset = -1;
        }
        for (int j = 0; j < L; j++) {
            int rows = 0;
            for (int i = 0; i < n; i++) {
                Sequence s = seqs[i];
                if (s.running) {
                    s.owed = s.position - s.cache.length(j);
                    s.rowStart = rows;
                    rows += s.owed + 1;
                }
            }
            if (rows == 0) {
                break;
            }
            ensureRows(rows);
            for (int i = 0; i < n; i++) {
                Sequence s = seqs[i];
                if (s.running) {
                    if (s.owed > 0) {
                        System.arraycopy(s.pending, s.cache.length(j) * dim, block, s.rowStart * dim, s.owed * dim);
                    }
                    System.arraycopy(s.cur, 0, block, (s.rowStart + s.owed) * dim, dim);
                    Arrays.fill(blockCaches, s.rowStart, s.rowStart + s.owed + 1, s.cache);
                }
            }
            model.forwardLayerRows(j, block, rows, blockCaches);
            // Back to each sequence; the tokens that consult the head after this layer go into one block.
            int asking = 0;
            int k = headIndexAtDepth[j + 1];
            for (int i = 0; i < n; i++) {
                Sequence s = seqs[i];
                if (!s.running) {
                    continue;
                }
                if (s.owed > 0) {
                    int first = s.position - s.owed;
                    System.arraycopy(block, s.rowStart * dim, s.pending, first * dim, s.owed * dim);
                }
                System.arraycopy(block, (s.rowStart + s.owed) * dim, s.cur, 0, dim);
                if (s.headAt(j + 1) >= 0) {
                    if (askRows.length < (asking + 1) * dim) {
                        askRows = Arrays.copyOf(askRows, n * dim);
                    }
                    System.arraycopy(s.cur, 0, askRows, asking * dim, dim);
                    s.rowStart = asking++;
                } else {
                    s.rowStart = -1;
                }
            }
            Arrays.fill(blockCaches, 0, rows, null);
            if (asking > 0) {
                ask(k, j + 1, seqs, n, asking);
            }
        }
        int rows = 0;
        for (int i = 0; i < n; i++) {
            Sequence s = seqs[i];
            if (s.running) {
                ensureRows(rows + 1);
                System.arraycopy(s.cur, 0, block, rows * dim, dim);
                s.logitsOffset = rows * c.vocabSize();
                rows++;
            }
        }
        if (rows > 0) {
            if (logits.length < rows * c.vocabSize()) {
                logits = new float[Math.max(rows, n) * c.vocabSize()];
            }
            model.logitsBlock(block, rows, logits);
        }
        for (int i = 0; i < n; i++) {
            Sequence s = seqs[i];
            if (s.running) {
                s.token = s.sampler.sample(logits, s.logitsOffset);
                s.running = false;
            }
            s.position++;
        }
    }

    /**
     * The head after {@code depth} layers for the {@code asking} running sequences that consult it (their
     * hidden states in askRows [0, asking), each at its rowStart): one call for all of them, then each
     * sequence's exit test on its own row.
     */
    private void ask(int k, int depth, Sequence[] seqs, int n, int asking) {
        ExitHead h = heads.head(k);
        int m = h.outputSize();
        if (askLogits.length < asking * m) {
            askLogits = new float[asking * m];
        }
        if (asking == 1) {
            h.logits(askRows, 0, askLogits, model.pool());
        } else {
            h.logitsBlock(askRows, 0, c.dim(), asking, askLogits, model.pool());
        }
        for (int i = 0; i < n; i++) {
            Sequence s = seqs[i];
            if (!s.running || s.rowStart < 0) {
                continue;
            }
            System.arraycopy(askLogits, s.rowStart * m, headLogits[k], 0, m);
            double confidence = EarlyExitDecoder.confidence(headLogits[k], m, probs, metric);
            if (EarlyExitDecoder.exits(confidence, s.thresholds[k])) {
                s.token = h.tokenId(EarlyExitDecoder.pick(s.sampler, headLogits[k], headSample[k]));
                s.exitLayer = depth;
                s.running = false;
                if (depth < c.layers()) {
                    System.arraycopy(s.cur, 0, s.pending(), s.position * c.dim(), c.dim());
                }
            }
        }
    }

    private void ensureRows(int rows) {
        if (rows * c.dim() > block.length) {
            int grown = Math.max(rows, 2 * block.length / c.dim());
            block = Arrays.copyOf(block, grown * c.dim());
            blockCaches = Arrays.copyOf(blockCaches, grown);
        }
    }
}
