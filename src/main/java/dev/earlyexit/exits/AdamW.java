package dev.earlyexit.exits;

import dev.earlyexit.tensor.TrainKernels;

import java.util.ArrayList;
import java.util.List;

/** AdamW with bias correction over the trainable parameters of some heads; moments start at zero. */
public final class AdamW {
    private final List<Param> params = new ArrayList<>();
    private final List<float[]> m = new ArrayList<>();
    private final List<float[]> v = new ArrayList<>();
    private final float weightDecay;
    private int t;

    public AdamW(List<? extends TrainableHead> heads, float weightDecay) {
        this.weightDecay = weightDecay;
        for (TrainableHead h : heads) {
            for (Param p : h.params()) {
                if (p.trainable()) {
                    params.add(p);
                    p.grad();
                    m.add(new float[p.data().length]);
                    v.add(new float[p.data().length]);
                }
            }
        }
    }

    /** One update of every parameter from its gradient, at learning rate lr. */
    public void step(float lr, TrainKernels k) {
        t++;
        float bc1 = (float) (1 - Math.pow(TrainingOptions.BETA1, t));
        float bc2 = (float) (1 - Math.pow(TrainingOptions.BETA2, t));
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            k.adamW(p.data(), p.grad(), m.get(i), v.get(i), p.data().length, lr, TrainingOptions.BETA1,
                    TrainingOptions.BETA2, TrainingOptions.EPS, p.decay() ? weightDecay : 0f, bc1, bc2);
        }
    }

    public int steps() {
        return t;
    }
}
