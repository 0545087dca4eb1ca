// Writes the seed corpora and the generated dictionary of the fuzz harnesses:
//   lyre_fuzz_seeds OUT_DIR
// gives OUT_DIR/<harness>/ (one folder per tests/fuzz/fuzz_<harness>.cpp) and
// OUT_DIR/dicts/config.dict. Seeds are valid inputs made by the project's own
// writers (ShardWriter, save_checkpoint, the GloVe cache, Vocab::save,
// Manifest::save, save_embedding) or taken from the shipped samples
// (tests/data/kaggle_small, configs/, data/glove), so every harness starts
// from files the readers accept and the fuzzer mutates from there.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/csv_reader.hpp"
#include "data/glove.hpp"
#include "data/shard.hpp"
#include "data/synth.hpp"
#include "data/vocab.hpp"
#include "engine/backend/layer_ops.hpp"
#include "engine/config/config.hpp"
#include "engine/core/files.hpp"
#include "engine/core/strings.hpp"
#include "engine/model/param_layout.hpp"
#include "engine/train/checkpoint.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace lyre;
namespace fs = std::filesystem;

const fs::path kSource = LYRE_FUZZ_SOURCE_DIR;

class SeedDir {
 public:
  SeedDir(const fs::path& root, const std::string& harness) : dir_(root / harness) {
    fs::create_directories(dir_);
  }
  void add(const std::string& name, std::string_view bytes) const {
    write_text_file(dir_ / name, bytes);
  }
  // A checksummed file: as a payload (mode 0, the harness appends the
  // trailer) and whole (mode 1), plus `extra_modes` payload variants.
  void add_binary(const std::string& name, const fs::path& file,
                  std::initializer_list<std::uint8_t> extra_modes = {}) const {
    const std::string bytes = read_text_file(file);
    add(name + ".payload", fuzz::payload_seed(bytes, 0));
    add(name + ".whole", fuzz::payload_seed(bytes, 1));
    for (const std::uint8_t mode : extra_modes)
      add(fmt::format("{}.mode{}", name, mode), fuzz::payload_seed(bytes, mode));
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

std::string head_lines(const std::string& text, std::size_t lines) {
  std::size_t pos = 0;
  for (std::size_t i = 0; i < lines && pos != std::string::npos; ++i) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  return text.substr(0, pos == std::string::npos ? text.size() : pos);
}

data::Vocab small_vocab() {
  const std::vector<std::string> words{"love", "night", "fire", "rain", "café", "don't", "rock"};
  const std::vector<std::uint64_t> counts{9, 7, 5, 4, 3, 2, 1};
  return data::Vocab::build(words, counts, 1, 0);
}

void csv_seeds(const fs::path& out, const fs::path& scratch) {
  const SeedDir seeds(out, "csv");
  for (const char* name : {"artists-data.csv", "lyrics-data.csv", "lyrics-data-idiom.csv"})
    seeds.add(name, read_text_file(kSource / "tests/data/kaggle_small" / name));
  // The synthetic Kaggle corpus carries the real files' defects (quotes,
  // embedded newlines, CRLF, BOM, NA rows); keep a small slice of each file.
  data::SynthOptions options;
  options.songs = 40;
  data::write_synthetic_kaggle(scratch / "synth", options);
  for (const char* name : {"artists-data.csv", "lyrics-data.csv"})
    seeds.add(std::string("synth-") + name, head_lines(read_text_file(scratch / "synth" / name), 60));
  seeds.add("crlf-bom.csv", "\xEF\xBB\xBF" "a,b\r\n\"x,\"\"y\"\"\",2\r\n\r\n3,\"multi\nline\"\r\n");
}

void text_clean_seeds(const fs::path& out) {
  const SeedDir seeds(out, "text_clean");
  int n = 0;
  for (const char* name : {"lyrics-data.csv", "lyrics-data-idiom.csv"}) {
    data::CsvReader reader(kSource / "tests/data/kaggle_small" / name);
    const std::size_t lyric = reader.column("Lyric");
    std::vector<std::string_view> fields;
    while (reader.next(fields)) seeds.add(fmt::format("lyric-{:02}", n++), fields[lyric]);
  }
  seeds.add("repair", "caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x99" "cause rockin\xE2\x80\x99 "
                      "\xC3\x28 \xE0\x80\xAF \xED\xA0\x80 \xF4\x90\x80\x80 \xF0\x9F\x8E\xB8 end\xC3");
  seeds.add("marks", "Line one\nline two\n\n  \nStanza two, don't stop\r\nthe the a\n\nlast");
  seeds.add("urls", "visit http://x.example/a www.Example.com WWW.x and ftp://y or a:b");
  seeds.add("latin", "\xC3\x80\xC3\x89\xC3\x96 \xC4\xB0stanbul \xC5\xB8 \xC6\x81\xC8\xBA \xC3\x97\xC3\xB7");
}

void shard_seeds(const fs::path& out, const fs::path& scratch) {
  const SeedDir seeds(out, "shard");
  const data::Vocab vocab = small_vocab();
  data::ShardWriter shard(scratch / "shard.bin", 0, vocab.hash(), vocab.size(), 3);
  const std::vector<std::uint32_t> a{2, 3, 4, 2, 5}, b{1}, c{6, 7, 8, 2};
  const std::vector<data::LineMark> marks_a{data::make_mark(2, false), data::make_mark(4, true)};
  const std::vector<data::LineMark> marks_c{data::make_mark(1, false)};
  shard.add(1, 0, a, marks_a);
  shard.add(4, 2, b, {});
  shard.add(9, 1, c, marks_c);
  shard.finish();
  seeds.add_binary("three-songs", scratch / "shard.bin", {2});
  data::ShardWriter empty(scratch / "empty.bin", 3, vocab.hash(), vocab.size(), 1);
  empty.finish();
  seeds.add_binary("empty", scratch / "empty.bin");
}

void glove_seeds(const fs::path& out) {
  const SeedDir text(out, "glove_text");
  const std::string sample = read_text_file(kSource / "data/glove/glove.6B.100d.synth-subset.txt");
  text.add("sample-3-lines", head_lines(sample, 3));
  text.add("sample-12-lines", head_lines(sample, 12));
  text.add("small-dim", "the 0.418 0.24968 -0.41242\nlove -1e-40 1.1401 3.4e38\r\nnight 0 -0 2.5e+1\n");
  text.add("one-value", "a 1\nb -2.5\n");

  const SeedDir cache(out, "glove_cache");
  const auto& source = fuzz::glove_cache_source();
  cache.add_binary("entry", fuzz::scratch_dir() / "glove-cache-probe" / source.entry_name);
}

void config_seeds(const fs::path& out) {
  const SeedDir seeds(out, "config");
  for (const char* name : {"primary.yaml", "ablation.yaml", "demo.yaml", "full.yaml"})
    seeds.add(name, read_text_file(kSource / "configs" / name));
  seeds.add("overrides.yaml", read_text_file(kSource / "configs/primary.yaml") +
                                  "\n#--set\nmodel.hidden=64\ntrain.epochs=2\ncv.folds=3\n");
  // The resolved form a run folder keeps (every key).
  seeds.add("resolved.yaml", to_yaml(load_config(kSource / "configs/demo.yaml")));

  // Dictionary: every key the schema knows, whole and by its last part.
  std::set<std::string> entries;
  for (const std::string& line : split(describe_keys(), '\n')) {
    const std::string key(trim(line.substr(0, line.find(' '))));
    if (key.empty()) continue;
    entries.insert(key);
    entries.insert(key.substr(key.rfind('.') + 1) + ":");
  }
  for (const char* token : {": ", "\\x0a  ", "- ", "{}", "[]", "true", "false", "null", "~", "&a", "*a",
                            "!!str", "\\\"", "'", "\\x0a#--set\\x0a", "extends: ", "primary.yaml", "="})
    entries.insert(token);
  std::string dict = "# generated by lyre_fuzz_seeds from describe_keys()\n";
  for (const std::string& entry : entries) dict += fmt::format("\"{}\"\n", entry);
  write_text_file(out / "dicts" / "config.dict", dict);
}

void checkpoint_seeds(const fs::path& out, const fs::path& scratch) {
  const SeedDir seeds(out, "checkpoint");
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  auto random_vector = [&](std::size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = normal(rng);
    return v;
  };
  struct Variant {
    const char* name;
    ModelSpec spec;
    bool finished;
  };
  ModelSpec small;
  small.vocab_size = 9;
  small.embed_dim = 3;
  small.hidden = 4;
  small.attention_dim = 2;
  small.num_classes = 2;
  small.max_len = 8;
  ModelSpec bidirectional = small;
  bidirectional.bidirectional = true;
  bidirectional.layers = 2;
  bidirectional.attention = AttentionKind::none;
  bidirectional.pool = PoolKind::none;
  for (const Variant& v : {Variant{"small-running", small, false},
                           Variant{"bidir-finished", bidirectional, true}}) {
    const std::size_t n = ParamLayout(v.spec).total();
    FoldCheckpoint c;
    c.fold = 1;
    c.epochs_done = v.finished ? 3 : 1;
    c.next_batch = v.finished ? 0 : 2;
    c.finished = v.finished;
    c.epoch_counters.assign(metric_slots(v.spec.num_classes), 0.5);
    c.optimizer.params = random_vector(n);
    c.optimizer.m = random_vector(n);
    c.optimizer.v = random_vector(n);
    c.optimizer.step = 12;
    c.best_validation_loss = 0.69;
    c.best_epoch = 1;
    if (v.finished) c.best_params = random_vector(n);
    c.seconds = 1.5;
    c.history = nlohmann::json::array({{{"epoch", 1}, {"train_loss", 0.7}}});
    if (v.finished) c.test = {{"accuracy", 0.5}};
    const auto file = scratch / fmt::format("{}.bin", v.name);
    save_checkpoint(file, v.spec, 0x1234abcdull, c);
    seeds.add_binary(v.name, file);
  }
}

void prepared_seeds(const fs::path& out, const fs::path& scratch) {
  const SeedDir seeds(out, "prepared");
  const data::Vocab vocab = small_vocab();
  const auto dir = scratch / "prepared";
  fs::create_directories(dir);
  vocab.save(dir / "vocab.txt");

  data::Manifest manifest;
  manifest.name = "fuzz";
  manifest.vocab_digest = digest_file(dir / "vocab.txt");
  manifest.vocab_size = vocab.size();
  manifest.vocab_hash = vocab.hash();
  manifest.genres = {"Rock", "Pop", "Hip Hop"};
  manifest.songs = 3;
  manifest.tokens = 10;
  manifest.shards = {{"shard-0000.bin", 3, 10, 200}};
  manifest.save(dir);
  seeds.add("manifest", std::string(1, '\0') + read_text_file(dir / "manifest.yaml"));

  data::GloveVectors glove;
  glove.dim = 2;
  glove.words = {"love", "fire", "café"};
  glove.values = {0.1f, -0.2f, 0.3f, 0.4f, -1.5f, 2.0f};
  for (std::uint32_t i = 0; i < glove.words.size(); ++i) glove.index[glove.words[i]] = i;
  const data::EmbeddingMatrix matrix = data::build_embedding(glove, vocab);
  data::save_embedding(dir / "embedding.bin", matrix);
  manifest.embedding = data::EmbeddingEntry{"embedding.bin", 2, "glove.txt", matrix.vocab_coverage,
                                            matrix.token_coverage, digest_file(dir / "embedding.bin")};
  manifest.save(dir);
  seeds.add("manifest-embedding", std::string(1, '\0') + read_text_file(dir / "manifest.yaml"));

  seeds.add("vocab", std::string(1, '\1') + read_text_file(dir / "vocab.txt"));
  seeds.add("vocab-crlf", std::string(1, '\1') + "<pad>\t0\r\n<unk>\t3\r\nword\t2\r\n");
  // Selector 2: payload, the harness appends the trailer; 5 (bit 2): whole file.
  const std::string embedding = read_text_file(dir / "embedding.bin");
  seeds.add("embedding.payload", fuzz::payload_seed(embedding, 2));
  seeds.add("embedding.whole", std::string(1, '\5') + embedding);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    fuzz::quiet_logging();
    const fs::path out = argv[1];
    const fs::path scratch = fuzz::scratch_dir() / "seeds";
    fs::create_directories(scratch);
    csv_seeds(out, scratch);
    text_clean_seeds(out);
    shard_seeds(out, scratch);
    glove_seeds(out);
    config_seeds(out);
    checkpoint_seeds(out, scratch);
    prepared_seeds(out, scratch);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lyre_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
