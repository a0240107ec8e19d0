// A loopback HTTP server around Stanford CoreNLP's CRF named-entity tagger, for the entities
// stage (workers/entities/corenlp.py). Run as a single source file, nothing to build:
//
//   java -cp '<stack_dir>/corenlp/libs/*' stack/corenlp/NerServer.java HOST PORT MODELS THREADS
//
// MODELS: "LANG=MODEL,LANG=MODEL..." (a bare MODEL is English's), one CRF per language, each with
// CoreNLP's tokenizer for that language; the first language is the default.
//
// Why our own and not CoreNLP's StanfordCoreNLPServer: that one listens on every interface (it
// has no bind-address option, and its subnet block list only works in Stanford's public-server
// mode), and it accepts serialized Java objects as input. This one binds HOST only and reads
// plain UTF-8 text. It runs CoreNLP's own pipeline (tokenize, ssplit, ner) with one CRF model
// per language and none of the extras (SUTime, numeric and fine-grained classifiers).
//
//   GET  /ready  -> 200 "ready" once the model is loaded (it is loaded before listening)
//   POST /ner[?lang=LANG]  (body: UTF-8 text) -> 200 {"model": MODEL, "spans": [[begin, end, "LABEL"], ...]}
//                  offsets in UTF-16 code units (Java's), adjacent tokens of one label within
//                  a sentence merged into one span (the CoNLL model tags IO, not BIO)
//   a language without a model -> 404; anything else -> 404 / 405; a body that is not
//   valid UTF-8 -> 400; a text longer than
//   MAX_CHARS -> 413 (the client sends long texts in pieces); a text the pipeline fails on
//   -> 500 with the error
//
// Guards against running out of heap, found by testing: the CRF's features of one token grow
// with the square of its length (one 30,000-character "word" filled a 512 MB heap), and a JVM
// that has run out of heap once may fail the next requests too, or drop one unanswered. So
// runs of 100 or more non-space characters (a pasted blob, a long URL: never a name) are
// tagged as spaces, one space per UTF-16 unit so that offsets hold, and a request holds at
// most MAX_CHARS characters (two news texts of 200,000 were tagged at once within 512 MB).

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import edu.stanford.nlp.ling.CoreLabel;
import edu.stanford.nlp.pipeline.CoreDocument;
import edu.stanford.nlp.pipeline.CoreSentence;
import edu.stanford.nlp.pipeline.StanfordCoreNLP;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;

public class NerServer {
  static final int MAX_CHARS = 100_000;
  static final Set<String> TOKENIZERS = Set.of("en", "de", "es", "fr");
  static final Pattern LONG_RUN = Pattern.compile("\\S{100,}");

  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println("usage: NerServer HOST PORT LANG=MODEL[,LANG=MODEL...] THREADS");
      System.exit(2);
    }
    InetSocketAddress address = new InetSocketAddress(InetAddress.getByName(args[0]),
        Integer.parseInt(args[1]));
    // language -> {pipeline, the answer's head naming its model}; the first is the default.
    Map<String, StanfordCoreNLP> pipelines = new LinkedHashMap<>();
    Map<String, String> heads = new LinkedHashMap<>();
    for (String entry : args[2].split(",")) {
      String[] parts = entry.contains("=") ? entry.split("=", 2) : new String[] {"en", entry};
      pipelines.put(parts[0], pipeline(parts[0], parts[1]));
      heads.put(parts[0], "{\"model\":\"" + parts[1].replace("\\", "\\\\")
          .replace("\"", "\\\"") + "\",");
    }
    String fallback = pipelines.keySet().iterator().next();
    HttpServer server = HttpServer.create(address, 64);
    server.createContext("/ready", exchange -> reply(exchange, 200, "text/plain", "ready"));
    server.createContext("/ner", exchange -> {
      try {
        if (!exchange.getRequestMethod().equals("POST")) {
          reply(exchange, 405, "text/plain", "POST the text");
          return;
        }
        String text;
        try {
          text = StandardCharsets.UTF_8.newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(exchange.getRequestBody().readAllBytes())).toString();
        } catch (CharacterCodingException e) {
          reply(exchange, 400, "text/plain", "the body is not UTF-8");
          return;
        }
        if (text.length() > MAX_CHARS) {
          reply(exchange, 413, "text/plain", "a text of " + text.length()
              + " UTF-16 units is over " + MAX_CHARS + ": send it in pieces");
          return;
        }
        String query = exchange.getRequestURI().getQuery();
        String lang = query != null && query.startsWith("lang=") ? query.substring(5) : fallback;
        StanfordCoreNLP pipeline = pipelines.get(lang);
        if (pipeline == null) {
          reply(exchange, 404, "text/plain", "no model for language " + lang);
          return;
        }
        text = LONG_RUN.matcher(text).replaceAll(run -> " ".repeat(run.group().length()));
        CoreDocument document = new CoreDocument(text);
        pipeline.annotate(document);
        reply(exchange, 200, "application/json", heads.get(lang) + spans(document.sentences()));
      } catch (RuntimeException | Error e) {
        // Answered, so the client need not wait for its timeout to learn the text failed.
        System.err.println("NerServer: failed on a text of " + exchange.getRequestHeaders()
            .getFirst("Content-Length") + " bytes: " + e);
        reply(exchange, 500, "text/plain", e.toString());
      } finally {
        exchange.close(); // even if the answer itself failed: the client sees a closed socket
      }
    });
    server.setExecutor(Executors.newFixedThreadPool(Integer.parseInt(args[3])));
    server.start();
    System.err.println("NerServer: " + args[2] + " on " + address);
  }

  static StanfordCoreNLP pipeline(String lang, String model) {
    Properties props = new Properties();
    props.setProperty("annotators", "tokenize,ssplit,ner");
    // CoreNLP's tokenizer for the language where it has one; its English one otherwise.
    props.setProperty("tokenize.language", TOKENIZERS.contains(lang) ? lang : "en");
    props.setProperty("tokenize.options", "invertible=true");
    props.setProperty("ner.model", model);
    props.setProperty("ner.applyFineGrained", "false");
    props.setProperty("ner.useSUTime", "false");
    props.setProperty("ner.applyNumericClassifiers", "false");
    props.setProperty("ner.buildEntityMentions", "false");
    // One pipeline per language for all threads, as CoreNLP's own server shares one.
    return new StanfordCoreNLP(props);
  }

  static String spans(List<CoreSentence> sentences) {
    StringBuilder out = new StringBuilder("\"spans\":[");
    boolean first = true;
    for (CoreSentence sentence : sentences) {
      String label = "O";
      int begin = 0;
      int end = 0;
      for (CoreLabel token : sentence.tokens()) {
        String tag = token.ner();
        if (tag == null) {
          tag = "O";
        }
        if (!tag.equals(label)) {
          if (!label.equals("O")) {
            first = append(out, first, begin, end, label);
          }
          label = tag;
          begin = token.beginPosition();
        }
        end = token.endPosition();
      }
      if (!label.equals("O")) {
        first = append(out, first, begin, end, label);
      }
    }
    return out.append("]}").toString();
  }

  static boolean append(StringBuilder out, boolean first, int begin, int end, String label) {
    // Labels are the model's own class names (PERSON, LOCATION, ...): nothing to escape.
    out.append(first ? "" : ",").append('[').append(begin).append(',').append(end)
        .append(",\"").append(label).append("\"]");
    return false;
  }

  static void reply(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream os = exchange.getResponseBody()) {
      os.write(bytes);
    }
  }
}
