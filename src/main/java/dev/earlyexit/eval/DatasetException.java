package dev.earlyexit.eval;

/** Bad input in a data set: the message starts with where (file and line or row). */
public final class DatasetException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public DatasetException(String location, String problem) {
        super(location + ": " + problem);
    }
}
