package dev.earlyexit.tokenizer;

import dev.earlyexit.format.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;

/**
 * SentencePiece BPE (Llama-2 style) from llama2.c's tokenizer.bin: score-ordered merges, the dummy
 * prefix, spaces as '▁' and byte fallback, giving the ids the SentencePiece library gives.
 *
 * <p>llama2.c's format: int32 max token length, then per token a float32 score, an int32 byte length
 * and the bytes. Ids 0, 1, 2 are {@code <unk>}, BOS and EOS; '▁' is stored as a plain space; byte
 * tokens {@code <0xXX>} are stored either by that name or as the byte (as the Latin-1 character's UTF-8).
 */
public final class SentencePieceBpeTokenizer implements Tokenizer {
    static final char SPACE_SYMBOL = '\u2581';
    private static final int UNK = 0;
    private static final int BOS = 1;
    private static final int EOS = 2;
    private static final byte[] UNK_SURFACE = " \u2047 ".getBytes(StandardCharsets.UTF_8);
    /** Far more than any real vocabulary; guards against a garbage header or length. */
    private static final int MAX_TOKEN_BYTES = 1 << 16;

    private final String[] pieces;
    private final float[] scores;
    /** The byte a byte-fallback token stands for, else -1. */
    private final int[] byteOf;
    /** Id of the byte-fallback token for each byte value, or null when the vocabulary has none. */
    private final int[] byteTokenIds;
    private final byte[][] surfaces;
    private final PieceIndex pieceToId;
    /** Longest piece in chars: longer candidate merges need no lookup. */
    private final int maxPieceChars;

    /** {@code stored}: the token strings as tokenizer.bin holds them (spaces for '▁', raw byte tokens). */
    private SentencePieceBpeTokenizer(String[] stored, float[] scores) {
        int n = stored.length;
        this.pieces = new String[n];
        this.scores = scores;
        this.byteOf = new int[n];
        Arrays.fill(byteOf, -1);
        int[] byteIds = new int[256];
        Arrays.fill(byteIds, -1);
        int found = 0;
        for (int id = 0; id < n; id++) {
            int b = byteTokenValue(stored[id], id);
            if (b >= 0 && byteIds[b] < 0) {
                byteOf[id] = b;
                byteIds[b] = id;
                found++;
            }
        }
        this.byteTokenIds = found == 256 ? byteIds : null;
        if (byteTokenIds == null) {
            Arrays.fill(byteOf, -1);
        }
        for (int id = 0; id < n; id++) {
            pieces[id] = byteOf[id] >= 0 ? stored[id] : stored[id].replace(' ', SPACE_SYMBOL);
        }
        this.surfaces = new byte[n][];
        boolean[] matchesText = new boolean[n];
        int longest = 0;
        for (int id = 0; id < n; id++) {
            if (id == UNK || id == BOS || id == EOS || byteOf[id] >= 0) {
                continue; // control and byte tokens never match text, as in SentencePiece
            }
            matchesText[id] = true;
            longest = Math.max(longest, pieces[id].length());
            surfaces[id] = pieces[id].replace(SPACE_SYMBOL, ' ').getBytes(StandardCharsets.UTF_8);
        }
        this.pieceToId = new PieceIndex(pieces, matchesText);
        this.maxPieceChars = longest;
    }

    /** The byte value of a byte-fallback token: named {@code <0xXX>} anywhere, or stored raw at ids 3..258. */
    private static int byteTokenValue(String piece, int id) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            try {
                return Integer.parseInt(piece.substring(3, 5), 16);
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        if (id >= 3 && id < 259 && piece.length() == 1 && piece.charAt(0) == id - 3) {
            return id - 3;
        }
        return -1;
    }

    /**
     * From a GGUF {@code tokenizer.ggml.model = llama} vocabulary: pieces as SentencePiece writes them ('▁' for
     * spaces, {@code <0xXX>} byte tokens) and their scores; ids 0, 1, 2 are {@code <unk>}, BOS, EOS as in Llama 2.
     */
    public static SentencePieceBpeTokenizer fromPieces(String[] pieces, float[] scores) {
        if (pieces.length != scores.length || pieces.length < 3) {
            throw new ModelFormatException("SentencePiece vocabulary: " + pieces.length + " tokens and " + scores.length
                    + " scores (needs equal counts, at least 3)");
        }
        String[] stored = new String[pieces.length];
        for (int i = 0; i < pieces.length; i++) {
            stored[i] = pieces[i].replace(SPACE_SYMBOL, ' ');
        }
        return new SentencePieceBpeTokenizer(stored, scores.clone());
    }

    /** Reads llama2.c's tokenizer.bin; the vocabulary size is however many tokens the file holds. */
    public static SentencePieceBpeTokenizer load(Path file) {
        long size;
        byte[] data;
        try {
            size = Files.size(file);
            if (size > Integer.MAX_VALUE - 8) {
                throw new ModelFormatException(file + ": not a tokenizer.bin (" + size + " bytes is far too large)");
            }
            data = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read tokenizer: " + e.getMessage(), e);
        }
        ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.remaining() < 4) {
            throw new ModelFormatException(file + ": truncated tokenizer.bin: " + size + " bytes, no header");
        }
        int maxTokenLength = buf.getInt();
        if (maxTokenLength <= 0 || maxTokenLength > MAX_TOKEN_BYTES) {
            throw new ModelFormatException(file + ": not a llama2.c tokenizer.bin: max token length " + maxTokenLength);
        }
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        List<String> pieces = new ArrayList<>();
        FloatList scores = new FloatList();
        int n = 0;
        while (buf.hasRemaining()) {
            int at = buf.position();
            if (buf.remaining() < 8) {
                throw new ModelFormatException(file + ": truncated tokenizer.bin: token " + n + " at byte " + at
                        + " has " + buf.remaining() + " of its 8 header bytes");
            }
            float score = buf.getFloat();
            int len = buf.getInt();
            if (Float.isNaN(score)) {
                throw new ModelFormatException(file + ": corrupt tokenizer.bin: token " + n + " has score NaN");
            }
            if (len < 0 || len > maxTokenLength) {
                throw new ModelFormatException(file + ": corrupt tokenizer.bin: token " + n + " at byte " + at
                        + " has length " + len + " (max token length " + maxTokenLength + ")");
            }
            if (len > buf.remaining()) {
                throw new ModelFormatException(file + ": truncated tokenizer.bin: token " + n + " needs " + len
                        + " bytes, " + buf.remaining() + " left");
            }
            ByteBuffer slice = buf.slice();
            slice.limit(len);
            buf.position(buf.position() + len);
            String piece;
            try {
                piece = decoder.decode(slice).toString();
            } catch (CharacterCodingException e) {
                throw new ModelFormatException(file + ": corrupt tokenizer.bin: token " + n + " is not valid UTF-8");
            }
            pieces.add(piece);
            scores.add(score);
            n++;
        }
        if (n < 3) {
            throw new ModelFormatException(file + ": truncated tokenizer.bin: " + n + " tokens, needs at least <unk>, BOS, EOS");
        }
        return new SentencePieceBpeTokenizer(pieces.toArray(new String[0]), scores.toArray());
    }

    @Override
    public int[] encode(String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        // add_dummy_prefix, and spaces are the '▁' meta symbol (Llama-2 normalizes nothing else)
        String s = SPACE_SYMBOL + text.replace(' ', SPACE_SYMBOL);
        int len = s.length();
        // Symbols are a doubly linked list of [start, end) char ranges, one per code point initially.
        int[] start = new int[len + 1];
        int[] end = new int[len + 1];
        int[] prev = new int[len + 1];
        int[] next = new int[len + 1];
        int count = 0;
        for (int i = 0; i < len; ) {
            int j = i + Character.charCount(s.codePointAt(i));
            start[count] = i;
            end[count] = j;
            prev[count] = count - 1;
            next[count] = count + 1;
            count++;
            i = j;
        }
        next[count - 1] = -1;
        // Highest score first; ties go to the leftmost pair, as SentencePiece's agenda orders them.
        PriorityQueue<long[]> agenda = new PriorityQueue<>((a, b) -> {
            int c = Float.compare(Float.intBitsToFloat((int) b[0]), Float.intBitsToFloat((int) a[0]));
            return c != 0 ? c : Long.compare(start[(int) a[1]], start[(int) b[1]]);
        });
        for (int i = 0; i + 1 < count; i++) {
            offer(agenda, s, start, end, i, i + 1);
        }
        while (!agenda.isEmpty()) {
            long[] top = agenda.poll();
            int left = (int) top[1];
            int right = (int) top[2];
            // Stale when either symbol was merged away or changed since the pair was queued.
            if (end[left] == -1 || end[right] == -1 || next[left] != right
                    || end[right] - start[left] != (int) top[3]) {
                continue;
            }
            end[left] = end[right];
            end[right] = -1;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                offer(agenda, s, start, end, prev[left], left);
            }
            if (next[left] >= 0) {
                offer(agenda, s, start, end, left, next[left]);
            }
        }
        IntList ids = new IntList(count);
        for (int i = 0; i >= 0; i = next[i]) {
            String piece = s.substring(start[i], end[i]);
            int id = pieceToId.get(piece);
            if (id >= 0) {
                ids.add(id);
            } else if (byteTokenIds != null) {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                    ids.add(byteTokenIds[b & 0xFF]);
                }
            } else {
                ids.add(UNK);
            }
        }
        return ids.toArray();
    }

    private void offer(PriorityQueue<long[]> agenda, String s, int[] start, int[] end, int left, int right) {
        if (end[right] - start[left] > maxPieceChars) {
            return;
        }
        int id = pieceToId.get(s.substring(start[left], end[right]));
        if (id >= 0) {
            agenda.add(new long[]{Float.floatToRawIntBits(scores[id]) & 0xFFFFFFFFL, left, right, end[right] - start[left]});
        }
    }

    @Override
    public String decode(int[] ids) {
        return newDecoder().decodeAll(ids);
    }

    @Override
    public StreamDecoder streamDecoder() {
        return newDecoder();
    }

    private ByteStreamDecoder newDecoder() {
        return new ByteStreamDecoder(true, ' ', 0) {
            private boolean firstPiece = true;

            @Override
            protected byte[] tokenBytes(int id, boolean atStart) {
                checkId(id);
                if (id == BOS || id == EOS) {
                    return new byte[0];
                } else if (id == UNK) {
                    return UNK_SURFACE;
                } else if (byteOf[id] >= 0) {
                    return new byte[]{(byte) byteOf[id]};
                }
                byte[] surface = surfaces[id];
                boolean first = firstPiece;
                firstPiece = false;
                // The first piece loses the space that the dummy prefix added, once (as SentencePiece >= 0.1.98).
                if (first && atStart && surface.length > 0 && surface[0] == ' ') {
                    return Arrays.copyOfRange(surface, 1, surface.length);
                }
                return surface;
            }
        };
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " outside the vocabulary [0, " + pieces.length + ")");
        }
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bosId() {
        return BOS;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    public int unkId() {
        return UNK;
    }

    /** The SentencePiece name of a token: '▁' for spaces, {@code <0xXX>} for byte tokens, {@code <unk>}, {@code <s>}, {@code </s>}. */
    public String piece(int id) {
        checkId(id);
        switch (id) {
            case UNK: return "<unk>";
            case BOS: return "<s>";
            case EOS: return "</s>";
            default:
                return byteOf[id] >= 0 ? String.format("<0x%02X>", byteOf[id]) : pieces[id];
        }
    }

    public float score(int id) {
        checkId(id);
        return scores[id];
    }

    /** Whether the vocabulary has all 256 byte-fallback tokens (else unknown characters become {@code <unk>}). */
    public boolean hasByteFallback() {
        return byteTokenIds != null;
    }

    public boolean isByteToken(int id) {
        checkId(id);
        return byteOf[id] >= 0;
    }

    /** Whether id is {@code <unk>}, BOS or EOS, which never come out of {@link #encode}. */
    public boolean isControlToken(int id) {
        checkId(id);
        return id == UNK || id == BOS || id == EOS;
    }
}
