package dev.earlyexit.decoding;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;

import java.util.function.IntConsumer;

/**
 * Many independent generations with the full model, decoded together: up to {@code rows} sequences
 * advance by one token per step as one block ({@link EarlyExitBatch} with no heads), so each weight is
 * read once per step for all of them; when one ends, the next waiting job takes its place. This is how
 * train-heads and calibrate write their data sets (dozens of sampled continuations): token by token
 * generation was memory-bound and left most of the arithmetic idle.
 *
 * <p>Each job keeps its own sampler and seed, and with float32, bf16, Q8_0 and Q4_0 weights a row of a
 * block of up to 17 rows is computed bit for bit as a lone row, so every job's ids are exactly what
 * {@link Generator#generate} gives it alone (stop tokens end a job and are not part of its ids, as
 * there). Other types may differ from alone in the last bits of a logit, as any block does.
 */
public final class BatchedGenerator {
    /** Rows per step: the most that stay bit for bit a lone row's (see {@link Transformer#forwardRows}). */
    public static final int MAX_ROWS = 16;

    private BatchedGenerator() {
    }

    /**
     * The ids generated for each prompt (prompt not included): job j continues prompts[j] with
     * sampling[j] for at most maxTokens tokens (fewer at a stop token or the context's end).
     *
     * @param onFinished called with a job's index as it ends (progress), or null
     */
    public static int[][] generate(Transformer model, int[][] prompts, SamplingOptions[] sampling, int maxTokens, int rows,
                                   IntConsumer onFinished) {
        if (prompts.length != sampling.length) {
            throw new IllegalArgumentException(prompts.length + " prompts but " + sampling.length + " sampling options");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
        }
        if (rows < 1 || rows > MAX_ROWS) {
            throw new IllegalArgumentException("rows per step must be in [1, " + MAX_ROWS + "], got " + rows);
        }
        ModelConfig c = model.config();
        for (int[] p : prompts) {
            Generator.checkPrompt(p, c);
        }
        int[] stopIds = Generator.stopIds(c);
        EarlyExitBatch batch = new EarlyExitBatch(model, null, null);
        int slots = Math.min(rows, prompts.length);
        EarlyExitBatch.Sequence[] running = new EarlyExitBatch.Sequence[slots];
        Job[] jobs = new Job[slots];
        EarlyExitBatch.Sequence[] idle = new EarlyExitBatch.Sequence[slots];
        for (int i = 0; i < slots; i++) {
            idle[i] = batch.newSequence();
        }
        int idleCount = slots;
        int active = 0;
        int nextJob = 0;
        int[][] out = new int[prompts.length][];
        while (true) {
            while (idleCount > 0 && nextJob < prompts.length) {
                EarlyExitBatch.Sequence s = idle[--idleCount];
                int j = nextJob++;
                s.start(prompts[j], sampling[j], null);
                Job job = new Job(j, Math.min(maxTokens, c.maxSeqLen() - prompts[j].length));
                if (job.takes(s, stopIds, c)) {
                    running[active] = s;
                    jobs[active++] = job;
                } else {
                    out[j] = job.ids();
                    idle[idleCount++] = s;
                    if (onFinished != null) {
                        onFinished.accept(j);
                    }
                }
            }
            if (active == 0) {
                return out;
            }
            batch.step(running, active);
            for (int i = 0; i < active; i++) {
                if (!jobs[i].takes(running[i], stopIds, c)) {
                    out[jobs[i].index] = jobs[i].ids();
                    if (onFinished != null) {
                        onFinished.accept(jobs[i].index);
                    }
                    idle[idleCount++] = running[i];
                    active--;
                    running[i] = running[active];
                    jobs[i] = jobs[active];
                    i--;
                }
            }
        }
    }

    /** One job's ids so far. */
    private static final class Job {
        final int index;
        private final int[] ids;
        private int produced;

        Job(int index, int room) {
            this.index = index;
            this.ids = new int[room];
        }

        /**
         * Settles the token the sequence just chose, as {@link Generator} does: a stop token ends the job
         * unkept; otherwise it is kept, and fed back unless the job is full or the context ends. True when
         * the job goes on.
         */
        boolean takes(EarlyExitBatch.Sequence s, int[] stopIds, ModelConfig c) {
            int token = s.token();
            if (Generator.isStop(stopIds, token)) {
                return false;
            }
            ids[produced++] = token;
            if (produced == ids.length || s.position() + 1 >= c.maxSeqLen()) {
                return false;
            }
            s.feed(token);
            return true;
        }

        int[] ids() {
            return java.util.Arrays.copyOf(ids, produced);
        }
    }
}
