package dev.earlyexit.dataset.parquet;

import dev.earlyexit.dataset.parquet.ColumnChunkReader.ColumnData;
import dev.earlyexit.dataset.parquet.SchemaNode.GroupKind;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Rebuilds rows from a row group's decoded columns (Dremel record assembly). The schema tree is
 * walked once per row; each leaf column keeps a cursor into its levels. A node's definition is
 * read from the first leaf below it, and every leaf below is checked to agree, so inconsistent
 * levels are reported instead of shifting values into the wrong rows.
 */
final class RecordAssembler {
    private final SchemaNode root;
    private final ColumnData[] columns;
    private final int[] entry;
    private final int[] valueIndex;
    private final long firstRow; // the file's index of the row group's first row, for messages
    private long row;

    RecordAssembler(SchemaNode root, ColumnData[] columns, long firstRow) {
        this.root = root;
        this.columns = columns;
        this.firstRow = firstRow;
        this.entry = new int[columns.length];
        this.valueIndex = new int[columns.length];
    }

    /** Appends the row group's {@code rowCount} rows to {@code out}. */
    void assemble(long rowCount, List<Map<String, Object>> out) {
        for (row = 0; row < rowCount; row++) {
            for (SchemaNode leaf : root.leaves) {
                if (!hasMore(leaf)) {
                    throw error(leaf, "the column ends before the row group's " + rowCount + " rows");
                }
                if (rep(leaf) != 0) {
                    throw error(leaf, "repetition level " + rep(leaf) + " where a new row should start");
                }
            }
            out.add(readStruct(root));
        }
        for (SchemaNode leaf : root.leaves) {
            ColumnData column = columns[leaf.columnIndex];
            if (entry[leaf.columnIndex] != column.size() || valueIndex[leaf.columnIndex] != column.valueCount()) {
                throw error(leaf, "the column holds more data than the row group's " + rowCount + " rows");
            }
        }
    }

    private Map<String, Object> readStruct(SchemaNode group) {
        Map<String, Object> struct = new LinkedHashMap<>();
        for (SchemaNode child : group.children) {
            struct.put(child.name, readField(child));
        }
        return struct;
    }

    /** The value of a field whose parent is defined at the current position. */
    private Object readField(SchemaNode node) {
        if (node.isRepeated()) {
            // A repeated field outside a LIST annotation is a list of required elements.
            return readRepeated(node, false);
        }
        if (node.isOptional()) {
            int def = def(node.firstLeaf);
            if (def < node.definitionLevel) {
                skipUndefined(node, node.definitionLevel - 1);
                return null;
            }
        }
        return readDefined(node);
    }

    /** The value of a node known to be defined (present, non-null) at the current position. */
    private Object readDefined(SchemaNode node) {
        if (node.isLeaf()) {
            int column = node.columnIndex;
            int def = def(node);
            if (def != node.definitionLevel) {
                throw error(node, "definition level " + def + " where a value (level " + node.definitionLevel
                        + ") should be");
            }
            ColumnData data = columns[column];
            if (valueIndex[column] >= data.valueCount()) {
                throw error(node, "more values are referenced than the pages hold");
            }
            Object value = data.values()[valueIndex[column]++];
            entry[column]++;
            return value;
        }
        if (node.groupKind == GroupKind.LIST) {
            return readRepeated(node.children.get(0), node.listElementIsChild);
        }
        return readStruct(node);
    }

    /**
     * The elements of repeated node {@code repeated}, whose parent is defined. With
     * {@code elementIsChild} (3-level lists) the element is the node's single child, which may be
     * null; otherwise the repeated node itself is the (required) element.
     */
    private List<Object> readRepeated(SchemaNode repeated, boolean elementIsChild) {
        List<Object> list = new ArrayList<>();
        if (def(repeated.firstLeaf) < repeated.definitionLevel) {
            skipUndefined(repeated, repeated.definitionLevel - 1);
            return list;
        }
        while (true) {
            list.add(elementIsChild ? readField(repeated.children.get(0)) : readDefined(repeated));
            SchemaNode first = repeated.firstLeaf;
            if (!hasMore(first) || rep(first) < repeated.repetitionLevel) {
                break;
            }
            for (SchemaNode leaf : repeated.leaves) {
                if (!hasMore(leaf) || rep(leaf) != repeated.repetitionLevel) {
                    throw error(leaf, "its list lengths disagree with column " + first.path);
                }
            }
        }
        for (SchemaNode leaf : repeated.leaves) {
            if (hasMore(leaf) && rep(leaf) >= repeated.repetitionLevel) {
                throw error(leaf, "repetition level " + rep(leaf) + " continues a list that column "
                        + repeated.firstLeaf.path + " ends");
            }
        }
        return list;
    }

    /**
     * Consumes the single entry that each leaf below {@code node} holds for it when it is null or an
     * empty list; all of them must record the same definition level.
     */
    private void skipUndefined(SchemaNode node, int expectedDef) {
        for (SchemaNode leaf : node.leaves) {
            int def = def(leaf);
            if (def != expectedDef) {
                throw error(leaf, "definition level " + def + " where " + expectedDef + " is expected ("
                        + node.path + " is null or empty in column " + node.firstLeaf.path + ")");
            }
            entry[leaf.columnIndex]++;
        }
    }

    private boolean hasMore(SchemaNode leaf) {
        return entry[leaf.columnIndex] < columns[leaf.columnIndex].size();
    }

    private int def(SchemaNode leaf) {
        ColumnData data = columns[leaf.columnIndex];
        int i = entry[leaf.columnIndex];
        if (i >= data.size()) {
            throw error(leaf, "the column ends in the middle of a row");
        }
        return data.definitionLevels() == null ? 0 : data.definitionLevels()[i];
    }

    private int rep(SchemaNode leaf) {
        ColumnData data = columns[leaf.columnIndex];
        int[] levels = data.repetitionLevels();
        return levels == null ? 0 : levels[entry[leaf.columnIndex]];
    }

    private ParquetDataException error(SchemaNode leaf, String detail) {
        return new ParquetDataException("row " + (firstRow + row) + ", column " + leaf.path + ": " + detail);
    }
}
