package dev.earlyexit.eval;

import java.io.IOException;
import java.io.Reader;
import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 records, one at a time: comma-separated, fields in double quotes may hold commas, line
 * breaks and doubled quotes (""); records end at LF or CRLF. Each record knows the line it starts on,
 * which is what error messages name when a quoted field spans lines.
 */
final class CsvReader {
    /** One record and the 1-based line it starts on. */
    record Record(int line, List<String> fields) {
    }

    private final Reader in;
    private final String file;
    private int line = 1;
    private int peeked = -2;

    CsvReader(Reader in, String file) {
        this.in = in;
        this.file = file;
    }

    private int read() throws IOException {
        if (peeked != -2) {
            int c = peeked;
            peeked = -2;
            return c;
        }
        return in.read();
    }

    private int peek() throws IOException {
        if (peeked == -2) {
            peeked = in.read();
        }
        return peeked;
    }

    /** The next record, or null at the end; blank lines between records are skipped. */
    Record next() throws IOException {
        int c = peek();
        while (c == '\n' || c == '\r') {
            read();
            if (c == '\n') {
                line++;
            } else if (peek() == '\n') {
                read();
                line++;
            } else {
                line++;
            }
            c = peek();
        }
        if (c == -1) {
            return null;
        }
        if (line == 1 && c == '\uFEFF') {
            read(); // byte order mark
        }
        int start = line;
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        while (true) {
            c = read();
            if (c == '"' && field.length() == 0) {
                readQuoted(field, start);
                c = read();
                if (c != ',' && c != '\n' && c != '\r' && c != -1) {
                    throw new DatasetException(file + " line " + line, "unexpected character '" + (char) c
                            + "' after a closing quote (a quote inside a quoted field is written \"\")");
                }
            }
            if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
                continue;
            }
            if (c == '\n' || c == '\r' || c == -1) {
                if (c == '\r' && peek() == '\n') {
                    read();
                }
                if (c != -1) {
                    line++;
                }
                fields.add(field.toString());
                return new Record(start, fields);
            }
            field.append((char) c);
        }
    }

    /** After an opening quote: up to the closing one, "" standing for a quote. */
    private void readQuoted(StringBuilder field, int start) throws IOException {
        while (true) {
            int c = read();
            if (c == -1) {
                throw new DatasetException(file + " line " + start, "unterminated quoted field");
            }
            if (c == '"') {
                if (peek() == '"') {
                    read();
                    field.append('"');
                    continue;
                }
                return;
            }
            if (c == '\n') {
                line++;
            } else if (c == '\r' && peek() != '\n') {
                line++;
            }
            field.append((char) c);
        }
    }
}
