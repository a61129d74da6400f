package org.ft4j.bench;

import java.util.Arrays;
import org.ft4j.cuda.CudaEvent;
import org.ft4j.cuda.CudaGraph;
import org.ft4j.cuda.CudaStream;

/**
 * GPU time of a launch sequence, without host launch overhead: CUDA-graph replays timed by events.
 */
final class GraphTimer {
  private static final int REPS = 50;

  private GraphTimer() {}

  /**
   * Median over 7 replays of a CUDA graph holding REPS copies of {@code launch}, per copy, in
   * microseconds (after 5 eager warm-up runs and one warm-up replay).
   */
  static double micros(CudaStream stream, Runnable launch) {
    for (int i = 0; i < 5; i++) {
      launch.run();
    }
    double[] runs = new double[7];
    try (CudaGraph graph =
            CudaGraph.capture(
                stream,
                () -> {
                  for (int i = 0; i < REPS; i++) {
                    launch.run();
                  }
                });
        CudaEvent start = CudaEvent.create();
        CudaEvent end = CudaEvent.create()) {
      graph.launch(stream);
      for (int r = 0; r < runs.length; r++) {
        start.record(stream);
        graph.launch(stream);
        end.record(stream);
        end.synchronize();
        runs[r] = 1000.0 * CudaEvent.elapsedMillis(start, end) / REPS;
      }
    }
    Arrays.sort(runs);
    return runs[runs.length / 2];
  }
}
