package org.ft4j.cuda;

import static org.bytedeco.cuda.global.cudart.cudaGraphDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphExecDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphInstantiate;
import static org.bytedeco.cuda.global.cudart.cudaGraphLaunch;
import static org.bytedeco.cuda.global.cudart.cudaStreamBeginCapture;
import static org.bytedeco.cuda.global.cudart.cudaStreamCaptureModeThreadLocal;
import static org.bytedeco.cuda.global.cudart.cudaStreamEndCapture;

import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;

/**
 * The work one piece of code queues on a stream, captured once and replayed with a single launch.
 * Replays use the device addresses and scalar arguments seen at capture time.
 */
public final class CudaGraph implements AutoCloseable {
  private CUgraph_st graph;
  private CUgraphExec_st exec;

  private CudaGraph(CUgraph_st graph, CUgraphExec_st exec) {
    this.graph = graph;
    this.exec = exec;
  }

  /**
   * Captures what {@code work} queues on {@code stream} (nothing runs during capture). If {@code
   * work} throws, the capture is ended and discarded before the exception propagates.
   */
  public static CudaGraph capture(CudaStream stream, Runnable work) {
    CudaRuntime.ensureLoaded();
    CudaRuntime.check(
        cudaStreamBeginCapture(stream.handle(), cudaStreamCaptureModeThreadLocal),
        "cudaStreamBeginCapture");
    CUgraph_st g = new CUgraph_st();
    try {
      work.run();
    } catch (RuntimeException | Error e) {
      cudaStreamEndCapture(stream.handle(), g);
      if (!g.isNull()) {
        cudaGraphDestroy(g);
      }
      throw e;
    }
    CudaRuntime.check(cudaStreamEndCapture(stream.handle(), g), "cudaStreamEndCapture");
    CUgraphExec_st x = new CUgraphExec_st();
    int status = cudaGraphInstantiate(x, g, 0L);
    if (status != 0) {
      cudaGraphDestroy(g);
      CudaRuntime.check(status, "cudaGraphInstantiate");
    }
    return new CudaGraph(g, x);
  }

  /** Queues one replay on {@code stream}. */
  public void launch(CudaStream stream) {
    if (exec == null) {
      throw new IllegalStateException("graph is closed");
    }
    CudaRuntime.check(cudaGraphLaunch(exec, stream.handle()), "cudaGraphLaunch");
  }

  @Override
  public void close() {
    if (exec != null) {
      cudaGraphExecDestroy(exec);
      exec = null;
    }
    if (graph != null) {
      cudaGraphDestroy(graph);
      graph = null;
    }
  }
}
