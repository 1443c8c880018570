package dev.earlyexit.model;

/**
 * Everything the generic decoder-only transformer needs to know about an architecture. Loaders
 * (llama2.c, Hugging Face config.json) translate their files into this; the forward pass reads
 * only this, so a new architecture is a new loader plus, at most, a new enum value here.
 *
 * @param architecture   name as the source states it (e.g. "LlamaForCausalLM", "llama2.c")
 * @param dim            hidden size
 * @param hiddenDim      MLP inner size
 * @param layers         number of transformer blocks
 * @param heads          query heads
 * @param kvHeads        key/value heads (grouped-query attention when fewer than heads)
 * @param headDim        size of one head
 * @param vocabSize      rows of the classifier
 * @param maxSeqLen      context length (positions the KV cache can hold)
 * @param norm           RMSNorm or LayerNorm
 * @param normEps        epsilon inside the norm
 * @param ropeTheta      rotary base
 * @param rotaryDim      leading dimensions of each head that rotate (headDim, or less for partial rotary); 0 = no RoPE
 * @param ropeStyle      how rotated dimensions pair up
 * @param mlp            gated (SwiGLU) or plain MLP and its activation
 * @param residual       sequential or parallel attention/MLP
 * @param learnedPositions whether absolute position embeddings are added to the input (GPT-2)
 * @param bosId          id prepended to prompts, or -1 when the model uses none
 * @param eosId          id that ends generation, or -1
 * @param ropeScaling    how the rotary frequencies are rescaled ({@link RopeScaling#NONE} for plain RoPE); never null
 * @param qkNorm         whether each head's query and key pass through an RMSNorm (weights
 *                       {@link LayerWeights#qNorm()}, {@link LayerWeights#kNorm()}, epsilon normEps) before RoPE (Qwen3)
 */
public record ModelConfig(
        String architecture,
        int dim,
        int hiddenDim,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int vocabSize,
        int maxSeqLen,
        NormKind norm,
        float normEps,
        float ropeTheta,
        int rotaryDim,
        RopeStyle ropeStyle,
        MlpKind mlp,
        ResidualKind residual,
        boolean learnedPositions,
        int bosId,
        int eosId,
        RopeScaling ropeScaling,
        boolean qkNorm) {

    public enum NormKind { RMS, LAYER }

    /** INTERLEAVED rotates pairs (x[2i], x[2i+1]) as llama2.c/Meta; HALF rotates (x[i], x[i+d/2]) as HF. */
    public enum RopeStyle { INTERLEAVED, HALF }

    public enum MlpKind { SWIGLU, GELU_EXACT, GELU_TANH }

    /**
     * SEQUENTIAL: x += attn(norm1(x)); x += mlp(norm2(x)).
     * PARALLEL: x += attn(norm1(x)) + mlp(norm2(x)) (GPT-NeoX parallel residual).
     * PARALLEL_SHARED_NORM: x += attn(n) + mlp(n), n = norm1(x) (Phi).
     */
    public enum ResidualKind { SEQUENTIAL, PARALLEL, PARALLEL_SHARED_NORM }

    public ModelConfig {
        require(dim > 0, "dim must be positive");
        require(hiddenDim > 0, "hidden size must be positive");
        require(layers > 0, "layer count must be positive");
        require(heads > 0 && kvHeads > 0, "head counts must be positive");
        require(heads % kvHeads == 0, "heads (" + heads + ") must be a multiple of kv heads (" + kvHeads + ")");
        require(headDim > 0, "head size must be positive");
        require(vocabSize > 0, "vocabulary size must be positive");
        require(maxSeqLen > 0, "context length must be positive");
        require(rotaryDim >= 0 && rotaryDim <= headDim && rotaryDim % 2 == 0,
                "rotary dims (" + rotaryDim + ") must be even and at most the head size (" + headDim + ")");
        require(ropeScaling != null, "RoPE scaling must be given (RopeScaling.NONE for none)");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("invalid model config: " + message);
        }
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Rows of the fused q|k|v projection. */
    public int qkvDim() {
        return qDim() + 2 * kvDim();
    }

    public ModelConfig withMaxSeqLen(int newMaxSeqLen) {
        return new ModelConfig(architecture, dim, hiddenDim, layers, heads, kvHeads, headDim, vocabSize, newMaxSeqLen,
                norm, normEps, ropeTheta, rotaryDim, ropeStyle, mlp, residual, learnedPositions, bosId, eosId,
                ropeScaling, qkNorm);
    }

    public ModelConfig withRopeScaling(RopeScaling newRopeScaling) {
        return new ModelConfig(architecture, dim, hiddenDim, layers, heads, kvHeads, headDim, vocabSize, maxSeqLen,
                norm, normEps, ropeTheta, rotaryDim, ropeStyle, mlp, residual, learnedPositions, bosId, eosId,
                newRopeScaling, qkNorm);
    }

    public ModelConfig withQkNorm(boolean newQkNorm) {
        return new ModelConfig(architecture, dim, hiddenDim, layers, heads, kvHeads, headDim, vocabSize, maxSeqLen,
                norm, normEps, ropeTheta, rotaryDim, ropeStyle, mlp, residual, learnedPositions, bosId, eosId,
                ropeScaling, newQkNorm);
    }

    public ModelConfig withSpecialIds(int newBosId, int newEosId) {
        return new ModelConfig(architecture, dim, hiddenDim, layers, heads, kvHeads, headDim, vocabSize, maxSeqLen,
                norm, normEps, ropeTheta, rotaryDim, ropeStyle, mlp, residual, learnedPositions, newBosId, newEosId,
                ropeScaling, qkNorm);
    }
}
