package dev.earlyexit.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Formats read row by row, and every kind of bad row reported once, with its file and line. */
class DatasetReaderTest {
    @TempDir
    Path dir;

    private static final String HELLASWAG_OK = "{\"activity_label\": \"Cooking\", \"ctx_a\": \"A cook cracks an egg.\", "
            + "\"ctx_b\": \"she\", \"endings\": [\"stirs it.\", \"eats the pan.\"], \"label\": \"0\"}";

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    private List<Example> examples(Task task, Path file) throws IOException {
        return task.examples(DatasetReader.read(file, task, 0).rows(), null);
    }

    @Test
    void missingFieldNamesTheFileAndLine() throws Exception {
        Path f = write("h.jsonl", HELLASWAG_OK + "\n\n{\"activity_label\": \"Cooking\", \"ctx_a\": \"x\", \"ctx_b\": \"y\", "
                + "\"label\": 1}\n");
        // The blank line still counts: the bad row is on line 3.
        assertThatThrownBy(() -> examples(Task.HELLASWAG, f)).isInstanceOf(DatasetException.class)
                .hasMessage(f + " line 3: missing field 'endings'");
    }

    @Test
    void wrongTypeNamesTheFieldAndWhatItGot() throws Exception {
        Path f = write("h.jsonl", HELLASWAG_OK.replace("[\"stirs it.\", \"eats the pan.\"]", "\"stirs it.\""));
        assertThatThrownBy(() -> examples(Task.HELLASWAG, f))
                .hasMessage(f + " line 1: field 'endings' must be a list of strings, got a string");
        Path g = write("w.jsonl", "{\"sentence\": 42, \"option1\": \"a\", \"option2\": \"b\", \"answer\": \"1\"}\n");
        assertThatThrownBy(() -> examples(Task.WINOGRANDE, g))
                .hasMessage(g + " line 1: field 'sentence' must be a string, got a number (42)");
        Path a = write("arc.jsonl", "{\"question\": \"Q?\", \"choices\": [\"a\", \"b\"], \"answerKey\": \"A\"}\n");
        assertThatThrownBy(() -> examples(Task.ARC, a))
                .hasMessage(a + " line 1: field 'choices' must be an object, got a list");
    }

    @Test
    void badLabelsAreReportedWithWhatIsExpected() throws Exception {
        Path h = write("h.jsonl", HELLASWAG_OK.replace("\"label\": \"0\"", "\"label\": \"\""));
        assertThatThrownBy(() -> examples(Task.HELLASWAG, h))
                .hasMessage(h + " line 1: bad label '' in field 'label' (expected 0 to 1)");
        Path w = write("w.jsonl", "{\"sentence\": \"A _ b.\", \"option1\": \"a\", \"option2\": \"b\", \"answer\": \"3\"}\n");
        assertThatThrownBy(() -> examples(Task.WINOGRANDE, w))
                .hasMessage(w + " line 1: bad label '3' in field 'answer' (expected \"1\" or \"2\")");
        Path a = write("a.jsonl", "{\"question\": \"Q?\", \"choices\": {\"text\": [\"x\", \"y\"], \"label\": [\"A\", \"B\"]}, "
                + "\"answerKey\": \"E\"}\n");
        assertThatThrownBy(() -> examples(Task.ARC, a))
                .hasMessage(a + " line 1: bad label 'E' in field 'answerKey' (the choices are labelled A, B)");
        Path m = write("m.csv", "question,subject,choices,answer\nQ?,math,\"['1', '2', '3', '4']\",7\n");
        assertThatThrownBy(() -> examples(Task.MMLU, m))
                .hasMessage(m + " line 2: bad label '7' in field 'answer' (expected 0 to 3 or A to D)");
        Path p = write("p.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": -1}\n");
        assertThatThrownBy(() -> examples(Task.PIQA, p))
                .hasMessage(p + " line 1: bad label -1 in field 'label' (expected 0 to 1)");
        Path s = write("s.jsonl", "{\"sentence\": \"No blank here.\", \"option1\": \"a\", \"option2\": \"b\", \"answer\": \"1\"}\n");
        assertThatThrownBy(() -> examples(Task.WINOGRANDE, s))
                .hasMessage(s + " line 1: field 'sentence' has no '_' for the options to fill");
    }

    @Test
    void unparsableJsonAndNonObjectsNameTheirLine() throws Exception {
        Path f = write("l.jsonl", "{\"text\": \"a b\"}\n{\"text\": \"c d\"}\n{\"text\": \"unclosed}\n");
        assertThatThrownBy(() -> DatasetReader.read(f, Task.LAMBADA, 0)).isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(f + " line 3: unparsable JSON: ");
        Path g = write("l2.jsonl", "[1, 2]\n");
        assertThatThrownBy(() -> DatasetReader.read(g, Task.LAMBADA, 0))
                .hasMessage(g + " line 1: expected a JSON object, got array");
    }

    @Test
    void aJsonArrayFileGivesEachElementItsLine() throws Exception {
        Path f = write("l.json", "[\n  {\"text\": \"a b\"},\n  {\"text\": \"c d\"},\n  {\"txt\": \"e f\"}\n]\n");
        DatasetReader.Rows rows = DatasetReader.read(f, Task.LAMBADA, 0);
        assertThat(rows.rows()).extracting(Row::location).containsExactly(f + " line 2", f + " line 3", f + " line 4");
        assertThatThrownBy(() -> examples(Task.LAMBADA, f)).hasMessage(f + " line 4: missing field 'text'");
        Path bad = write("bad.json", "[\n  {\"text\": \"a b\"},\n  {\"text\": }\n]\n");
        assertThatThrownBy(() -> DatasetReader.read(bad, Task.LAMBADA, 0)).hasMessageStartingWith(bad + " line 3: unparsable JSON");
    }

    @Test
    void csvWithTheWrongColumnCountNamesTheRecordsFirstLine() throws Exception {
        // The second record spans lines 2-3, so the short record starts on line 4.
        Path f = write("abstract_algebra_test.csv", "Q1,a,b,c,d,A\n\"Q2\nstill Q2\",a,b,c,d,B\nQ3,a,b,c,D\n");
        assertThatThrownBy(() -> DatasetReader.read(f, Task.MMLU, 0)).isInstanceOf(DatasetException.class)
                .hasMessage(f + " line 4: 5 fields, expected 6 (question, A, B, C, D, answer: MMLU's original CSV)");
        Path h = write("piqa.csv", "goal,sol1,sol2,label\ng,a,b,0\ng,a,b,1,extra\n");
        assertThatThrownBy(() -> DatasetReader.read(h, Task.PIQA, 0))
                .hasMessage(h + " line 3: 5 fields, expected 4 (as the header)");
        Path q = write("q.csv", "goal,sol1,sol2,label\ng,\"a,b,0\n");
        assertThatThrownBy(() -> DatasetReader.read(q, Task.PIQA, 0))
                .hasMessage(q + " line 2: unterminated quoted field");
    }

    @Test
    void csvWithAHeaderServesAnyTask() throws Exception {
        Path f = write("piqa.csv", "\uFEFFgoal,sol1,sol2,label\r\n\"To boil water,\",use a pot.,use a sieve.,0\r\n");
        List<Example> ex = examples(Task.PIQA, f);
        assertThat(ex.get(0).requests().get(0)).isEqualTo(new Request("Question: To boil water,\nAnswer:", " use a pot."));
        assertThat(ex.get(0).location()).isEqualTo(f + " line 2");
        assertThat(DatasetReader.subjectOf(Path.of("x/college_physics_dev.csv"))).isEqualTo("college_physics");
        assertThat(DatasetReader.subjectOf(Path.of("x/virology.csv"))).isEqualTo("virology");
    }

    @Test
    void theLimitStopsBeforeLaterRows() throws Exception {
        Path f = write("l.jsonl", "{\"text\": \"a b\"}\n{\"text\": \"c d\"}\nnot json\n");
        DatasetReader.Rows rows = DatasetReader.read(f, Task.LAMBADA, 2);
        assertThat(rows.rows()).hasSize(2);
        assertThat(rows.limited()).isTrue();
        assertThat(DatasetReader.read(write("m.jsonl", "{\"text\": \"a b\"}\n"), Task.LAMBADA, 2).limited()).isFalse();
    }

    @Test
    void labelsFileMustMatchTheRows() throws Exception {
        Path data = write("train.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n".repeat(3));
        Path labels = write("train-labels.lst", "0\n1\n");
        DatasetReader.Rows rows = DatasetReader.read(data, Task.PIQA, 0);
        assertThatThrownBy(() -> LabelsFile.matching(LabelsFile.read(labels), labels, data, rows))
                .hasMessage(labels + ": 2 labels for the 3 rows of " + data + " (one label per row expected)");
        Path bad = write("bad-labels.lst", "0\nyes\n1\n");
        List<Row> matched = LabelsFile.matching(LabelsFile.read(bad), bad, data, rows);
        assertThatThrownBy(() -> Task.PIQA.examples(rows.rows(), matched))
                .hasMessage(bad + " line 2: bad label 'yes' in field 'label' (expected 0 to 1)");
    }

    @Test
    void unknownFormatsAndAParquetNameOnOtherBytesSayWhatFile() throws Exception {
        Path txt = write("data.txt", "x");
        assertThatThrownBy(() -> DatasetReader.read(txt, Task.LAMBADA, 0))
                .hasMessage(txt + ": unknown data format (expected .jsonl, .json, .csv or .parquet)");
        // Read as Parquet by its extension: the reader names the file and says why it is not one.
        Path pq = write("data.parquet", "PAR1");
        assertThatThrownBy(() -> DatasetReader.read(pq, Task.LAMBADA, 0)).isInstanceOf(IOException.class)
                .hasMessage(pq + ": not a Parquet file: only 4 bytes");
        Path jsonl = write("jsonl.parquet", "{\"text\": \"a b\"}\n");
        assertThatThrownBy(() -> DatasetReader.read(jsonl, Task.LAMBADA, 0)).isInstanceOf(IOException.class)
                .hasMessage(jsonl + ": not a Parquet file: the magic \"PAR1\" is missing at its start");
    }
}
