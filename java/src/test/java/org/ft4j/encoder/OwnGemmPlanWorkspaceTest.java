package org.ft4j.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.ft4j.gemm.GemmShape;
import org.ft4j.nativeapi.NativeApi.Int8GemmKernel;
import org.ft4j.nativeapi.NativeApi.Int8GemmPlan;
import org.junit.jupiter.api.Test;

/**
 * The split-K workspace a tuned own-INT8-GEMM plan needs, which decides whether the encoder can use
 * it (a plan the kernel would refuse for want of workspace fell through to every forward of its
 * shape before 2026-11-27).
 */
class OwnGemmPlanWorkspaceTest {
  @Test
  void aSplitNeedsTheWholeOutputInInt32() {
    // BERT-base QKV at 4096 rows (32 x 128): 4096 x 2304 x 4 = 37.7 MB, more than the 32 MiB the
    // encoder keeps; FFN1 at 2048 rows: 25.2 MB, within it
    GemmShape qkv = GemmShape.linear(4096, 768, 2304);
    GemmShape ffn1 = GemmShape.linear(2048, 768, 3072);
    assertEquals(
        4L * 4096 * 2304,
        BertEncoder.splitWorkspaceBytes(new Int8GemmPlan(Int8GemmKernel.PIPELINED_64, 2), qkv));
    assertEquals(
        4L * 2048 * 3072,
        BertEncoder.splitWorkspaceBytes(new Int8GemmPlan(Int8GemmKernel.PIPELINED_64, 3), ffn1));
  }

  @Test
  void noSplitNeedsNone() {
    GemmShape qkv = GemmShape.linear(4096, 768, 2304);
    assertEquals(
        0L,
        BertEncoder.splitWorkspaceBytes(new Int8GemmPlan(Int8GemmKernel.PIPELINED_128, 1), qkv));
    assertEquals(
        0L, BertEncoder.splitWorkspaceBytes(new Int8GemmPlan(Int8GemmKernel.SIMPLE, 1), qkv));
  }
}
