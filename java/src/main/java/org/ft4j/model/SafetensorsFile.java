package org.ft4j.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ft4j.cuda.Half;

/**
 * A Hugging Face {@code .safetensors} file, read by its documented format: an 8-byte little-endian
 * unsigned header length N, N bytes of UTF-8 JSON ({@code {name: {"dtype", "shape", "data_offsets":
 * [begin, end]}, "__metadata__": {...}}}, offsets relative to the data area), then the data area.
 *
 * <p>{@link #open} validates the whole header: its length against the file size, the JSON, every
 * entry's dtype, shape and offsets (inside the data area, {@code end - begin == product(shape) *
 * dtype size}, no two tensors overlapping). Every failure is an {@link IllegalArgumentException}
 * naming the file and, where there is one, the tensor.
 *
 * <p>The data is memory-mapped ({@link FileChannel#map}): the whole file at once when it is below 2
 * GB, otherwise each tensor when it is read. {@link #floats} converts F32, F16 and BF16 tensors to
 * {@code float[]}; other dtypes are listed but cannot be read. Reads are thread-safe.
 */
public final class SafetensorsFile implements AutoCloseable {
  /** Largest header accepted (the reference implementation's limit is 100 MB). */
  static final long MAX_HEADER_BYTES = 100L << 20;

  /** Largest region mapped at once. */
  private static final long MAX_MAP_BYTES = 1L << 30;

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** Element sizes of the dtypes of the safetensors format. */
  private static final Map<String, Integer> DTYPE_BYTES =
      Map.ofEntries(
          Map.entry("BOOL", 1),
          Map.entry("U8", 1),
          Map.entry("I8", 1),
          Map.entry("F8_E5M2", 1),
          Map.entry("F8_E4M3", 1),
          Map.entry("I16", 2),
          Map.entry("U16", 2),
          Map.entry("F16", 2),
          Map.entry("BF16", 2),
          Map.entry("I32", 4),
          Map.entry("U32", 4),
          Map.entry("F32", 4),
          Map.entry("F64", 8),
          Map.entry("I64", 8),
          Map.entry("U64", 8));

  private record Entry(String name, String dtype, int[] shape, long begin, long end) {}

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, Entry> entries;
  private final Map<String, String> metadata;
  private final MappedByteBuffer whole; // null when the file is too large to map at once
  private volatile boolean closed;

  private SafetensorsFile(
      Path path,
      FileChannel channel,
      long dataStart,
      Map<String, Entry> entries,
      Map<String, String> metadata,
      MappedByteBuffer whole) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.entries = entries;
    this.metadata = metadata;
    this.whole = whole;
  }

  /** Opens and validates {@code file}; see the class comment for what is checked. */
  public static SafetensorsFile open(Path file) {
    return open(file, Integer.MAX_VALUE);
  }

  /** Opens {@code file}, mapping it whole when it has at most {@code maxWholeMap} bytes. */
  static SafetensorsFile open(Path file, long maxWholeMap) {
    FileChannel channel;
    try {
      channel = FileChannel.open(file, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot open safetensors file " + file + ": " + e, e);
    }
    try {
      SafetensorsFile result = read(file, channel, maxWholeMap);
      channel = null; // owned by result now
      return result;
    } catch (IOException e) {
      throw new UncheckedIOException("error reading safetensors file " + file, e);
    } finally {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException ignored) {
          // the exception under way matters more
        }
      }
    }
  }

  private static SafetensorsFile read(Path file, FileChannel channel, long maxWholeMap)
      throws IOException {
    long size = channel.size();
    if (size < 8) {
      throw bad(file, "file has " + size + " bytes, fewer than the 8-byte header length");
    }
    ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(channel, lengthBytes, 0);
    long headerLength = lengthBytes.getLong(0);
    if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
      throw bad(
          file,
          "header length "
              + Long.toUnsignedString(headerLength)
              + " is not in [2, "
              + MAX_HEADER_BYTES
              + "] bytes (not a safetensors file?)");
    }
    if (8 + headerLength > size) {
      throw bad(
          file,
          "header length "
              + headerLength
              + " runs past the end of the file ("
              + size
              + " bytes; truncated file?)");
    }
    ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
    readFully(channel, headerBytes, 8);
    JsonNode header;
    try {
      header = JSON.readTree(headerBytes.array());
    } catch (JsonProcessingException e) {
      throw bad(file, "header is not valid JSON: " + e.getOriginalMessage());
    }
    if (header == null || !header.isObject()) {
      throw bad(file, "header is not a JSON object");
    }
    long dataStart = 8 + headerLength;
    long dataSize = size - dataStart;
    Map<String, Entry> entries = new LinkedHashMap<>();
    Map<String, String> metadata = Map.of();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      String name = field.getKey();
      if ("__metadata__".equals(name)) {
        metadata = readMetadata(file, field.getValue());
        continue;
      }
      Entry entry = readEntry(file, name, field.getValue());
      if (entry.end > dataSize) {
        throw bad(
            file,
            "tensor "
                + name
                + ": data_offsets ["
                + entry.begin
                + ", "
                + entry.end
                + "] run past the end of the data area ("
                + dataSize
                + " bytes; truncated file?)");
      }
      entries.put(name, entry);
    }
    checkOverlaps(file, entries.values());
    MappedByteBuffer whole = null;
    if (size <= Math.min(maxWholeMap, Integer.MAX_VALUE)) {
      whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
    }
    return new SafetensorsFile(
        file, channel, dataStart, Collections.unmodifiableMap(entries), metadata, whole);
  }

  private static Map<String, String> readMetadata(Path file, JsonNode node) {
    if (!node.isObject()) {
      throw bad(file, "__metadata__ is not a JSON object");
    }
    Map<String, String> result = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      if (!f.getValue().isTextual()) {
        throw bad(file, "__metadata__ value of '" + f.getKey() + "' is not a string");
      }
      result.put(f.getKey(), f.getValue().asText());
    }
    return Collections.unmodifiableMap(result);
  }

  private static Entry readEntry(Path file, String name, JsonNode node) {
    if (!node.isObject()) {
      throw bad(file, "tensor " + name + ": header entry is not a JSON object");
    }
    JsonNode dtypeNode = node.get("dtype");
    if (dtypeNode == null || !dtypeNode.isTextual()) {
      throw bad(file, "tensor " + name + ": missing or non-string \"dtype\"");
    }
    String dtype = dtypeNode.asText();
    Integer elementBytes = DTYPE_BYTES.get(dtype);
    if (elementBytes == null) {
      throw bad(
          file,
          "tensor "
              + name
              + ": unknown dtype '"
              + dtype
              + "' (safetensors dtypes: "
              + String.join(", ", DTYPE_BYTES.keySet().stream().sorted().toList())
              + ")");
    }
    JsonNode shapeNode = node.get("shape");
    if (shapeNode == null || !shapeNode.isArray()) {
      throw bad(file, "tensor " + name + ": missing or non-array \"shape\"");
    }
    int[] shape = new int[shapeNode.size()];
    long elements = 1;
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = shapeNode.get(i);
      if (!d.canConvertToInt() || !d.isIntegralNumber() || d.asInt() < 0) {
        throw bad(file, "tensor " + name + ": shape " + shapeNode + " has an invalid dimension");
      }
      shape[i] = d.asInt();
      try {
        elements = Math.multiplyExact(elements, shape[i]);
      } catch (ArithmeticException e) {
        throw bad(file, "tensor " + name + ": shape " + shapeNode + " is too large");
      }
    }
    JsonNode offsets = node.get("data_offsets");
    if (offsets == null || !offsets.isArray() || offsets.size() != 2) {
      throw bad(file, "tensor " + name + ": \"data_offsets\" is not an array [begin, end]");
    }
    for (JsonNode o : offsets) {
      if (!o.isIntegralNumber() || !o.canConvertToLong() || o.asLong() < 0) {
        throw bad(file, "tensor " + name + ": data_offsets " + offsets + " are not offsets");
      }
    }
    long begin = offsets.get(0).asLong();
    long end = offsets.get(1).asLong();
    if (end < begin) {
      throw bad(file, "tensor " + name + ": data_offsets " + offsets + " end before they begin");
    }
    long expectedBytes;
    try {
      expectedBytes = Math.multiplyExact(elements, (long) elementBytes);
    } catch (ArithmeticException e) {
      throw bad(file, "tensor " + name + ": shape " + shapeNode + " is too large");
    }
    if (end - begin != expectedBytes) {
      throw bad(
          file,
          "tensor "
              + name
              + ": data_offsets "
              + offsets
              + " hold "
              + (end - begin)
              + " bytes, but shape "
              + Arrays.toString(shape)
              + " of "
              + dtype
              + " needs "
              + expectedBytes);
    }
    return new Entry(name, dtype, shape, begin, end);
  }

  private static void checkOverlaps(Path file, java.util.Collection<Entry> all) {
    List<Entry> sorted = new ArrayList<>(all);
    sorted.removeIf(e -> e.begin == e.end); // empty tensors occupy no bytes
    sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    for (int i = 1; i < sorted.size(); i++) {
      Entry prev = sorted.get(i - 1);
      Entry cur = sorted.get(i);
      if (cur.begin < prev.end) {
        throw bad(
            file,
            "tensor "
                + cur.name
                + ": data_offsets ["
                + cur.begin
                + ", "
                + cur.end
                + "] overlap those of tensor "
                + prev.name
                + " ["
                + prev.begin
                + ", "
                + prev.end
                + "]");
      }
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer dst, long position)
      throws IOException {
    long pos = position;
    while (dst.hasRemaining()) {
      int n = channel.read(dst, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file at byte " + pos);
      }
      pos += n;
    }
  }

  private static IllegalArgumentException bad(Path file, String message) {
    return new IllegalArgumentException("safetensors file " + file + ": " + message);
  }

  /** The file this was opened from. */
  public Path path() {
    return path;
  }

  /** The tensor names, in header order ({@code __metadata__} excluded). */
  public Set<String> names() {
    return entries.keySet();
  }

  /** True if the file holds a tensor called {@code name}. */
  public boolean contains(String name) {
    return entries.containsKey(name);
  }

  /** The {@code __metadata__} map (empty when the file has none). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The dtype string of tensor {@code name} (F32, F16, BF16, I64, ...). */
  public String dtype(String name) {
    return entry(name).dtype;
  }

  /** A copy of the shape of tensor {@code name}. */
  public int[] shape(String name) {
    return entry(name).shape.clone();
  }

  /**
   * The values of tensor {@code name} as row-major floats. F32 is copied, F16 and BF16 are widened
   * exactly; any other dtype is rejected with a message naming the tensor and its dtype.
   */
  public float[] floats(String name) {
    Entry e = entry(name);
    int elementBytes = DTYPE_BYTES.get(e.dtype);
    if (!e.dtype.equals("F32") && !e.dtype.equals("F16") && !e.dtype.equals("BF16")) {
      throw bad(
          path,
          "tensor "
              + name
              + " has dtype "
              + e.dtype
              + "; only F32, F16 and BF16 tensors can be read as floats");
    }
    long count = (e.end - e.begin) / elementBytes;
    if (count > Integer.MAX_VALUE - 8) {
      throw bad(path, "tensor " + name + " has " + count + " elements, too many for a float[]");
    }
    float[] out = new float[(int) count];
    long chunkElements = MAX_MAP_BYTES / elementBytes;
    for (long first = 0; first < count; first += chunkElements) {
      int n = (int) Math.min(chunkElements, count - first);
      ByteBuffer buf = region(name, dataStart + e.begin + first * elementBytes, n * elementBytes);
      convert(e.dtype, buf, out, (int) first, n);
    }
    return out;
  }

  private static void convert(String dtype, ByteBuffer buf, float[] out, int offset, int n) {
    buf.order(ByteOrder.LITTLE_ENDIAN);
    switch (dtype) {
      case "F32" -> buf.asFloatBuffer().get(out, offset, n);
      case "F16" -> {
        for (int i = 0; i < n; i++) {
          out[offset + i] = Half.toFloat(buf.getShort(2 * i));
        }
      }
      case "BF16" -> {
        for (int i = 0; i < n; i++) {
          out[offset + i] = Float.intBitsToFloat((buf.getShort(2 * i) & 0xffff) << 16);
        }
      }
      default -> throw new IllegalStateException(dtype);
    }
  }

  /** A little-endian view of {@code length} bytes at absolute file offset {@code position}. */
  private ByteBuffer region(String name, long position, int length) {
    if (closed) {
      throw new IllegalStateException("safetensors file " + path + " is closed");
    }
    if (whole != null) {
      return whole.slice((int) position, length);
    }
    try {
      return channel.map(FileChannel.MapMode.READ_ONLY, position, length);
    } catch (IOException e) {
      throw new UncheckedIOException("safetensors file " + path + ": cannot map tensor " + name, e);
    }
  }

  private Entry entry(String name) {
    Entry e = entries.get(name);
    if (e == null) {
      throw bad(path, "no tensor named " + name);
    }
    return e;
  }

  /** Closes the file; the mapping is released when it is garbage-collected. */
  @Override
  public void close() {
    closed = true;
    try {
      channel.close();
    } catch (IOException e) {
      throw new UncheckedIOException("closing safetensors file " + path, e);
    }
  }
}
