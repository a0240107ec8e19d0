package org.newsflow.es9compat;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.de.GermanAnalyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.es.SpanishAnalyzer;
import org.apache.lucene.analysis.fr.FrenchAnalyzer;
import org.apache.lucene.analysis.it.ItalianAnalyzer;
import org.apache.lucene.analysis.nl.DutchAnalyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishMinimalStemFilter;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.KStemFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterState;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** newsflow's local-stack stand-in for the rest-root module (GET /) and the language analyzers (english, french, german, spanish, dutch, italian) + a few token filters of analysis-common, which 9.x does not publish to Maven Central. */
public class Es9CompatPlugin extends Plugin implements ActionPlugin, AnalysisPlugin {
    private volatile ClusterService clusterService;

    @Override
    public Collection<?> createComponents(PluginServices services) {
        this.clusterService = services.clusterService();
        return List.of();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(RestHandlersServices services, Supplier<DiscoveryNodes> nodes, Predicate<NodeFeature> features) {
        return List.of(new RootHandler());
    }

    class RootHandler extends BaseRestHandler {
        @Override public String getName() { return "es9compat_main_action"; }
        @Override public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }
        @Override protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return channel -> {
                ClusterState state = clusterService.state();
                Build build = Build.current();
                XContentBuilder b = channel.newBuilder();
                b.startObject();
                b.field("name", clusterService.localNode().getName());
                b.field("cluster_name", state.getClusterName().value());
                b.field("cluster_uuid", state.metadata().clusterUUID());
                b.startObject("version")
                    .field("number", build.qualifiedVersion())
                    .field("build_flavor", build.flavor())
                    .field("build_type", build.type().displayName())
                    .field("build_hash", build.hash())
                    .field("build_date", build.date())
                    .field("build_snapshot", build.isSnapshot())
                    .field("lucene_version", org.apache.lucene.util.Version.LATEST.toString())
                    .field("minimum_wire_compatibility_version", build.minWireCompatVersion())
                    .field("minimum_index_compatibility_version", build.minIndexCompatVersion())
                    .endObject();
                b.field("tagline", "You Know, for Search");
                b.endObject();
                channel.sendResponse(new RestResponse(RestStatus.OK, b));
            };
        }
    }

    /** A Lucene language analyzer as analysis-common registers it: its default stop words unless
     *  "stopwords" is set, "stem_exclusion" words left unstemmed. */
    interface LanguageAnalyzer {
        Analyzer make(CharArraySet stopwords, CharArraySet stemExclusion);
    }

    static AnalysisProvider<AnalyzerProvider<? extends Analyzer>> language(LanguageAnalyzer make, CharArraySet defaults) {
        return (is, env, name, settings) -> {
            Analyzer analyzer = make.make(
                Analysis.parseStopWords(env, settings, defaults),
                Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET));
            return new AbstractIndexAnalyzerProvider<Analyzer>(name) {
                @Override public Analyzer get() { return analyzer; }
            };
        };
    }

    /** Simple token filter factory backed by a lambda. */
    static AnalysisProvider<TokenFilterFactory> filter(java.util.function.BiFunction<Settings, TokenStream, TokenStream> f, boolean normalizing) {
        return (is, env, name, settings) -> normalizing
            ? new NormFilter(name, ts -> f.apply(settings, ts))
            : new Filter(name, ts -> f.apply(settings, ts));
    }
    static class Filter extends AbstractTokenFilterFactory {
        final java.util.function.UnaryOperator<TokenStream> op;
        Filter(String name, java.util.function.UnaryOperator<TokenStream> op) { super(name); this.op = op; }
        @Override public TokenStream create(TokenStream ts) { return op.apply(ts); }
    }
    static class NormFilter extends Filter implements NormalizingTokenFilterFactory {
        NormFilter(String name, java.util.function.UnaryOperator<TokenStream> op) { super(name, op); }
    }

    static TokenStream stemmer(Settings s, TokenStream ts) {
        String lang = s.get("language", s.get("name", "english"));
        return switch (lang) {
            case "english", "porter" -> new PorterStemFilter(ts);
            case "light_english", "kstem" -> new KStemFilter(ts);
            case "minimal_english" -> new EnglishMinimalStemFilter(ts);
            case "possessive_english" -> new EnglishPossessiveFilter(ts);
            default -> throw new IllegalArgumentException("es9-compat stemmer: unsupported language [" + lang + "]");
        };
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "asciifolding", filter((s, ts) -> new ASCIIFoldingFilter(ts, s.getAsBoolean("preserve_original", false)), true),
            "porter_stem", filter((s, ts) -> new PorterStemFilter(ts), false),
            "kstem", filter((s, ts) -> new KStemFilter(ts), false),
            "stemmer", filter(Es9CompatPlugin::stemmer, false));
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of(
            "english", language(EnglishAnalyzer::new, EnglishAnalyzer.getDefaultStopSet()),
            "french", language(FrenchAnalyzer::new, FrenchAnalyzer.getDefaultStopSet()),
            "german", language(GermanAnalyzer::new, GermanAnalyzer.getDefaultStopSet()),
            "spanish", language(SpanishAnalyzer::new, SpanishAnalyzer.getDefaultStopSet()),
            "dutch", language(DutchAnalyzer::new, DutchAnalyzer.getDefaultStopSet()),
            "italian", language(ItalianAnalyzer::new, ItalianAnalyzer.getDefaultStopSet()));
    }
}
