package dev.earlyexit.eval;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Labels kept apart from the data, one per line (PIQA's original release: train-labels.lst beside
 * train.jsonl). Each label is a one-field row ("label") so a bad one is reported at its own line.
 */
public final class LabelsFile {
    private LabelsFile() {
    }

    public static List<Row> read(Path file) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new DatasetException(file.toString(), "not UTF-8 text (" + e.getMessage() + ")");
        }
        int last = lines.size();
        while (last > 0 && lines.get(last - 1).isBlank()) {
            last--; // a final newline or trailing blank lines are not labels
        }
        List<Row> labels = new ArrayList<>(last);
        for (int i = 0; i < last; i++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("label", PythonStrings.strip(lines.get(i)));
            labels.add(new Row(file + " line " + (i + 1), m));
        }
        return labels;
    }

    /** The labels for the rows read, checked to be as many as the data's rows. */
    public static List<Row> matching(List<Row> labels, Path labelsFile, Path dataFile, DatasetReader.Rows data) {
        int n = data.rows().size();
        if (labels.size() < n || (!data.limited() && labels.size() != n)) {
            throw new IllegalArgumentException(labelsFile + ": " + labels.size() + " labels for the "
                    + (data.limited() ? "first " : "") + n + " rows of " + dataFile + " (one label per row expected)");
        }
        return labels.subList(0, n);
    }
}
