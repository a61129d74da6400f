package org.ft4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ft4j.cuda.Half;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
  @TempDir Path dir;

  /** A minimal safetensors writer for tests: tensors in insertion order, packed back to back. */
  static final class Writer {
    private record Tensor(String dtype, int[] shape, byte[] data) {}

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    Writer f32(String name, float[] values, int... shape) {
      ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        b.putFloat(v);
      }
      return raw(name, "F32", b.array(), shape);
    }

    Writer f16(String name, float[] values, int... shape) {
      ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        b.putShort(Half.fromFloat(v));
      }
      return raw(name, "F16", b.array(), shape);
    }

    Writer bf16(String name, float[] values, int... shape) {
      ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        b.putShort((short) (Float.floatToRawIntBits(v) >>> 16)); // truncation
      }
      return raw(name, "BF16", b.array(), shape);
    }

    Writer raw(String name, String dtype, byte[] data, int... shape) {
      tensors.put(name, new Tensor(dtype, shape, data));
      return this;
    }

    Writer metadata(String key, String value) {
      metadata.put(key, value);
      return this;
    }

    Path write(Path file) throws IOException {
      ObjectMapper json = new ObjectMapper();
      ObjectNode header = json.createObjectNode();
      if (!metadata.isEmpty()) {
        ObjectNode m = header.putObject("__metadata__");
        metadata.forEach(m::put);
      }
      ByteArrayOutputStream data = new ByteArrayOutputStream();
      for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
        ObjectNode t = header.putObject(e.getKey());
        t.put("dtype", e.getValue().dtype);
        ArrayNode shape = t.putArray("shape");
        for (int d : e.getValue().shape) {
          shape.add(d);
        }
        ArrayNode offsets = t.putArray("data_offsets");
        offsets.add(data.size());
        data.write(e.getValue().data);
        offsets.add(data.size());
      }
      return writeRaw(file, json.writeValueAsString(header), data.toByteArray());
    }
  }

  /** Writes the 8-byte length, the header text padded with spaces to a multiple of 8, the data. */
  static Path writeRaw(Path file, String header, byte[] data) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    int padded = (h.length + 7) / 8 * 8;
    ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(padded);
    b.put(h);
    for (int i = h.length; i < padded; i++) {
      b.put((byte) ' ');
    }
    b.put(data);
    Files.write(file, b.array());
    return file;
  }

  private IllegalArgumentException openFails(Path file) {
    return assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(file).close());
  }

  @Test
  void roundTripsF32F16AndBf16() throws IOException {
    float[] a = {1.5f, -2.25f, 3e-3f, 0f, 65504f, -1e-30f};
    float[] halfExact = {1.5f, -2.25f, 0.099975586f, 0f, 65504f, -6.1035156e-5f};
    float[] bf16Exact = {1.5f, -2.25f, 3.0e38f, -1.0e-30f};
    Path file =
        new Writer()
            .metadata("format", "pt")
            .f32("a", a, 2, 3)
            .f16("b", halfExact, 6)
            .bf16("c", bf16Exact, 2, 1, 2)
            .raw("ids", "I64", new byte[16], 2)
            .f32("empty", new float[0], 0, 4)
            .write(dir.resolve("t.safetensors"));
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertEquals(Set.of("a", "b", "c", "ids", "empty"), f.names());
      assertEquals(List.of("a", "b", "c", "ids", "empty"), List.copyOf(f.names()));
      assertEquals(Map.of("format", "pt"), f.metadata());
      assertArrayEquals(new int[] {2, 3}, f.shape("a"));
      assertArrayEquals(new int[] {2, 1, 2}, f.shape("c"));
      assertArrayEquals(a, f.floats("a"));
      assertArrayEquals(halfExact, f.floats("b"));
      float[] bf = f.floats("c");
      assertEquals(1.5f, bf[0]);
      assertEquals(-2.25f, bf[1]);
      assertEquals(3.0e38f, bf[2], 3.0e38f / 128); // bf16 keeps 8 significant bits
      assertEquals(-1.0e-30f, bf[3], 1.0e-30f / 128);
      assertEquals("BF16", f.dtype("c"));
      assertEquals(0, f.floats("empty").length);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> f.floats("ids"));
      assertTrue(e.getMessage().contains("tensor ids has dtype I64"), e.getMessage());
      assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> f.floats("nope"));
      assertTrue(e.getMessage().contains("no tensor named nope"), e.getMessage());
    }
  }

  @Test
  void perTensorMappingReadsTheSameValues() throws IOException {
    float[] a = {1, 2, 3, 4, 5, 6};
    float[] b = {0.5f, -0.25f};
    Path file = new Writer().f32("a", a, 6).f16("b", b, 2).write(dir.resolve("m.safetensors"));
    try (SafetensorsFile f = SafetensorsFile.open(file, 0)) {
      assertArrayEquals(a, f.floats("a"));
      assertArrayEquals(b, f.floats("b"));
    }
    SafetensorsFile closed = SafetensorsFile.open(file);
    closed.close();
    assertThrows(IllegalStateException.class, () -> closed.floats("a"));
  }

  @Test
  void rejectsHeaderThatLiesAboutTensorSize() throws IOException {
    Path file =
        writeRaw(
            dir.resolve("lie.safetensors"),
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}",
            new byte[24]);
    IllegalArgumentException e = openFails(file);
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(
        e.getMessage().contains("tensor w: data_offsets [0,20] hold 20 bytes, but shape [2, 3]"),
        e.getMessage());
    assertTrue(e.getMessage().contains("needs 24"), e.getMessage());
  }

  @Test
  void rejectsHeaderLengthPastTheEndOfTheFile() throws IOException {
    Path file = dir.resolve("len.safetensors");
    ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(1000).put("{}      ".getBytes(StandardCharsets.US_ASCII));
    Files.write(file, b.array());
    IllegalArgumentException e = openFails(file);
    assertTrue(e.getMessage().contains("header length 1000 runs past the end"), e.getMessage());

    b.clear();
    b.putLong(-5).put("{}      ".getBytes(StandardCharsets.US_ASCII));
    Files.write(file, b.array());
    e = openFails(file);
    assertTrue(e.getMessage().contains("header length 18446744073709551611"), e.getMessage());

    Files.write(file, new byte[5]);
    e = openFails(file);
    assertTrue(e.getMessage().contains("fewer than the 8-byte header length"), e.getMessage());
  }

  @Test
  void rejectsOffsetsOutsideTheDataArea() throws IOException {
    Path file =
        writeRaw(
            dir.resolve("range.safetensors"),
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
            new byte[12]);
    IllegalArgumentException e = openFails(file);
    assertTrue(
        e.getMessage().contains("tensor b: data_offsets [8, 16] run past the end of the data area"),
        e.getMessage());
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());

    writeRaw(file, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", new byte[8]);
    e = openFails(file);
    assertTrue(e.getMessage().contains("tensor a: data_offsets [8,4] end before"), e.getMessage());

    writeRaw(
        file, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", new byte[8]);
    e = openFails(file);
    assertTrue(e.getMessage().contains("tensor a: data_offsets [-4,0] are not"), e.getMessage());
  }

  @Test
  void rejectsOverlappingTensors() throws IOException {
    Path file =
        writeRaw(
            dir.resolve("overlap.safetensors"),
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
            new byte[16]);
    IllegalArgumentException e = openFails(file);
    assertTrue(
        e.getMessage().contains("tensor b: data_offsets [8, 16] overlap those of tensor a [0, 12]"),
        e.getMessage());
  }

  @Test
  void rejectsTruncatedFile() throws IOException {
    Path file =
        new Writer()
            .f32("x", new float[] {1, 2, 3, 4}, 4)
            .f32("y", new float[] {5, 6}, 2)
            .write(dir.resolve("full.safetensors"));
    byte[] bytes = Files.readAllBytes(file);
    Path cut = dir.resolve("cut.safetensors");
    Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length - 3));
    IllegalArgumentException e = openFails(cut);
    assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("tensor y"), e.getMessage());
    assertTrue(e.getMessage().contains("truncated file?"), e.getMessage());

    Files.write(cut, java.util.Arrays.copyOf(bytes, 30)); // inside the header
    e = openFails(cut);
    assertTrue(e.getMessage().contains("runs past the end of the file"), e.getMessage());
  }

  @Test
  void rejectsUnknownDtype() throws IOException {
    Path file =
        writeRaw(
            dir.resolve("dtype.safetensors"),
            "{\"w\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            new byte[8]);
    IllegalArgumentException e = openFails(file);
    assertTrue(e.getMessage().contains("tensor w: unknown dtype 'F31'"), e.getMessage());
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
  }

  @Test
  void rejectsMalformedJson() throws IOException {
    Path file = writeRaw(dir.resolve("json.safetensors"), "{\"w\": {\"dtype\": ", new byte[0]);
    IllegalArgumentException e = openFails(file);
    assertTrue(e.getMessage().contains("header is not valid JSON"), e.getMessage());

    writeRaw(file, "[1, 2]", new byte[0]);
    e = openFails(file);
    assertTrue(e.getMessage().contains("header is not a JSON object"), e.getMessage());

    writeRaw(file, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,0]}}", new byte[0]);
    e = openFails(file);
    assertTrue(e.getMessage().contains("tensor w: missing or non-array \"shape\""), e.getMessage());

    writeRaw(
        file,
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
            + "\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}",
        new byte[8]);
    e = openFails(file);
    assertTrue(e.getMessage().contains("Duplicate field 'w'"), e.getMessage());
  }
}
