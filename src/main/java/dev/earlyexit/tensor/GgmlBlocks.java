package dev.earlyexit.tensor;

import java.nio.ByteBuffer;

/**
 * A matrix that keeps a ggml block encoding (repacked for its kernels), so a loader can fill it from
 * the file a run of whole blocks at a time, with no float32 copy and no copy of the whole tensor.
 */
interface GgmlBlocks {
    /** The encoding {@link #fillBlocks} reads, or null when this matrix cannot take one (odd widths). */
    GgmlType encoding();

    /**
     * Blocks [firstBlock, firstBlock + count) of the row-major matrix, from {@code src}'s position
     * (little-endian), which then stands past them.
     */
    void fillBlocks(int firstBlock, int count, ByteBuffer src);
}
