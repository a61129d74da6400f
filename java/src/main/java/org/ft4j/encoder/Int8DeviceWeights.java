package org.ft4j.encoder;

import org.ft4j.cuda.DType;
import org.ft4j.cuda.DeviceBuffer;
import org.ft4j.quant.Int8;
import org.ft4j.quant.Int8EncoderWeights;

/**
 * The INT8 GEMM weights of an encoder on the device, in one allocation: per layer four int8
 * matrices ([out, in] row-major, what {@code ft4j_gemm_int8} reads as B), their per-output-channel
 * FP32 scales, and the FP32 inverse smoothing factors of the three smoothed GEMM inputs (null views
 * where the scale set has none); in mode 2 also the GEMM outputs' per-column scales.
 */
final class Int8DeviceWeights implements AutoCloseable {
  private static final long ALIGN = 256;

  /** One layer's views. */
  record Layer(
      DeviceBuffer qkv, // int8 [3 hidden, hidden]
      DeviceBuffer qkvScale, // float [3 hidden]
      DeviceBuffer attentionOutput, // int8 [hidden, hidden]
      DeviceBuffer attentionOutputScale, // float [hidden]
      DeviceBuffer intermediate, // int8 [intermediate, hidden]
      DeviceBuffer intermediateScale, // float [intermediate]
      DeviceBuffer output, // int8 [hidden, intermediate]
      DeviceBuffer outputScale, // float [hidden]
      DeviceBuffer qkvInvSmooth, // float [hidden] or null
      DeviceBuffer ffn1InvSmooth, // float [hidden] or null
      DeviceBuffer ffn2InvSmooth, // float [intermediate] or null
      Mode2 mode2) {} // null in mode 1

  /**
   * INT8 mode 2's GEMM outputs: per output column 127 / amax (the int8 epilogue's inverse scale)
   * and amax / 127 (the step the next row kernel dequantizes with).
   */
  record Mode2(
      DeviceBuffer qkvInv, // float [3 hidden]
      DeviceBuffer qkvStep,
      DeviceBuffer attentionOutputInv, // float [hidden]
      DeviceBuffer attentionOutputStep,
      DeviceBuffer intermediateInv, // float [intermediate]
      DeviceBuffer intermediateStep,
      DeviceBuffer outputInv, // float [hidden]
      DeviceBuffer outputStep,
      boolean outputTokenScaled) {} // FFN2 output in units of its input's per-token step

  private final DeviceBuffer memory;
  private final Layer[] layers;

  private Int8DeviceWeights(DeviceBuffer memory, Layer[] layers) {
    this.memory = memory;
    this.layers = layers;
  }

  /** Copies {@code host} to the device (synchronously). */
  static Int8DeviceWeights upload(Int8EncoderWeights host) {
    long total = 0;
    for (int l = 0; l < host.layers(); l++) {
      for (long bytes : sizes(host.layer(l))) {
        total += align(bytes);
      }
    }
    DeviceBuffer memory = DeviceBuffer.allocate(Math.max(total, 1));
    try {
      Layer[] layers = new Layer[host.layers()];
      long offset = 0;
      for (int l = 0; l < layers.length; l++) {
        Int8EncoderWeights.Layer h = host.layer(l);
        long[] sizes = sizes(h);
        DeviceBuffer[] views = new DeviceBuffer[sizes.length];
        Object[] data = {
          h.qkv().values(),
          h.qkv().scales(),
          h.attentionOutput().values(),
          h.attentionOutput().scales(),
          h.intermediate().values(),
          h.intermediate().scales(),
          h.output().values(),
          h.output().scales(),
          h.qkvInvSmooth(),
          h.ffn1InvSmooth(),
          h.ffn2InvSmooth(),
          inv(h, 0),
          step(h, 0),
          inv(h, 1),
          step(h, 1),
          inv(h, 2),
          step(h, 2),
          inv(h, 3),
          step(h, 3)
        };
        for (int t = 0; t < sizes.length; t++) {
          if (sizes[t] == 0) {
            continue; // no smoothing for this input
          }
          views[t] = memory.slice(offset, sizes[t]);
          offset += align(sizes[t]);
          if (data[t] instanceof byte[] b) {
            views[t].copyFrom(b);
          } else {
            views[t].copyFrom((float[]) data[t]);
          }
        }
        layers[l] =
            new Layer(
                views[0],
                views[1],
                views[2],
                views[3],
                views[4],
                views[5],
                views[6],
                views[7],
                views[8],
                views[9],
                views[10],
                h.mode2() == null
                    ? null
                    : new Mode2(
                        views[11],
                        views[12],
                        views[13],
                        views[14],
                        views[15],
                        views[16],
                        views[17],
                        views[18],
                        h.mode2().outputTokenScaled()));
      }
      return new Int8DeviceWeights(memory, layers);
    } catch (RuntimeException | Error e) {
      memory.close();
      throw e;
    }
  }

  /** Byte sizes of a layer's tensors, in {@link Layer} order (0 for an absent smoothing vector). */
  private static long[] sizes(Int8EncoderWeights.Layer h) {
    return new long[] {
      h.qkv().values().length,
      perChannelScales(h.qkv()),
      h.attentionOutput().values().length,
      perChannelScales(h.attentionOutput()),
      h.intermediate().values().length,
      perChannelScales(h.intermediate()),
      h.output().values().length,
      perChannelScales(h.output()),
      floats(h.qkvInvSmooth()),
      floats(h.ffn1InvSmooth()),
      floats(h.ffn2InvSmooth()),
      floats(inv(h, 0)),
      floats(step(h, 0)),
      floats(inv(h, 1)),
      floats(step(h, 1)),
      floats(inv(h, 2)),
      floats(step(h, 2)),
      floats(inv(h, 3)),
      floats(step(h, 3))
    };
  }

  /**
   * Mode 2's amax of GEMM output {@code g} (0 qkv, 1 attention output, 2 FFN1, 3 FFN2), or null.
   */
  private static float[] amax(Int8EncoderWeights.Layer h, int g) {
    Int8EncoderWeights.Mode2Outputs o = h.mode2();
    if (o == null) {
      return null;
    }
    return switch (g) {
      case 0 -> o.qkv();
      case 1 -> o.attentionOutput();
      case 2 -> o.intermediate();
      default -> o.output();
    };
  }

  /** 127 / amax per column (the int8 epilogue's inverse scale), or null. */
  static float[] inv(Int8EncoderWeights.Layer h, int g) {
    float[] a = amax(h, g);
    if (a == null) {
      return null;
    }
    float[] v = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      v[i] = Int8.QMAX / a[i];
    }
    return v;
  }

  /** amax / 127 per column (the dequantization step), or null. */
  static float[] step(Int8EncoderWeights.Layer h, int g) {
    float[] a = amax(h, g);
    if (a == null) {
      return null;
    }
    float[] v = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      v[i] = a[i] / Int8.QMAX;
    }
    return v;
  }

  private static long perChannelScales(Int8.QuantizedWeight w) {
    if (w.scales().length != w.out()) {
      throw new IllegalArgumentException(
          "INT8 mode 1 needs per-channel weight scales, got "
              + w.scales().length
              + " for "
              + w.out()
              + " output channels");
    }
    return (long) DType.FP32.bytes() * w.out();
  }

  private static long floats(float[] v) {
    return v == null ? 0 : (long) DType.FP32.bytes() * v.length;
  }

  private static long align(long bytes) {
    return (bytes + ALIGN - 1) / ALIGN * ALIGN;
  }

  Layer layer(int l) {
    return layers[l];
  }

  long bytes() {
    return memory.bytes();
  }

  @Override
  public void close() {
    memory.close();
  }
}
