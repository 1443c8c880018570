package dev.earlyexit.tensor;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ThreadPoolTest {

    /** Guided scheduling hands out shrinking ranges: every index must still run exactly once. */
    @Property(tries = 40)
    void everyIndexRunsExactlyOnce(@ForAll @IntRange(min = 0, max = 5000) int n,
                                   @ForAll @IntRange(min = 1, max = 4) int threads) {
        try (ThreadPool pool = new ThreadPool(threads)) {
            for (int dispatch = 0; dispatch < 3; dispatch++) { // back-to-back dispatches reuse the claim counter
                AtomicIntegerArray runs = new AtomicIntegerArray(n);
                pool.parallelFor(n, (start, end, worker) -> {
                    assertThat(worker).isBetween(0, threads - 1);
                    for (int i = start; i < end; i++) {
                        runs.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertThat(runs.get(i)).as("index %d of %d", i, n).isEqualTo(1);
                }
            }
        }
    }

    /** Whichever worker fails (the caller or a pool thread), the caller gets the error and the pool stays usable. */
    @Test
    void aFailureReachesTheCallerAndThePoolStaysUsable() {
        try (ThreadPool pool = new ThreadPool(2)) {
            for (int failing : new int[] {0, 500, 999}) {
                assertThatThrownBy(() -> pool.parallelFor(1000, (start, end, worker) -> {
                    if (start <= failing && failing < end) {
                        throw new IllegalStateException("boom at " + failing);
                    }
                })).isInstanceOf(IllegalStateException.class).hasMessage("boom at " + failing);
                AtomicIntegerArray runs = new AtomicIntegerArray(1000);
                pool.parallelFor(1000, (start, end, worker) -> {
                    for (int i = start; i < end; i++) {
                        runs.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < 1000; i++) {
                    assertThat(runs.get(i)).as("index %d after a failure at %d", i, failing).isEqualTo(1);
                }
            }
        }
    }

    /** A worker the machine holds up (here: one that sleeps in every range) makes the caller go on alone. */
    @Test
    void aHeldUpWorkerMakesTheCallerRunDispatchesAlone() {
        try (ThreadPool pool = new ThreadPool(2)) {
            boolean[] otherWorkerRan = new boolean[1];
            ThreadPool.RangeTask task = (start, end, worker) -> {
                if (worker != 0) {
                    otherWorkerRan[0] = true;
                    java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                }
            };
            int dispatches = 0;
            // Far more than one judging window: the pool must notice within it.
            while (dispatches < 2000) {
                otherWorkerRan[0] = false;
                pool.parallelFor(64, task);
                dispatches++;
                if (dispatches > 300 && !otherWorkerRan[0]) {
                    break;
                }
            }
            assertThat(dispatches).as("dispatches until the caller ran alone").isLessThan(2000);
            // And results stay complete while alone.
            AtomicIntegerArray runs = new AtomicIntegerArray(100);
            pool.parallelFor(100, (start, end, worker) -> {
                for (int i = start; i < end; i++) {
                    runs.incrementAndGet(i);
                }
            });
            for (int i = 0; i < 100; i++) {
                assertThat(runs.get(i)).isEqualTo(1);
            }
        }
    }
}
