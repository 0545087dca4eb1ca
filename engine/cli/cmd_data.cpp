// lyre synth | prepare | inspect
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "data/prepare.hpp"
#include "data/shard.hpp"
#include "data/synth.hpp"
#include "data/vocab.hpp"
#include "engine/cli/commands.hpp"
#include "engine/config/config.hpp"
#include "engine/core/log.hpp"
#include "engine/core/strings.hpp"

namespace lyre::cli {
namespace {

struct SynthOptions {
  std::string out;
  std::int64_t songs = 6000;
  std::uint64_t seed = 7;
};

int run_synth(const SynthOptions& o) {
  const auto result = data::write_synthetic_kaggle(o.out, {o.songs, o.seed});
  fmt::print("wrote {} ({} artists) and {} ({} lyric rows, {} in English)\n",
             result.artists_csv.string(), with_thousands(result.artists),
             result.lyrics_csv.string(), with_thousands(result.lyric_rows),
             with_thousands(result.english_rows));
  return 0;
}

int run_prepare(const ConfigOptions& o) {
  const auto config = load_config(o.config, o.overrides);
  const auto result = data::run_prepare(config, o.out);
  fmt::print("\nprepared folder: {}\n", result.dir.string());
  return 0;
}

struct LengthStats {
  std::uint32_t min = 0, median = 0, p95 = 0, max = 0;
  double mean = 0;
};

LengthStats length_stats(std::vector<std::uint32_t> lengths) {
  LengthStats s;
  if (lengths.empty()) return s;
  std::sort(lengths.begin(), lengths.end());
  s.min = lengths.front();
  s.max = lengths.back();
  s.median = lengths[lengths.size() / 2];
  s.p95 = lengths[std::min(lengths.size() - 1, lengths.size() * 95 / 100)];
  double total = 0;
  for (auto l : lengths) total += l;
  s.mean = total / static_cast<double>(lengths.size());
  return s;
}

int run_inspect(const std::string& dir, bool as_json) {
  // open() validates the manifest, then every file it lists (vocab.txt and
  // embedding.bin against the manifest's checksums, each shard against its
  // own) and its structure; anything wrong is an InputError naming the file
  // before we print a thing. Training opens folders the same way.
  const auto corpus = data::PreparedCorpus::open(dir);
  const auto& m = corpus.manifest();
  std::vector<std::uint64_t> per_genre(corpus.num_classes(), 0);
  for (const auto label : corpus.labels()) ++per_genre[label];
  const auto lengths = length_stats(corpus.lengths());
  const auto unk = corpus.vocab().count(data::Vocab::kUnk);
  const double unk_share =
      corpus.num_tokens() ? static_cast<double>(unk) / static_cast<double>(corpus.num_tokens()) : 0.0;

  nlohmann::json j = {{"dir", dir},
                      {"name", m.name},
                      {"valid", true},
                      {"songs", corpus.num_songs()},
                      {"tokens", corpus.num_tokens()},
                      {"vocab_size", corpus.vocab().size()},
                      {"vocab_hash", fmt::format("{:016x}", m.vocab_hash)},
                      {"unk_share", unk_share},
                      {"length", {{"min", lengths.min}, {"median", lengths.median},
                                  {"mean", lengths.mean}, {"p95", lengths.p95},
                                  {"max", lengths.max}}}};
  for (std::size_t g = 0; g < per_genre.size(); ++g)
    j["genres"].push_back({{"genre", corpus.genres()[g]}, {"songs", per_genre[g]}});
  const auto digest_json = [](const std::string& file, const FileDigest& d) {
    return nlohmann::json{{"file", file}, {"bytes", d.bytes}, {"xxh3", fmt::format("{:016x}", d.xxh3)}};
  };
  j["files"].push_back(digest_json(m.vocab_file, m.vocab_digest));
  if (m.embedding) j["files"].push_back(digest_json(m.embedding->file, m.embedding->digest));
  for (const auto& s : m.shards)
    j["shards"].push_back({{"file", s.file}, {"songs", s.songs}, {"tokens", s.tokens},
                           {"bytes", s.bytes}});
  if (m.embedding)
    j["embedding"] = {{"dim", m.embedding->dim}, {"source", m.embedding->source},
                      {"vocab_coverage", m.embedding->vocab_coverage},
                      {"token_coverage", m.embedding->token_coverage}};
  if (as_json) {
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("{}: valid ({} file(s) and {} shard(s), every checksum verified)\n", dir,
             m.embedding ? 2 : 1, m.shards.size());
  fmt::print("  name        {}\n", m.name);
  fmt::print("  songs       {}\n", with_thousands(corpus.num_songs()));
  fmt::print("  tokens      {} (UNK {:.2f}%)\n", with_thousands(corpus.num_tokens()), 100 * unk_share);
  fmt::print("  length      min {}  median {}  mean {:.1f}  p95 {}  max {}\n", lengths.min,
             lengths.median, lengths.mean, lengths.p95, lengths.max);
  fmt::print("  vocabulary  {} words (hash {:016x})\n", with_thousands(corpus.vocab().size()),
             m.vocab_hash);
  if (m.embedding)
    fmt::print("  embedding   GloVe {}d, {:.1f}% of words / {:.1f}% of tokens found ({})\n",
               m.embedding->dim, 100 * m.embedding->vocab_coverage,
               100 * m.embedding->token_coverage, m.embedding->source);
  else
    fmt::print("  embedding   none (random initialization)\n");
  fmt::print("  genres      {}\n", corpus.num_classes());
  for (std::size_t g = 0; g < per_genre.size(); ++g)
    fmt::print("    {:<24} {:>10}\n", corpus.genres()[g], with_thousands(per_genre[g]));
  for (const auto& s : m.shards)
    fmt::print("  {}  {} songs  {} tokens  {:.1f} MB\n", s.file, with_thousands(s.songs),
               with_thousands(s.tokens), static_cast<double>(s.bytes) / 1e6);
  return 0;
}

}  // namespace

void add_data_commands(CLI::App& root, Commands& commands) {
  {
    auto options = std::make_shared<SynthOptions>();
    auto* app = root.add_subcommand("synth", "write a synthetic corpus in the exact Kaggle CSV format");
    app->add_option("--out,-o", options->out, "folder for artists-data.csv and lyrics-data.csv")
        ->required();
    app->add_option("--songs,-n", options->songs, "lyric rows to write")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{50'000'000}));
    app->add_option("--seed", options->seed, "random seed");
    commands.push_back({app, [options] { return run_synth(*options); }});
  }
  {
    auto options = std::make_shared<ConfigOptions>();
    auto* app = root.add_subcommand(
        "prepare", "Kaggle CSVs (or the synthetic corpus) -> validated pre-tokenized shards");
    add_config_options(*app, *options, "prepared folder to write (default: data.prepared)");
    commands.push_back({app, [options] { return run_prepare(*options); }});
  }
  {
    auto dir = std::make_shared<std::string>();
    auto as_json = std::make_shared<bool>(false);
    auto* app = root.add_subcommand(
        "inspect", "validate a prepared folder (manifest, checksums, vocabulary) and print its counts");
    app->add_option("dir", *dir, "prepared folder")->required();
    app->add_flag("--json", *as_json, "print JSON instead of text");
    commands.push_back({app, [dir, as_json] { return run_inspect(*dir, *as_json); }});
  }
}

}  // namespace lyre::cli
