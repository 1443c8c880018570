package dev.earlyexit.eval;

import dev.earlyexit.testutil.DuckDbFixtures;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The eval tasks from Parquet files in the shapes Hugging Face publishes (see eval/README.md): the same
 * examples as from their JSONL/CSV twins, and bad rows and damaged files reported with the file's name.
 */
class ParquetDatasetTest {
    @TempDir
    Path dir;

    private static Path data(String name) {
        return TestModels.resource("eval/" + name);
    }

    private static List<Example> examples(Task task, Path file) throws IOException {
        return task.examples(DatasetReader.read(file, task, 0).rows(), null);
    }

    /** Every example alike but for its location; the Parquet one at "file row N". */
    private static void assertSameExamples(List<Example> parquet, List<Example> twin, Path parquetFile) {
        assertThat(parquet).hasSameSizeAs(twin).isNotEmpty();
        for (int i = 0; i < twin.size(); i++) {
            Example p = parquet.get(i);
            Example t = twin.get(i);
            assertThat(p.location()).isEqualTo(parquetFile + " row " + (i + 1));
            assertThat(p.requests()).as("requests of example %d", i).isEqualTo(t.requests());
            assertThat(p.gold()).as("gold of example %d", i).isEqualTo(t.gold());
            assertThat(p.choiceLengths()).as("choice lengths of example %d", i).isEqualTo(t.choiceLengths());
            assertThat(p.group()).as("group of example %d", i).isEqualTo(t.group());
        }
    }

    private static void assertSameExamples(Task task, String parquet, String twin) throws IOException {
        assertSameExamples(examples(task, data(parquet)), examples(task, data(twin)), data(parquet));
    }

    @Test
    void arcHellaswagMmluAndWinograndeGiveTheExamplesOfTheirTextTwins() throws Exception {
        assertSameExamples(Task.ARC, "arc_hf.parquet", "arc_hf.jsonl");
        assertSameExamples(Task.HELLASWAG, "hellaswag.parquet", "hellaswag.jsonl");
        assertSameExamples(Task.MMLU, "mmlu_cais.parquet", "mmlu_cais.csv");
        assertSameExamples(Task.WINOGRANDE, "winogrande.parquet", "winogrande.jsonl");
    }

    @Test
    void piqaWithItsLabelColumnGivesTheExamplesOfTheOriginalReleaseWithItsLabelsFile() throws Exception {
        Path jsonl = data("piqa.jsonl");
        Path labels = data("piqa-labels.lst");
        DatasetReader.Rows rows = DatasetReader.read(jsonl, Task.PIQA, 0);
        List<Example> twin = Task.PIQA.examples(rows.rows(), LabelsFile.matching(LabelsFile.read(labels), labels, jsonl, rows));
        assertSameExamples(examples(Task.PIQA, data("piqa.parquet")), twin, data("piqa.parquet"));
    }

    @Test
    void theParquetRowsHaveTheHuggingFaceColumnsAndTypes() throws Exception {
        Row arc = DatasetReader.read(data("arc_hf.parquet"), Task.ARC, 0).rows().get(2);
        assertThat(arc.fields().keySet()).containsExactly("id", "question", "choices", "answerKey");
        assertThat(arc.struct("choices")).containsEntry("label", List.of("1", "2", "3", "4"));
        Row hellaswag = DatasetReader.read(data("hellaswag.parquet"), Task.HELLASWAG, 0).rows().get(1);
        assertThat(hellaswag.fields().keySet()).containsExactly("ind", "activity_label", "ctx_a", "ctx_b", "ctx",
                "endings", "source_id", "split", "split_type", "label");
        assertThat(hellaswag.fields()).containsEntry("ind", 27L).containsEntry("label", "0");
        Row mmlu = DatasetReader.read(data("mmlu_cais.parquet"), Task.MMLU, 0).rows().get(2);
        assertThat(mmlu.fields().keySet()).containsExactly("question", "subject", "choices", "answer");
        assertThat(mmlu.fields()).containsEntry("answer", 2L)
                .containsEntry("choices", List.of("oxygen", "nitrogen", "carbon dioxide", "helium"));
        Row winogrande = DatasetReader.read(data("winogrande.parquet"), Task.WINOGRANDE, 0).rows().get(0);
        assertThat(winogrande.fields().keySet()).containsExactly("sentence", "option1", "option2", "answer");
        assertThat(winogrande.fields()).containsEntry("answer", "2");
        Row piqa = DatasetReader.read(data("piqa.parquet"), Task.PIQA, 0).rows().get(1);
        assertThat(piqa.fields().keySet()).containsExactly("goal", "sol1", "sol2", "label");
        assertThat(piqa.fields()).containsEntry("label", 1L);
    }

    @Test
    void theLimitStopsAfterThatManyRows() throws Exception {
        DatasetReader.Rows rows = DatasetReader.read(data("hellaswag.parquet"), Task.HELLASWAG, 3);
        assertThat(rows.limited()).isTrue();
        assertThat(rows.rows()).extracting(Row::location).containsExactly(data("hellaswag.parquet") + " row 1",
                data("hellaswag.parquet") + " row 2", data("hellaswag.parquet") + " row 3");
        assertThat(DatasetReader.read(data("hellaswag.parquet"), Task.HELLASWAG, 4).limited()).isFalse();
    }

    @Test
    void aMalformedRowNamesTheFileAndRow() throws Exception {
        DuckDbFixtures.write("""
                COPY (SELECT * FROM (VALUES
                  ('a-1', 'Which is warm?', {'text': ['ice', 'soup'], 'label': ['A', 'B']}, 'B'),
                  ('a-2', NULL, {'text': ['x', 'y'], 'label': ['A', 'B']}, 'A')
                ) t(id, question, choices, answerKey)) TO 'arc.parquet' (FORMAT parquet, COMPRESSION snappy);
                COPY (SELECT * FROM (VALUES
                  ('g1', 'a', 'b', 0::BIGINT), ('g2', 'a', 'b', 1::BIGINT), ('g3', 'a', 'b', 2::BIGINT)
                ) t(goal, sol1, sol2, label)) TO 'piqa.parquet' (FORMAT parquet, COMPRESSION snappy);
                COPY (SELECT * FROM (VALUES
                  ('Q?', 'astronomy', ['a', 'b', 'c', 'd'], 4::BIGINT)
                ) t(question, subject, choices, answer)) TO 'mmlu.parquet' (FORMAT parquet, COMPRESSION snappy);
                COPY (SELECT * FROM (VALUES
                  (1::INTEGER, 'Cooking', 'A cook cracks an egg.', 'she', ['stirs it.', NULL], '0')
                ) t(ind, activity_label, ctx_a, ctx_b, endings, label)) TO 'hellaswag.parquet' (FORMAT parquet);
                """, dir);
        Path arc = dir.resolve("arc.parquet");
        assertThatThrownBy(() -> examples(Task.ARC, arc)).isInstanceOf(DatasetException.class)
                .hasMessage(arc + " row 2: field 'question' is null");
        Path piqa = dir.resolve("piqa.parquet");
        assertThatThrownBy(() -> examples(Task.PIQA, piqa)).isInstanceOf(DatasetException.class)
                .hasMessage(piqa + " row 3: bad label 2 in field 'label' (expected 0 to 1)");
        Path mmlu = dir.resolve("mmlu.parquet");
        assertThatThrownBy(() -> examples(Task.MMLU, mmlu))
                .hasMessage(mmlu + " row 1: bad label 4 in field 'answer' (expected 0 to 3 or A to D)");
        Path hellaswag = dir.resolve("hellaswag.parquet");
        assertThatThrownBy(() -> examples(Task.HELLASWAG, hellaswag))
                .hasMessage(hellaswag + " row 1: field 'endings' item 1 is null");
    }

    @Test
    void aDamagedFileIsOneLineNamingIt() throws Exception {
        byte[] bytes = Files.readAllBytes(data("arc_hf.parquet"));
        Path cut = Files.write(dir.resolve("cut.parquet"), Arrays.copyOf(bytes, bytes.length / 2));
        assertThatThrownBy(() -> DatasetReader.read(cut, Task.ARC, 0)).isInstanceOf(IOException.class)
                .hasMessage(cut + ": not a Parquet file: the magic \"PAR1\" is missing at its end");

        // The footer intact, the first data page overwritten: the damage is found reading the pages.
        byte[] garbled = bytes.clone();
        Arrays.fill(garbled, 4, 64, (byte) 0x7F);
        Path pages = Files.write(dir.resolve("pages.parquet"), garbled);
        assertThatThrownBy(() -> DatasetReader.read(pages, Task.ARC, 0)).isInstanceOf(IOException.class)
                .satisfies(e -> assertThat(e.getMessage()).startsWith(pages + ": row group 0: column ")
                        .doesNotContain("\n"));
    }

    @Test
    void theReadmeSqlWritesTheseFilesByteForByte() throws Exception {
        DuckDbFixtures.assertReadmeWritesTheCommittedFiles(data("README.md"), dir);
    }
}
