#include "data/prepare.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "data/corpus.hpp"
#include "data/glove.hpp"
#include "data/shard.hpp"
#include "data/synth.hpp"
#include "data/vocab.hpp"
#include "engine/core/crash_point.hpp"
#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/log.hpp"
#include "engine/core/nvtx.hpp"
#include "engine/core/progress.hpp"
#include "engine/core/strings.hpp"
#include "engine/core/system.hpp"

namespace lyre::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Inputs {
  fs::path artists_csv;
  fs::path lyrics_csv;
};

// A prepared folder is written into a staging folder beside it and swapped in
// at the end, so an interrupted or failed prepare leaves the previous one intact.
// The swap is one renameat2(RENAME_EXCHANGE): at every instant `target` is
// either the complete old folder or the complete new one, even under SIGKILL
// or a power cut. A staging folder left by a killed prepare is removed by the
// next prepare of the same target on the same host.
class StagedFolder {
 public:
  explicit StagedFolder(fs::path target) : target_(std::move(target)) {
    if (fs::exists(target_)) {
      if (!fs::is_directory(target_))
        fail_input("{} exists and is not a folder; choose another --out", target_.string());
      const bool empty = fs::is_empty(target_);
      if (!empty && !fs::exists(target_ / Manifest::kFileName))
        fail_input("{} exists, is not empty and is not a prepared folder (no {}); refusing to "
                   "replace it — choose another --out",
                   target_.string(), Manifest::kFileName);
    }
    remove_stale_staging();
    staging_ = target_;
    staging_ += staging_prefix() + std::to_string(::getpid());
    fs::remove_all(staging_);
    ensure_directory(staging_);
  }
  ~StagedFolder() {
    std::error_code ec;
    fs::remove_all(staging_, ec);  // the new folder if not committed, else the old one
  }
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;

  const fs::path& path() const { return staging_; }

  void commit() {
    sync_directory(staging_);
    crash_point("swap", target_);
    // No target yet: a plain rename that refuses to replace one created since.
    // Otherwise exchange the two, and the old folder goes with the staging path.
    const unsigned flags = fs::exists(target_) ? RENAME_EXCHANGE : RENAME_NOREPLACE;
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), flags) != 0) {
      const int err = errno;
      if (err != EINVAL && err != ENOSYS)
        fail("cannot move {} into place as {}: {}", staging_.string(), target_.string(),
             std::strerror(err));
      // A file system without RENAME_EXCHANGE (some network mounts): two
      // renames, with a moment in which `target` does not exist.
      fs::path previous = staging_;
      previous += "-old";
      const bool had_previous = fs::exists(target_);
      if (had_previous) fs::rename(target_, previous);
      fs::rename(staging_, target_);
      if (had_previous) fs::rename(previous, staging_);
    }
    crash_point("swapped", target_);
    sync_directory(parent());
    fs::remove_all(staging_);
  }

 private:
  fs::path parent() const {
    return target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  }
  // "<name>.staging-<host>-": the host keeps a prepare on another node of a
  // shared file system from taking a live staging folder for a stale one.
  std::string staging_prefix() const { return ".staging-" + host_name() + "-"; }

  void remove_stale_staging() const {
    const auto prefix = target_.filename().string() + staging_prefix();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(parent(), ec)) {
      const auto name = entry.path().filename().string();
      if (!name.starts_with(prefix)) continue;
      const auto pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
      if (pid <= 0 || pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 ||
          errno != ESRCH)
        continue;  // a prepare still running, or not one of ours
      log::info("removing {}, left by an interrupted prepare (process {} is gone)",
                entry.path().string(), pid);
      fs::remove_all(entry.path(), ec);
    }
  }

  fs::path target_;
  fs::path staging_;
};

void require_file(const std::string& path, const char* key) {
  if (path.empty()) fail_input("config key '{}' is empty: name the file to read", key);
  if (!fs::is_regular_file(path))
    fail_input("{} (config key '{}') does not exist or is not a file", path, key);
}

Inputs locate_inputs(const ExperimentConfig& config, const fs::path& staging, json& report) {
  const auto& data = config.data;
  if (data.source == DataSource::synthetic) {
    const NvtxRange range("prepare.synth");
    const auto raw = staging / "raw";
    log::info("writing the synthetic Kaggle-format corpus ({} rows, seed {}) to {}",
              with_thousands(static_cast<unsigned long long>(data.synthetic.songs)),
              data.synthetic.seed, raw.string());
    const auto synth = write_synthetic_kaggle(
        raw, SynthOptions{data.synthetic.songs, data.synthetic.seed});
    report["synthetic"] = {{"rows", synth.lyric_rows},
                           {"artists", synth.artists},
                           {"seed", data.synthetic.seed}};
    return {synth.artists_csv, synth.lyrics_csv};
  }
  require_file(data.artists_csv, "data.artists_csv");
  require_file(data.lyrics_csv, "data.lyrics_csv");
  return {data.artists_csv, data.lyrics_csv};
}

Corpus assemble(const Inputs& inputs, const DataConfig& data) {
  const NvtxRange range("prepare.corpus");
  Progress progress("reading lyrics", std::max<std::uintmax_t>(1, fs::file_size(inputs.lyrics_csv) >> 20), "MB");
  auto corpus = assemble_corpus(inputs.artists_csv, inputs.lyrics_csv, CorpusOptions::from(data),
                                [&](std::uint64_t done, std::uint64_t) { progress.update(done >> 20); });
  progress.finish();
  return corpus;
}

// Counts of every word over the selected songs, then the vocabulary.
Vocab build_vocab(const Corpus& corpus, const VocabConfig& config) {
  std::vector<std::uint64_t> counts(corpus.words.size(), 0);
  for (const auto& song : corpus.songs)
    for (const auto id : corpus.song_tokens(song)) ++counts[id];
  std::vector<std::string> words;
  std::vector<std::uint64_t> word_counts;
  for (std::uint32_t id = 0; id < counts.size(); ++id) {
    if (counts[id] == 0) continue;  // word seen only in songs that were not selected
    words.push_back(corpus.words.word(id));
    word_counts.push_back(counts[id]);
  }
  return Vocab::build(words, word_counts, config.min_count, config.max_size);
}

std::vector<ShardEntry> write_shards(const Corpus& corpus, const Vocab& vocab,
                                     std::int64_t songs_per_shard, const fs::path& dir) {
  const NvtxRange range("prepare.shards");
  // Corpus word id -> vocabulary id, computed once.
  std::vector<std::uint32_t> to_vocab(corpus.words.size());
  for (std::uint32_t id = 0; id < to_vocab.size(); ++id)
    to_vocab[id] = vocab.lookup(corpus.words.word(id));

  std::vector<ShardEntry> entries;
  std::vector<std::uint32_t> ids;
  const auto num_classes = static_cast<std::uint32_t>(corpus.genres.size());
  const auto per_shard = static_cast<std::size_t>(songs_per_shard);
  for (std::size_t first = 0; first < corpus.songs.size(); first += per_shard) {
    const auto index = static_cast<std::uint32_t>(entries.size());
    const auto name = fmt::format("shard-{:05}.bin", index);
    ShardWriter writer(dir / name, index, vocab.hash(), vocab.size(), num_classes);
    const std::size_t last = std::min(corpus.songs.size(), first + per_shard);
    for (std::size_t s = first; s < last; ++s) {
      const auto& song = corpus.songs[s];
      const auto tokens = corpus.song_tokens(song);
      ids.resize(tokens.size());
      std::transform(tokens.begin(), tokens.end(), ids.begin(),
                     [&](std::uint32_t w) { return to_vocab[w]; });
      writer.add(song.row, song.label, ids, corpus.song_marks(song));
    }
    ShardEntry entry{name, writer.num_songs(), writer.num_tokens(), 0};
    entry.bytes = writer.finish();
    entries.push_back(entry);
  }
  return entries;
}

std::optional<EmbeddingEntry> write_embedding(const GloveConfig& glove, const Vocab& vocab,
                                              const fs::path& dir, json& report) {
  if (glove.path.empty()) return std::nullopt;
  const NvtxRange range("prepare.glove");
  const fs::path cache = glove.cache_dir.empty() ? default_glove_cache_dir() : fs::path(glove.cache_dir);
  const auto vectors = load_glove(glove.path, glove.dim, cache);
  const auto matrix = build_embedding(vectors, vocab);
  save_embedding(dir / "embedding.bin", matrix);
  log::info("GloVe {}: {} vectors of {}; found {:.1f}% of the vocabulary, {:.1f}% of tokens",
            glove.path, with_thousands(vectors.words.size()), glove.dim,
            100.0 * matrix.vocab_coverage, 100.0 * matrix.token_coverage);
  report["glove"] = {{"file", glove.path},
                     {"words", vectors.words.size()},
                     {"dim", glove.dim},
                     {"vocab_coverage", matrix.vocab_coverage},
                     {"token_coverage", matrix.token_coverage}};
  return EmbeddingEntry{"embedding.bin", glove.dim, glove.path, matrix.vocab_coverage,
                        matrix.token_coverage, digest_file(dir / "embedding.bin")};
}

json stage_json(const StageCount& s) {
  return {{"artists", s.artists}, {"genres", s.genres}, {"songs", s.songs}};
}

json counts_json(const CorpusCounts& c) {
  json genres = json::array();
  for (const auto& g : c.genres)
    genres.push_back({{"genre", g.genre}, {"available", g.available}, {"selected", g.selected}});
  return {{"artist_rows", c.artist_rows},
          {"artists_without_link", c.artists_without_link},
          {"duplicate_links", c.duplicate_links},
          {"lyric_rows", c.lyric_rows},
          {"unjoined_rows", c.unjoined},
          {"joined", stage_json(c.joined)},
          {"language", stage_json(c.language)},
          {"duplicates_dropped", c.duplicates_dropped},
          {"empty_dropped", c.empty_dropped},
          {"no_genre_dropped", c.no_genre_dropped},
          {"multi_genre_dropped", c.multi_genre_dropped},
          {"usable_songs", c.usable_songs},
          {"genres", genres},
          {"selected_songs", c.selected_songs},
          {"cleaning",
           {{"texts", c.clean.texts},
            {"invalid_utf8_repaired", c.clean.invalid_utf8},
            {"urls_removed", c.clean.urls_removed},
            {"words", c.clean.words},
            {"stopwords_removed", c.clean.stopwords_removed},
            {"tokens", c.clean.tokens}}}};
}

// The stage table, as the paper reports its counts. Results go to stdout.
void print_stage_table(const CorpusCounts& c, const DataConfig& data, std::FILE* out) {
  const auto n = [](std::uint64_t v) { return with_thousands(v); };
  fmt::print(out, "\n{:<34} {:>10} {:>8} {:>10}\n", "stage", "artists", "genres", "songs");
  fmt::print(out, "{:<34} {:>10} {:>8} {:>10}\n", "lyrics rows read", "", "", n(c.lyric_rows));
  fmt::print(out, "{:<34} {:>10} {:>8} {:>10}\n", "after the join", n(c.joined.artists),
             n(c.joined.genres), n(c.joined.songs));
  fmt::print(out, "{:<34} {:>10} {:>8} {:>10}\n", fmt::format("language = {}", data.language),
             n(c.language.artists), n(c.language.genres), n(c.language.songs));
  fmt::print(out, "{:<34} {:>10} {:>8} {:>10}\n", "usable (deduplicated, non-empty)", "", "",
             n(c.usable_songs));
  fmt::print(out, "{:<34} {:>10} {:>8} {:>10}\n", "selected", "", n(c.genres.size()),
             n(c.selected_songs));
  fmt::print(out, "  dropped: {} unjoined, {} duplicates, {} empty after cleaning, {} without genre, "
                  "{} multi-genre; {} invalid UTF-8 sequences repaired\n",
             n(c.unjoined), n(c.duplicates_dropped), n(c.empty_dropped), n(c.no_genre_dropped),
             n(c.multi_genre_dropped), n(c.clean.invalid_utf8));
  fmt::print(out, "\n{:<24} {:>10} {:>10}\n", "genre", "available", "selected");
  for (const auto& g : c.genres)
    fmt::print(out, "{:<24} {:>10} {:>10}\n", g.genre, n(g.available), n(g.selected));
  std::fflush(out);
}

}  // namespace

PrepareResult run_prepare(const ExperimentConfig& config, const fs::path& out_dir) {
  const auto start = monotonic_ns();
  const fs::path target = out_dir.empty() ? fs::path(config.data.prepared) : out_dir;
  if (target.empty()) fail_input("config key 'data.prepared' is empty: name the output folder");
  // Check what can fail fast before the long pass over the lyrics.
  if (!config.data.glove.path.empty() && !fs::is_regular_file(config.data.glove.path))
    fail_input("{} (config key 'data.glove.path') does not exist or is not a file",
               config.data.glove.path);

  StagedFolder staged(target);
  json report = {{"lyre_prepare", 1}, {"name", config.name}, {"created", utc_timestamp()}};
  const auto inputs = locate_inputs(config, staged.path(), report);
  // Synthetic inputs live in the staging folder, which becomes `target`.
  const auto final_path = [&](const fs::path& p) {
    const auto rel = p.lexically_relative(staged.path());
    return (!rel.empty() && *rel.begin() != "..") ? (target / rel).string() : p.string();
  };
  report["inputs"] = {{"artists_csv", final_path(inputs.artists_csv)},
                      {"lyrics_csv", final_path(inputs.lyrics_csv)}};

  const auto corpus = assemble(inputs, config.data);
  print_stage_table(corpus.counts, config.data, stdout);
  report["counts"] = counts_json(corpus.counts);

  const auto vocab = build_vocab(corpus, config.data.vocab);
  const std::uint64_t unk = vocab.count(Vocab::kUnk);
  log::info("vocabulary: {} entries (min count {}), {:.2f}% of tokens are UNK",
            with_thousands(vocab.size()), config.data.vocab.min_count,
            corpus.tokens.empty() ? 0.0 : 100.0 * static_cast<double>(unk) / static_cast<double>(corpus.tokens.size()));
  vocab.save(staged.path() / "vocab.txt");
  report["vocab"] = {{"size", vocab.size()}, {"unk_tokens", unk},
                     {"hash", fmt::format("{:016x}", vocab.hash())}};

  Manifest manifest;
  manifest.name = config.name;
  manifest.vocab_size = vocab.size();
  manifest.vocab_hash = vocab.hash();
  manifest.vocab_digest = digest_file(staged.path() / manifest.vocab_file);
  manifest.genres = corpus.genres;
  manifest.shards = write_shards(corpus, vocab, config.data.shard_songs, staged.path());
  for (const auto& s : manifest.shards) {
    manifest.songs += s.songs;
    manifest.tokens += s.tokens;
  }
  manifest.embedding = write_embedding(config.data.glove, vocab, staged.path(), report);

  report["shards"] = manifest.shards.size();
  report["songs"] = manifest.songs;
  report["tokens"] = manifest.tokens;
  report["seconds"] = seconds_since(start);
  report["peak_rss_bytes"] = peak_rss_bytes();
  write_text_file(staged.path() / "prepare-report.json", report.dump(2) + "\n");
  manifest.save(staged.path());  // last: a folder with a manifest is complete
  staged.commit();

  // Validate what we wrote the way every reader will, before anyone relies on it.
  const auto reopened = PreparedCorpus::open(target);
  log::info("wrote {} shard(s): {} songs, {} tokens, {} genres to {} in {:.1f} s (peak memory {} MB)",
            manifest.shards.size(), with_thousands(reopened.num_songs()),
            with_thousands(reopened.num_tokens()), reopened.num_classes(), target.string(),
            seconds_since(start), peak_rss_bytes() >> 20);
  return {target, report};
}

}  // namespace lyre::data
