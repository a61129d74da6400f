package org.ft4j.nativeapi;

import static org.ft4j.testing.GpuTesting.asStored;
import static org.ft4j.testing.GpuTesting.assertClose;
import static org.ft4j.testing.GpuTesting.download;
import static org.ft4j.testing.GpuTesting.poisoned;
import static org.ft4j.testing.GpuTesting.random;
import static org.ft4j.testing.GpuTesting.upload;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.reference.ReferenceKernels;
import org.ft4j.testing.GpuStream;
import org.ft4j.testing.GpuTesting;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The embedding gather + layernorm kernel against the float64 reference, outputs poisoned. */
@Tag(GpuTesting.GPU)
class EmbeddingGpuTest {
  @RegisterExtension static final GpuStream STREAM = new GpuStream();

  static Stream<Arguments> cases() {
    // rows, seq, hidden, vocab, maxPositions, typeVocab, positionOffset, withTypes
    return Stream.of(DType.FP32, DType.FP16)
        .flatMap(
            t ->
                Stream.of(
                    Arguments.of(t, 1, 1, 384, 50, 8, 2, 0, true),
                    Arguments.of(t, 3 * 17, 17, 384, 1000, 64, 2, 0, true),
                    Arguments.of(t, 2 * 33, 33, 768, 300, 40, 1, 2, false),
                    Arguments.of(t, 5 * 7, 7, 1001, 77, 9, 1, 2, false),
                    Arguments.of(t, 4 * 128, 128, 1024, 500, 512, 2, 0, true),
                    // the widest row the kernel keeps in shared memory
                    Arguments.of(t, 2 * 3, 3, 12224, 20, 8, 2, 0, true)));
  }

  @ParameterizedTest(name = "{0} rows {1} seq {2} hidden {3}")
  @MethodSource("cases")
  void matchesTheReference(
      DType t,
      int rows,
      int seq,
      int hidden,
      int vocab,
      int maxPositions,
      int typeVocab,
      int offset,
      boolean withTypes) {
    SplittableRandom r = new SplittableRandom(rows * 31L + hidden);
    int[] ids = new int[rows];
    int[] types = new int[rows];
    for (int i = 0; i < rows; i++) {
      ids[i] = r.nextInt(vocab);
      types[i] = r.nextInt(typeVocab);
    }
    float[] word = asStored(random(vocab * hidden, 1L + hidden, -1, 1), t);
    float[] pos = asStored(random(maxPositions * hidden, 2L + hidden, -0.5, 0.5), t);
    float[] typ = asStored(random(typeVocab * hidden, 3L + hidden, -0.2, 0.2), t);
    float[] gamma = asStored(random(hidden, 4L + hidden, 0.5, 1.5), t);
    float[] beta = asStored(random(hidden, 5L + hidden, -0.5, 0.5), t);
    float eps = 1e-12f;
    float[] expected =
        toFloat(
            ReferenceKernels.embeddingLayerNorm(
                ids,
                withTypes ? types : null,
                word,
                pos,
                typ,
                gamma,
                beta,
                eps,
                seq,
                hidden,
                offset));
    try (DeviceBuffer idBuf = DeviceBuffer.of(ids);
        DeviceBuffer typeBuf = DeviceBuffer.of(types);
        DeviceBuffer w = upload(word, t);
        DeviceBuffer p = upload(pos, t);
        DeviceBuffer ty = upload(typ, t);
        DeviceBuffer g = upload(gamma, t);
        DeviceBuffer b = upload(beta, t);
        DeviceBuffer out = poisoned(t, (long) rows * hidden)) {
      NativeApi.embeddingLayerNorm(
          t,
          out,
          idBuf,
          withTypes ? typeBuf : null,
          w,
          p,
          ty,
          g,
          b,
          eps,
          rows,
          seq,
          hidden,
          vocab,
          maxPositions,
          typeVocab,
          offset,
          STREAM.get());
      STREAM.get().synchronize();
      assertClose(
          expected,
          download(out, t, rows * hidden),
          t == DType.FP32 ? 1e-6 : 2e-3,
          t + " embedding layernorm");
    }
  }

  @Test
  void rejectsRowsWiderThanTheSharedMemoryRowBeforeLaunch() {
    // a kernel limit, not a wrong argument: UNSUPPORTED, as for every row kernel (this test
    // expected IllegalArgumentException until it first ran, on the kernel emulator's JVM mode)
    String m = rejected(UnsupportedOperationException.class, 1, 1, 12225, 1, 1, 0);
    org.junit.jupiter.api.Assertions.assertTrue(
        m.contains("hidden = 12225 is above the supported 12224"), m);
  }

  @Test
  void rejectsPositionsBeyondTheTableBeforeLaunch() {
    rejected(IllegalArgumentException.class, 4, 4, 8, 8, 4, 2);
  }

  /**
   * The message of the exception of type {@code expected} an FP32 embedding launch with these sizes
   * gets (one buffer serves every table, big enough for all of them; 1 type row).
   */
  private static String rejected(
      Class<? extends RuntimeException> expected,
      int rows,
      int seq,
      int hidden,
      int vocab,
      int maxPositions,
      int positionOffset) {
    long elements = (long) Math.max(rows, Math.max(vocab, maxPositions)) * hidden;
    try (DeviceBuffer ids = DeviceBuffer.of(new int[rows]);
        DeviceBuffer table = DeviceBuffer.allocate(DType.FP32, elements)) {
      return assertThrows(
              expected,
              () ->
                  NativeApi.embeddingLayerNorm(
                      DType.FP32,
                      table,
                      ids,
                      null,
                      table,
                      table,
                      table,
                      table,
                      table,
                      1e-12f,
                      rows,
                      seq,
                      hidden,
                      vocab,
                      maxPositions,
                      1,
                      positionOffset,
                      STREAM.get()))
          .getMessage();
    }
  }

  private static float[] toFloat(double[] x) {
    float[] f = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      f[i] = (float) x[i];
    }
    return f;
  }
}
