package dev.earlyexit.bench;

import dev.earlyexit.cli.*;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/**
 * One table of a report, written both as Markdown (for report.md and the console) and as CSV (one file
 * per table). Each column has a CSV key (stable, machine-friendly) and a Markdown label (for people).
 * Cells are numbers or text; a missing value (null or NaN) is an empty CSV field and "-" in Markdown.
 */
public final class ReportTable {
    private record Column(String key, String label) {
    }

    private final String name;
    private final String title;
    private final List<Column> columns = new ArrayList<>();
    private final List<List<Object>> rows = new ArrayList<>();

    /** @param name the CSV file's stem; @param title the Markdown heading */
    ReportTable(String name, String title) {
        this.name = name;
        this.title = title;
    }

    ReportTable column(String key, String label) {
        if (!rows.isEmpty()) {
            throw new IllegalStateException("columns come before rows");
        }
        columns.add(new Column(key, label));
        return this;
    }

    ReportTable row(Object... cells) {
        return row(java.util.Arrays.asList(cells));
    }

    ReportTable row(List<?> cells) {
        if (cells.size() != columns.size()) {
            throw new IllegalArgumentException("table " + name + " has " + columns.size() + " columns, got a row of "
                    + cells.size());
        }
        rows.add(new ArrayList<>(cells));
        return this;
    }

    String name() {
        return name;
    }

    String title() {
        return title;
    }

    String csvFile() {
        return name + ".csv";
    }

    boolean isEmpty() {
        return rows.isEmpty();
    }

    String toCsv() {
        StringBuilder sb = new StringBuilder();
        csvLine(sb, columns.stream().map(c -> (Object) c.key()).toList());
        for (List<Object> r : rows) {
            csvLine(sb, r);
        }
        return sb.toString();
    }

    String toMarkdown() {
        StringBuilder sb = new StringBuilder("|");
        for (Column c : columns) {
            sb.append(' ').append(markdownCell(c.label())).append(" |");
        }
        sb.append("\n|");
        sb.append(" --- |".repeat(columns.size()));
        sb.append('\n');
        for (List<Object> r : rows) {
            sb.append('|');
            for (Object cell : r) {
                String s = format(cell);
                sb.append(' ').append(s.isEmpty() ? "-" : markdownCell(s)).append(" |");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static void csvLine(StringBuilder sb, List<Object> cells) {
        for (int i = 0; i < cells.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            String s = format(cells.get(i));
            boolean quote = s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0;
            sb.append(quote ? '"' + s.replace("\"", "\"\"") + '"' : s);
        }
        sb.append('\n');
    }

    /** A pipe would end the cell and a newline the row. */
    private static String markdownCell(String s) {
        return s.replace("|", "\\|").replace("\r", " ").replace("\n", " ");
    }

    /** Plain decimal notation (no exponent, no trailing zeros), so CSV readers and people see the same digits. */
    static String format(Object cell) {
        if (cell == null) {
            return "";
        }
        if (cell instanceof Double || cell instanceof Float) {
            double d = ((Number) cell).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                return Double.isNaN(d) ? "" : (d > 0 ? "inf" : "-inf");
            }
            String s = BigDecimal.valueOf(d).stripTrailingZeros().toPlainString();
            return s.equals("-0") ? "0" : s;
        }
        return cell.toString();
    }
}
