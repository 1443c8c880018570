package dev.earlyexit.exits;

/**
 * One named weight array of a head, with its shape, whether training updates it, whether AdamW's
 * weight decay applies (matrices yes, norm gains and biases no), and its gradient once allocated.
 */
public final class Param {
    private final String name;
    private final float[] data;
    private final long[] shape;
    private final boolean trainable;
    private final boolean decay;
    private float[] grad;

    public Param(String name, float[] data, long[] shape, boolean trainable, boolean decay) {
        this.name = name;
        this.data = data;
        this.shape = shape.clone();
        this.trainable = trainable;
        this.decay = decay;
    }

    public String name() {
        return name;
    }

    public float[] data() {
        return data;
    }

    public long[] shape() {
        return shape.clone();
    }

    public boolean trainable() {
        return trainable;
    }

    public boolean decay() {
        return decay;
    }

    /** The gradient array (same size as data), allocated on first use. */
    public float[] grad() {
        if (grad == null) {
            grad = new float[data.length];
        }
        return grad;
    }

    public void zeroGrad() {
        if (grad != null) {
            java.util.Arrays.fill(grad, 0f);
        }
    }
}
