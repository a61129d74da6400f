package org.ft4j.testing;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.HashMap;
import java.util.Map;

/** Runs a Hugging Face BERT-family ONNX export in ONNX Runtime (the tests' oracle and baseline). */
public final class Ort {
  private Ort() {}

  /**
   * The model's first output (last_hidden_state, [batch, seq, hidden]) for {@code ids}, {@code
   * mask} and {@code types} ([batch, seq] each), fed to whichever of input_ids, attention_mask and
   * token_type_ids the session takes.
   *
   * @throws IllegalStateException for an input of another name
   */
  public static float[][][] lastHiddenState(
      OrtEnvironment env, OrtSession session, long[][] ids, long[][] mask, long[][] types)
      throws OrtException {
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      for (String input : session.getInputNames()) {
        long[][] data =
            switch (input) {
              case "input_ids" -> ids;
              case "attention_mask" -> mask;
              case "token_type_ids" -> types;
              default -> throw new IllegalStateException("unexpected ONNX input " + input);
            };
        inputs.put(input, OnnxTensor.createTensor(env, data));
      }
      try (OrtSession.Result r = session.run(inputs)) {
        return (float[][][]) r.get(0).getValue();
      }
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }
}
