package dev.earlyexit.dataset.parquet;

import dev.earlyexit.dataset.parquet.ParquetMetadata.Logical;
import dev.earlyexit.dataset.parquet.ParquetMetadata.SchemaElement;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One node of the schema tree, rebuilt from the footer's depth-first SchemaElement list, with the
 * definition and repetition levels that record assembly needs and the Java value kind of leaves.
 */
final class SchemaNode {
    /** The Java value a leaf decodes to. */
    enum ValueKind { BOOLEAN, INT32, UINT32, INT64, UINT64, FLOAT, DOUBLE, STRING, BINARY, DECIMAL }

    /** How a group's value is built. */
    enum GroupKind { STRUCT, LIST }

    final String name;
    final String path; // dotted, for messages
    final int repetition;
    final int definitionLevel; // optional and repeated nodes from the root down to this one, inclusive
    final int repetitionLevel; // repeated nodes from the root down to this one, inclusive
    final List<SchemaNode> children;

    // Leaves only.
    final int physicalType;
    final int typeLength;
    final ValueKind valueKind;
    int decimalScale;
    int columnIndex = -1;

    // Groups only.
    GroupKind groupKind;
    /** For LIST groups: true when the repeated child wraps the element (the standard 3-level form). */
    boolean listElementIsChild;

    /** The first leaf below (or this leaf): its levels tell whether this node is null or empty. */
    SchemaNode firstLeaf;
    /** All leaves below (or this leaf), whose levels move together while this node is null or empty. */
    final List<SchemaNode> leaves = new ArrayList<>();

    private SchemaNode(String name, String path, int repetition, int definitionLevel, int repetitionLevel,
                       List<SchemaNode> children, int physicalType, int typeLength, ValueKind valueKind) {
        this.name = name;
        this.path = path;
        this.repetition = repetition;
        this.definitionLevel = definitionLevel;
        this.repetitionLevel = repetitionLevel;
        this.children = children;
        this.physicalType = physicalType;
        this.typeLength = typeLength;
        this.valueKind = valueKind;
    }

    boolean isLeaf() {
        return children == null;
    }

    boolean isOptional() {
        return repetition == ParquetMetadata.OPTIONAL;
    }

    boolean isRepeated() {
        return repetition == ParquetMetadata.REPEATED;
    }

    /** Builds the tree; {@code leavesOut} receives the leaves in column order. */
    static SchemaNode build(List<SchemaElement> elements, List<SchemaNode> leavesOut) {
        if (elements.isEmpty()) {
            throw new ParquetDataException("the schema is empty");
        }
        int[] next = {0};
        SchemaNode root = build(elements, next, null, 0, 0, leavesOut, 0);
        if (next[0] != elements.size()) {
            throw new ParquetDataException("the schema has " + (elements.size() - next[0])
                    + " elements outside its root");
        }
        if (root.isLeaf()) {
            throw new ParquetDataException("the schema root is not a group");
        }
        return root;
    }

    private static SchemaNode build(List<SchemaElement> elements, int[] next, String parentPath, int parentDef,
                                    int parentRep, List<SchemaNode> leavesOut, int depth) {
        if (next[0] >= elements.size()) {
            throw new ParquetDataException("the schema ends inside a group (num_children exceeds its elements)");
        }
        if (depth > 100) {
            throw new ParquetDataException("the schema nests deeper than 100 levels");
        }
        SchemaElement e = elements.get(next[0]++);
        boolean isRoot = parentPath == null;
        String path = isRoot ? "" : parentPath.isEmpty() ? e.name() : parentPath + "." + e.name();
        int repetition = isRoot ? ParquetMetadata.REQUIRED : repetitionOf(e, path);
        int def = parentDef + (repetition == ParquetMetadata.REQUIRED ? 0 : 1);
        int rep = parentRep + (repetition == ParquetMetadata.REPEATED ? 1 : 0);
        boolean isGroup = e.numChildren() != null && (e.numChildren() > 0 || e.type() == null);
        if (!isGroup) {
            if (isRoot) {
                return new SchemaNode(e.name(), path, repetition, def, rep, null, -1, 0, null);
            }
            SchemaNode leaf = leaf(e, path, repetition, def, rep);
            leaf.columnIndex = leavesOut.size();
            leaf.firstLeaf = leaf;
            leaf.leaves.add(leaf);
            leavesOut.add(leaf);
            return leaf;
        }
        int count = e.numChildren();
        if (count < 0 || count > elements.size() - next[0]) {
            throw new ParquetDataException("schema group " + name(path) + " claims " + count + " children");
        }
        List<SchemaNode> children = new ArrayList<>(count);
        Set<String> names = new HashSet<>();
        for (int i = 0; i < count; i++) {
            SchemaNode child = build(elements, next, path, def, rep, leavesOut, depth + 1);
            if (!names.add(child.name)) {
                throw new ParquetDataException("schema group " + name(path) + " has two fields named " + child.name);
            }
            children.add(child);
        }
        SchemaNode group = new SchemaNode(e.name(), path, repetition, def, rep, children, -1, 0, null);
        for (SchemaNode child : children) {
            group.leaves.addAll(child.leaves);
        }
        if (group.leaves.isEmpty()) {
            throw new ParquetDataException("schema group " + name(path) + " has no columns");
        }
        group.firstLeaf = group.leaves.get(0);
        if (!isRoot) {
            classifyGroup(group, e);
        }
        return group;
    }

    private static int repetitionOf(SchemaElement e, String path) {
        Integer r = e.repetition();
        if (r == null || r < ParquetMetadata.REQUIRED || r > ParquetMetadata.REPEATED) {
            throw new ParquetDataException("schema field " + path + " has no valid repetition type");
        }
        return r;
    }

    private static void classifyGroup(SchemaNode group, SchemaElement e) {
        Integer converted = e.convertedType();
        boolean isMap = e.logical() == Logical.MAP || (converted != null
                && (converted == ParquetMetadata.CONVERTED_MAP || converted == ParquetMetadata.CONVERTED_MAP_KEY_VALUE));
        if (isMap) {
            throw new ParquetDataException("column " + group.path + " is a MAP, which this reader does not support");
        }
        boolean isList = e.logical() == Logical.LIST
                || (converted != null && converted == ParquetMetadata.CONVERTED_LIST);
        if (!isList) {
            group.groupKind = GroupKind.STRUCT;
            return;
        }
        if (group.isRepeated()) {
            throw new ParquetDataException("LIST column " + group.path + " is itself repeated");
        }
        if (group.children.size() != 1 || !group.children.get(0).isRepeated()) {
            throw new ParquetDataException("LIST column " + group.path
                    + " must have exactly one repeated child");
        }
        group.groupKind = GroupKind.LIST;
        SchemaNode repeated = group.children.get(0);
        // The spec's backward-compatibility rules: the repeated child is itself the element when it is
        // a primitive, has several fields, or is named "array" or "<list>_tuple" (older writers'
        // 2-level lists); otherwise it wraps the element (the 3-level form).
        boolean twoLevel = repeated.isLeaf()
                || repeated.children.size() > 1
                || repeated.name.equals("array")
                || repeated.name.equals(group.name + "_tuple");
        group.listElementIsChild = !twoLevel;
        if (twoLevel && !repeated.isLeaf()) {
            repeated.groupKind = GroupKind.STRUCT;
        }
    }

    private static SchemaNode leaf(SchemaElement e, String path, int repetition, int def, int rep) {
        Integer type = e.type();
        if (type == null) {
            throw new ParquetDataException("schema field " + path + " has neither a type nor children");
        }
        Integer converted = e.convertedType();
        Logical logical = e.logical();
        boolean isString = logical == Logical.STRING || logical == Logical.ENUM || logical == Logical.JSON
                || (converted != null && (converted == ParquetMetadata.CONVERTED_UTF8
                || converted == ParquetMetadata.CONVERTED_ENUM || converted == ParquetMetadata.CONVERTED_JSON));
        boolean isUnsigned = logical == Logical.UNSIGNED_INT
                || (converted != null && converted >= ParquetMetadata.CONVERTED_UINT_8
                && converted <= ParquetMetadata.CONVERTED_UINT_64);
        boolean isDecimal = logical == Logical.DECIMAL
                || (converted != null && converted == ParquetMetadata.CONVERTED_DECIMAL);
        if (isDecimal) {
            return decimalLeaf(e, path, repetition, def, rep);
        }
        int typeLength = 0;
        ValueKind kind = switch (type) {
            case ParquetMetadata.TYPE_BOOLEAN -> ValueKind.BOOLEAN;
            case ParquetMetadata.TYPE_INT32 -> isUnsigned ? ValueKind.UINT32 : ValueKind.INT32;
            case ParquetMetadata.TYPE_INT64 -> isUnsigned ? ValueKind.UINT64 : ValueKind.INT64;
            case ParquetMetadata.TYPE_FLOAT -> ValueKind.FLOAT;
            case ParquetMetadata.TYPE_DOUBLE -> ValueKind.DOUBLE;
            case ParquetMetadata.TYPE_BYTE_ARRAY -> isString ? ValueKind.STRING : ValueKind.BINARY;
            case ParquetMetadata.TYPE_FIXED_LEN_BYTE_ARRAY -> {
                Integer length = e.typeLength();
                if (length == null || length < 0) {
                    throw new ParquetDataException("FIXED_LEN_BYTE_ARRAY column " + path + " has no valid type_length");
                }
                typeLength = length;
                yield isString ? ValueKind.STRING : ValueKind.BINARY;
            }
            case ParquetMetadata.TYPE_INT96 -> throw new ParquetDataException("column " + path
                    + " has the legacy INT96 type (old timestamps), which this reader does not support");
            default -> throw new ParquetDataException("column " + path + " has unknown physical type " + type);
        };
        return new SchemaNode(e.name(), path, repetition, def, rep, null, type, typeLength, kind);
    }

    /** DECIMAL: an unscaled integer in INT32, INT64 or big-endian two's complement binary. */
    private static SchemaNode decimalLeaf(SchemaElement e, String path, int repetition, int def, int rep) {
        int type = e.type();
        Integer scale = e.scale();
        if (scale == null || scale < 0) {
            throw new ParquetDataException("DECIMAL column " + path + " has no valid scale");
        }
        int typeLength = 0;
        if (type == ParquetMetadata.TYPE_FIXED_LEN_BYTE_ARRAY) {
            if (e.typeLength() == null || e.typeLength() <= 0) {
                throw new ParquetDataException("FIXED_LEN_BYTE_ARRAY column " + path + " has no valid type_length");
            }
            typeLength = e.typeLength();
        } else if (type != ParquetMetadata.TYPE_INT32 && type != ParquetMetadata.TYPE_INT64
                && type != ParquetMetadata.TYPE_BYTE_ARRAY) {
            throw new ParquetDataException("DECIMAL column " + path + " has physical type "
                    + ParquetMetadata.typeName(type));
        }
        SchemaNode leaf = new SchemaNode(e.name(), path, repetition, def, rep, null, type, typeLength,
                ValueKind.DECIMAL);
        leaf.decimalScale = scale;
        return leaf;
    }

    private static String name(String path) {
        return path.isEmpty() ? "(root)" : path;
    }
}
