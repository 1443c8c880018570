package dev.earlyexit.format;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Positional reads of little-endian float32 runs from a file into float arrays, through one small
 * reusable buffer: no memory map, so loading never holds the file and the arrays at once.
 */
public final class FloatFileReader implements AutoCloseable {
    private static final int CHUNK_BYTES = 1 << 20;
    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    public FloatFileReader(Path path) throws IOException {
        this.path = path;
        this.channel = FileChannel.open(path, StandardOpenOption.READ);
        this.size = channel.size();
    }

    public long size() {
        return size;
    }

    public Path path() {
        return path;
    }

    /** Reads {@code n} float32 values starting at byte {@code offset} into dst[dstOff ...]. */
    public void readFloats(long offset, float[] dst, int dstOff, int n) throws IOException {
        long end = offset + 4L * n;
        if (offset < 0 || end > size) {
            throw new ModelFormatException(path + ": truncated: needs bytes up to " + end + " but the file has "
                    + size);
        }
        int done = 0;
        while (done < n) {
            int count = Math.min(n - done, CHUNK_BYTES / 4);
            readBytes(offset + 4L * done, 4 * count);
            buffer.asFloatBuffer().get(dst, dstOff + done, count);
            done += count;
        }
    }

    /** Fills the internal buffer with {@code length} bytes from {@code offset} and returns it (valid until the next read). */
    public ByteBuffer readBytes(long offset, int length) throws IOException {
        if (length > CHUNK_BYTES) {
            throw new IllegalArgumentException("read of " + length + " bytes exceeds the chunk size");
        }
        if (offset + length > size) {
            throw new ModelFormatException(path + ": truncated: needs bytes up to " + (offset + length)
                    + " but the file has " + size);
        }
        buffer.clear().limit(length);
        long pos = offset;
        while (buffer.hasRemaining()) {
            int r = channel.read(buffer, pos);
            if (r < 0) {
                throw new ModelFormatException(path + ": unexpected end of file at byte " + pos);
            }
            pos += r;
        }
        buffer.flip();
        return buffer;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
