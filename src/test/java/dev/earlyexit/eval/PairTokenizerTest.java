package dev.earlyexit.eval;

import dev.earlyexit.testutil.TestModels;
import dev.earlyexit.tokenizer.Tokenizer;
import dev.earlyexit.tokenizer.Tokenizers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The harness's context/continuation split on the real Llama 2 SentencePiece tokenizer (stories15M's). */
class PairTokenizerTest {
    static Tokenizer tok;
    static final int BOS = 1;

    @BeforeAll
    static void load() {
        tok = Tokenizers.load(TestModels.resource("reference/tokenizer/tokenizer.bin"));
    }

    /** BOS + the text's tokens, as generate encodes a prompt. */
    static int[] concatWithBos(Tokenizer tokenizer, String text) {
        return concat(new int[] {BOS}, tokenizer.encode(text));
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void contextTokensThenWhatFollowsThemInTheWholeEncoding() {
        PairTokenizer pt = new PairTokenizer(tok, BOS, 256);
        String context = "Question: Which of these gives off its own light?\nAnswer:";
        PairTokenizer.Pair p = pt.encode(new Request(context, " the Sun"));
        int[] ctx = tok.encode(context);
        int[] whole = tok.encode(context + " the Sun");
        assertThat(p.ids()).startsWith(BOS).hasSize(1 + whole.length);
        assertThat(p.continuationStart()).isEqualTo(1 + ctx.length);
        assertThat(Arrays.copyOfRange(p.ids(), 1, p.continuationStart())).containsExactly(ctx);
        assertThat(Arrays.copyOfRange(p.ids(), p.continuationStart(), p.ids().length))
                .containsExactly(Arrays.copyOfRange(whole, ctx.length, whole.length));
        // "▁the▁Sun": the space before the continuation is in its first token.
        assertThat(Arrays.copyOfRange(p.ids(), p.continuationStart(), p.ids().length)).containsExactly(tok.encode("the Sun"));
        assertThat(p.truncated()).isFalse();
    }

    @Test
    void trailingSpacesOfTheContextMoveOntoTheContinuation() {
        PairTokenizer pt = new PairTokenizer(tok, BOS, 256);
        PairTokenizer.Pair moved = pt.encode(new Request("The cat sat on the ", "mat"));
        PairTokenizer.Pair plain = pt.encode(new Request("The cat sat on the", " mat"));
        assertThat(moved).usingRecursiveComparison().isEqualTo(plain);
        assertThat(moved.continuationStart()).isEqualTo(1 + tok.encode("The cat sat on the").length);
    }

    @Test
    void aTokenAcrossTheBoundaryIsScoredAsContinuationAsTheHarnessDoes() {
        // "▁hello" is one token: the whole string's encoding does not start with the context's ("▁hel"), and
        // the harness still keeps the context's own tokens and the whole encoding's tail after their count.
        PairTokenizer pt = new PairTokenizer(tok, BOS, 256);
        String context = "She said hel";
        String continuation = "lo to the dog";
        int[] ctx = tok.encode(context);
        int[] whole = tok.encode(context + continuation);
        assertThat(Arrays.copyOf(whole, ctx.length)).isNotEqualTo(ctx);
        PairTokenizer.Pair p = pt.encode(new Request(context, continuation));
        assertThat(p.ids()).containsExactly(concat(new int[] {BOS}, ctx, Arrays.copyOfRange(whole, ctx.length, whole.length)));
        assertThat(p.continuationStart()).isEqualTo(1 + ctx.length);
    }

    @Test
    void longPairsKeepTheirLastMaxSeqLenPlusOneTokens() {
        int window = 16;
        PairTokenizer pt = new PairTokenizer(tok, BOS, window);
        String context = "Once upon a time there was a little girl who liked to walk in the park with her dog every day";
        PairTokenizer.Pair full = new PairTokenizer(tok, BOS, 4096).encode(new Request(context, " and night"));
        PairTokenizer.Pair cut = pt.encode(new Request(context, " and night"));
        assertThat(full.ids().length).isGreaterThan(window + 1);
        assertThat(cut.truncated()).isTrue();
        assertThat(cut.ids()).hasSize(window + 1)
                .containsExactly(Arrays.copyOfRange(full.ids(), full.ids().length - window - 1, full.ids().length));
        assertThat(cut.continuationLength()).isEqualTo(full.continuationLength());

        String longWord = IntStream.range(0, 20).mapToObj(i -> " dog").reduce("", String::concat);
        assertThatThrownBy(() -> pt.encode(new Request("A", longWord)))
                .hasMessage("the continuation has 20 tokens, more than the model's context of 16");
    }

    @Test
    void withoutBosAnEmptyContextHasNothingToPredictFrom() {
        PairTokenizer withBos = new PairTokenizer(tok, BOS, 256);
        assertThat(withBos.encode(new Request("", " Hello")).continuationStart()).isEqualTo(1);
        assertThatThrownBy(() -> new PairTokenizer(tok, -1, 256).encode(new Request("", " Hello")))
                .hasMessageContaining("the context is empty");
    }
}
