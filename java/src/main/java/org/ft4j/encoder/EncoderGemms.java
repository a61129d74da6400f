package org.ft4j.encoder;

import java.util.ArrayList;
import java.util.List;
import org.ft4j.gemm.Epilogue;
import org.ft4j.gemm.GemmShape;

/**
 * The GEMMs one encoder layer runs for a given shape, named as in the GEMM config files: the one
 * list both {@link BertEncoder} (to build its plans) and {@code encoder_gemm} (to tune them) use,
 * so the tuner tunes exactly what the encoder runs.
 */
public final class EncoderGemms {
  private EncoderGemms() {}

  /**
   * One GEMM of a layer.
   *
   * @param op qkv, scores, context, attn_out, ffn1 or ffn2
   * @param alpha the scale cuBLASLt applies (1/sqrt(d) for the attention scores)
   * @param epilogue what cuBLASLt applies after the product: {@link Epilogue#GELU_BIAS_TANH} for
   *     ffn1 when the encoder runs its GELU in the GEMM ({@code Options.withGeluEpilogue}), else
   *     none (ft4j's kernels add the biases)
   */
  public record Gemm(String op, GemmShape shape, float alpha, Epilogue epilogue) {}

  /**
   * The GEMMs of a layer at {@code rows} token rows (batch * seq when padded; the token count's
   * 64-row bucket with padding removal), in execution order. The batched attention GEMMs (scores
   * and context, over batch * heads matrices of seq rows) are there only for the unfused attention.
   */
  public static List<Gemm> of(
      EncoderConfig config, int batch, int seq, int rows, boolean fusedAttention) {
    return of(config, batch, seq, rows, fusedAttention, false);
  }

  /**
   * As {@link #of(EncoderConfig, int, int, int, boolean)}; with {@code geluEpilogue} ffn1 carries
   * cuBLASLt's bias + GELU (tanh) epilogue, as the encoder runs it then.
   */
  public static List<Gemm> of(
      EncoderConfig config,
      int batch,
      int seq,
      int rows,
      boolean fusedAttention,
      boolean geluEpilogue) {
    int hidden = config.hidden();
    int d = config.sizePerHead();
    int bh = batch * config.heads();
    List<Gemm> list = new ArrayList<>(6);
    Epilogue none = Epilogue.NONE;
    list.add(new Gemm("qkv", GemmShape.linear(rows, hidden, 3 * hidden), 1f, none));
    if (!fusedAttention) {
      list.add(
          new Gemm(
              "scores", GemmShape.attentionScores(bh, seq, d), (float) (1 / Math.sqrt(d)), none));
      list.add(new Gemm("context", GemmShape.attentionContext(bh, seq, d), 1f, none));
    }
    list.add(new Gemm("attn_out", GemmShape.linear(rows, hidden, hidden), 1f, none));
    list.add(
        new Gemm(
            "ffn1",
            GemmShape.linear(rows, hidden, config.intermediateSize()),
            1f,
            geluEpilogue ? Epilogue.GELU_BIAS_TANH : none));
    list.add(new Gemm("ffn2", GemmShape.linear(rows, config.intermediateSize(), hidden), 1f, none));
    return list;
  }

  /** True for the batched attention GEMMs (scores, context) of the unfused attention. */
  public static boolean isAttention(Gemm g) {
    return g.op().equals("scores") || g.op().equals("context");
  }
}
