package org.ft4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ft4j} command: one subcommand per job. */
@Command(
    name = "ft4j",
    mixinStandardHelpOptions = true,
    versionProvider = Ft4jCli.Version.class,
    description = "BERT-family encoder inference on CUDA GPUs for the JVM.",
    subcommands = {
      EncoderSampleCommand.class,
      EncoderGemmCommand.class,
      EmbedCommand.class,
      CalibrateCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Ft4jCli {

  public static void main(String[] args) {
    // DJL's tokenizer library probes for CUDA and logs a warning per probe on machines without a
    // GPU; ft4j says itself which backend runs.
    if (System.getProperty("org.slf4j.simpleLogger.log.ai.djl") == null) {
      System.setProperty("org.slf4j.simpleLogger.log.ai.djl", "error");
    }
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code (0 ok, 1 failure, 2 bad arguments). */
  public static int run(String... args) {
    return newCommandLine().execute(args);
  }

  static CommandLine newCommandLine() {
    CommandLine cl = new CommandLine(new Ft4jCli());
    cl.setExecutionExceptionHandler(
        (e, cmd, parsed) -> {
          if (e instanceof IllegalArgumentException || e instanceof UnsupportedOperationException) {
            cmd.getErr().println("error: " + e.getMessage());
            return 2;
          }
          cmd.getErr().println("error: " + e);
          return 1;
        });
    return cl;
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Ft4jCli.class.getPackage().getImplementationVersion();
      return new String[] {"ft4j " + (v == null ? "development build" : v)};
    }
  }
}
