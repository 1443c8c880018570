package dev.earlyexit.tensor;

/**
 * A weight matrix W [rows, cols] (out x in, row-major), multiplied against a block of activations.
 * {@link #matmul} computes out[t, r] = dot(W[r], x[t]) for t in [0, T): each weight row is read once
 * for the whole block, which is what makes prefill and batched verification cheap.
 *
 * <p>Each instance owns one reusable task object, so a multiplication allocates nothing; it must
 * therefore be driven from one thread at a time (the model's driving thread).
 */
public abstract class Matrix {
    protected final int rows;
    protected final int cols;
    private final MatmulTask task = new MatmulTask();

    protected Matrix(int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("matrix shape must be positive: " + rows + "x" + cols);
        }
        this.rows = rows;
        this.cols = cols;
    }

    public final int rows() {
        return rows;
    }

    public final int cols() {
        return cols;
    }

    public abstract DType dtype();

    /** Bytes this matrix occupies in memory. */
    public abstract long bytes();

    /** Copies row r, widened to float32, into dst[off, off+cols). */
    public abstract void row(int r, float[] dst, int off);

    /**
     * out[t*outStride + outOff + r] = dot(W[r], x[t*cols ...]) for r in [rowStart, rowEnd), t in [0, T).
     * The unit of work a worker runs; subclasses vectorize it. x is laid out as {@link #input} makes it.
     */
    protected abstract void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out,
                                         int outStride, int outOff);

    /**
     * Floats of worker scratch the per-row kernel wants ({@link #multiplyRows(int, int, float[], int, float[],
     * int, int, float[])}): Q8_0 and Q4_0 widen a row's half-precision block scales into it once per row,
     * which keeps the inner loop as it is with float32 scales (a widening per block in that loop cost
     * 10-20% of Q8_0 decode speed at 1.24 B parameters). 0: none.
     */
    protected int rowScratchFloats() {
        return 0;
    }

    /** {@link #multiplyRows} with the worker's scratch of at least {@link #rowScratchFloats} floats. */
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff,
                                float[] scratch) {
        multiplyRows(rowStart, rowEnd, x, T, out, outStride, outOff);
    }

    /**
     * Blocks of at least this many tokens go through {@link #multiplyTiled}; never by default. The
     * block-quantized types tile from {@link #TILED_MIN_T}; float32 and bf16 keep their own kernels.
     * Below it, the float32, bf16, Q8_0 and Q4_0 kernels give every (row, token) bit-identical to a lone
     * token's (DSSD's verification and the server's batch rely on it for exact output).
     */
    protected int tiledFromTokens() {
        return Integer.MAX_VALUE;
    }

    /**
     * Tokens from which a block-quantized product is tiled (prefill): above DSSD's longest verification
     * block (17) and the server's batched decode, which keep the per-row kernels. At 18 tokens on
     * 2048 x 2048 (2 threads) the tiled product was already 1.06-1.25x faster for Q8_0, Q4_0, Q4_K, Q5_K,
     * 2.35x for Q6_K (whose per-row kernel is the slowest).
     */
    static final int TILED_MIN_T = 18;
    /** Dequantized weights per tile: 256 KB, which stays in L2 beside a 3-token slice of activations. */
    private static final int TILE_FLOATS = 1 << 16;

    /** Rows of one tile: a multiple of 4, at most 32, about TILE_FLOATS values. */
    static int tileRows(int cols) {
        return Math.max(4, Math.min(32, (TILE_FLOATS / cols) & ~3));
    }

    /**
     * The product for a long block: each tile of weight rows is dequantized once into the worker's
     * scratch and multiplied against all T tokens by the float32 tile kernel ({@link Kernels#gemmTile}).
     * Widening a block-quantized weight costs more than the FMA it feeds, so a per-row kernel that widens
     * a row for every four tokens spends most of a prefill converting; here each weight is widened once
     * per block of tokens.
     */
    private void multiplyTiled(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff,
                               float[] tile) {
        int blockRows = tileRows(cols);
        for (int r0 = rowStart; r0 < rowEnd; r0 += blockRows) {
            int n = Math.min(blockRows, rowEnd - r0);
            for (int i = 0; i < n; i++) {
                row(r0 + i, tile, i * cols);
            }
            Kernels.gemmTile(tile, n, x, T, cols, out, outStride, outOff + r0);
        }
    }

    /** out[T, rows] = x[T, cols] · Wᵀ, split by rows across the pool. */
    public final void matmul(float[] x, int T, float[] out, ThreadPool pool) {
        matmul(x, T, out, rows, 0, pool);
    }

    /**
     * The activations x[T, cols] as this type's kernels multiply them, made once per product: x itself,
     * or a copy in the pool's input scratch, rounded where llama.cpp rounds them too (Q4_0, so that we
     * compute what it does) or followed by per-sub-block sums (Q4_K, Q5_K: {@link SubBlockSums}).
     */
    protected float[] input(float[] x, int T, ThreadPool pool) {
        return x;
    }

    /** As {@link #matmul(float[], int, float[], ThreadPool)}, writing row t at out[t*outStride + outOff]. */
    public final void matmul(float[] x, int T, float[] out, int outStride, int outOff, ThreadPool pool) {
        task.x = input(x, T, pool);
        task.T = T;
        task.out = out;
        task.outStride = outStride;
        task.outOff = outOff;
        task.pool = pool;
        // Hand out groups of 8 rows so the blocked inner kernels keep their shape at range borders.
        pool.parallelFor((rows + 7) / 8, task);
        task.x = null;
        task.out = null;
        task.pool = null;
    }

    private final class MatmulTask implements ThreadPool.RangeTask {
        float[] x;
        float[] out;
        int T;
        int outStride;
        int outOff;
        ThreadPool pool;

        @Override
        public void run(int start, int end, int worker) {
            if (T >= tiledFromTokens()) {
                multiplyTiled(start * 8, Math.min(rows, end * 8), x, T, out, outStride, outOff,
                        pool.scratch(worker, tileRows(cols) * cols));
            } else if (rowScratchFloats() > 0) {
                multiplyRows(start * 8, Math.min(rows, end * 8), x, T, out, outStride, outOff,
                        pool.scratch(worker, rowScratchFloats()));
            } else {
                multiplyRows(start * 8, Math.min(rows, end * 8), x, T, out, outStride, outOff);
            }
        }
    }

    /** Supplies rows [firstRow, firstRow + count) of a matrix as float32, into dst[dstOff ...]. */
    @FunctionalInterface
    public interface RowSource {
        void read(int firstRow, int count, float[] dst, int dstOff) throws java.io.IOException;
    }

    /** Rows converted per chunk when building reduced-precision storage (about 1 MB of floats). */
    private static final int CHUNK_FLOATS = 1 << 18;

    /**
     * Builds a matrix from a row source without ever holding the whole matrix in float32 unless float32
     * is the storage: reduced-precision matrices are filled chunk by chunk, so loading a bf16 or q8
     * model never needs the float32 model's memory.
     */
    public static Matrix load(DType dtype, int rows, int cols, RowSource source) throws java.io.IOException {
        GgmlType t = GgmlMatrices.storedType(dtype, cols);
        if (t != null) {
            // quantized chunk by chunk into ggml's layout and repacked into the matrix as it goes: neither
            // a float32 copy nor an encoded copy of the whole matrix
            Matrix m = GgmlMatrices.allocate(t, rows, cols);
            int chunkRows = Math.max(1, Math.min(rows, CHUNK_FLOATS / cols));
            float[] chunk = new float[chunkRows * cols];
            for (int r = 0; r < rows; r += chunkRows) {
                int n = Math.min(chunkRows, rows - r);
                source.read(r, n, chunk, 0);
                GgmlMatrices.fillRows(m, t, r, n, java.nio.ByteBuffer.wrap(GgmlMatrices.quantize(t, chunk, 0, n, cols))
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN));
            }
            return m;
        }
        if (dtype == DType.F32) {
            F32Matrix m = F32Matrix.allocateAligned(rows, cols);
            source.read(0, rows, m.storage(), m.offset());
            return m;
        }
        int chunkRows = Math.max(1, Math.min(rows, CHUNK_FLOATS / cols));
        float[] chunk = new float[chunkRows * cols];
        RowSink sink = dtype == DType.BF16 ? new BF16Matrix(rows, cols) : new Q8Matrix(rows, cols); // q4/q5_k/q6_k with odd widths too
        for (int r = 0; r < rows; r += chunkRows) {
            int n = Math.min(chunkRows, rows - r);
            source.read(r, n, chunk, 0);
            sink.fillRows(r, n, chunk, 0);
        }
        return (Matrix) sink;
    }

    /** Storage that can be filled row by row from float32 (reduced-precision matrices). */
    interface RowSink {
        void fillRows(int firstRow, int count, float[] src, int srcOff);
    }

    /**
     * Float32 data in the requested storage, converted (and rounded) when needed. The result does not
     * share {@code data}: float32 is copied into cache-line-aligned storage (loaders pass arrays they
     * assembled and then drop).
     */
    public static Matrix of(DType dtype, float[] data, int rows, int cols) {
        return switch (dtype) {
            case F32 -> {
                if (data.length != (long) rows * cols) {
                    throw new IllegalArgumentException("matrix data has " + data.length + " values, expected " + rows + "x" + cols);
                }
                F32Matrix m = F32Matrix.allocateAligned(rows, cols);
                System.arraycopy(data, 0, m.storage(), m.offset(), data.length);
                yield m;
            }
            case BF16 -> BF16Matrix.fromFloats(data, rows, cols);
            case Q8 -> Q8Matrix.fromFloats(data, rows, cols);
            case Q4_0, Q4_K, Q5_K, Q6_K -> {
                if (data.length != (long) rows * cols) {
                    throw new IllegalArgumentException("matrix data has " + data.length + " values, expected " + rows + "x" + cols);
                }
                GgmlType t = GgmlMatrices.storedType(dtype, cols);
                if (t == null) {
                    yield Q8Matrix.fromFloats(data, rows, cols);
                }
                yield GgmlMatrices.of(t, java.nio.ByteBuffer.wrap(GgmlMatrices.quantize(t, data, 0, rows, cols)), rows, cols);
            }
        };
    }
}
