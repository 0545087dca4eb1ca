#include "engine/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <set>

#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/strings.hpp"

namespace lyre {
namespace {

// Where a value came from, for messages: "configs/demo.yaml:12" or
// "--set model.hidden=abc".
struct Origin {
  std::string text;
};

Origin origin_of(const std::string& file, const YAML::Node& node) {
  if (node.Mark().is_null()) return {file};
  return {fmt::format("{}:{}", file, node.Mark().line + 1)};
}

// The name of a mapping key. YAML allows any node as a key ("? [a, b]: 1",
// "? {a: 1}", an empty "? "); a config's keys are plain names, and yaml-cpp's
// own conversion would throw its bad-conversion error instead of ours.
std::string key_name(const std::string& file, const YAML::Node& key) {
  if (!key.IsScalar())
    fail_input("{}: a key must be a plain name, found {}", origin_of(file, key).text,
               key.IsMap() ? "a mapping" : key.IsSequence() ? "a list" : "an empty key");
  return key.Scalar();
}

[[noreturn]] void bad_value(const Origin& at, const std::string& key, const std::string& expected,
                            const YAML::Node& node) {
  std::string got = node.IsScalar() ? "'" + node.Scalar() + "'"
                    : node.IsMap()  ? "a mapping"
                    : node.IsSequence() ? "a list"
                                        : "nothing";
  fail_input("{}: key '{}' expects {}, got {}", at.text, key, expected, got);
}

std::string scalar_of(const Origin& at, const std::string& key, const std::string& expected,
                      const YAML::Node& node) {
  if (!node.IsScalar()) bad_value(at, key, expected, node);
  return node.Scalar();
}

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// One key of the schema: how to read it into the struct and write it back.
struct Field {
  std::string key;
  std::string expected;  // "an integer in [1, 4096]"
  std::string help;
  std::function<void(ExperimentConfig&, const YAML::Node&, const Origin&)> read;
  std::function<YAML::Node(const ExperimentConfig&)> write;
};

template <typename T, typename Access>
Field integer(std::string key, Access access, T lo, T hi, std::string help) {
  const std::string expected = fmt::format("an integer in [{}, {}]", lo, hi);
  return Field{
      key, expected, std::move(help),
      [=](ExperimentConfig& c, const YAML::Node& node, const Origin& at) {
        const auto text = scalar_of(at, key, expected, node);
        const auto value = parse_number<T>(text);
        if (!value || *value < lo || *value > hi) bad_value(at, key, expected, node);
        access(c) = *value;
      },
      [=](const ExperimentConfig& c) {
        return YAML::Node(std::to_string(access(const_cast<ExperimentConfig&>(c))));
      }};
}

// Integers where 0 means "no limit" and YAML may also say `all`.
template <typename Access>
Field count_or_all(std::string key, Access access, std::int64_t hi, std::string help) {
  const std::string expected = fmt::format("'all' or an integer in [1, {}]", hi);
  return Field{
      key, expected, std::move(help),
      [=](ExperimentConfig& c, const YAML::Node& node, const Origin& at) {
        const auto text = scalar_of(at, key, expected, node);
        if (text == "all") {
          access(c) = 0;
          return;
        }
        const auto value = parse_number<std::int64_t>(text);
        if (!value || *value < 1 || *value > hi) bad_value(at, key, expected, node);
        access(c) = *value;
      },
      [=](const ExperimentConfig& c) {
        const auto v = access(const_cast<ExperimentConfig&>(c));
        return YAML::Node(v == 0 ? std::string("all") : std::to_string(v));
      }};
}

template <typename Access>
Field real(std::string key, Access access, double lo, double hi, std::string help,
           bool open_low = false) {
  const std::string expected =
      fmt::format("a number in {}{}, {}]", open_low ? "(" : "[", lo, hi);
  return Field{
      key, expected, std::move(help),
      [=](ExperimentConfig& c, const YAML::Node& node, const Origin& at) {
        const auto text = scalar_of(at, key, expected, node);
        const auto value = parse_number<double>(text);
        if (!value || *value < lo || *value > hi || (open_low && *value == lo))
          bad_value(at, key, expected, node);
        access(c) = *value;
      },
      [=](const ExperimentConfig& c) {
        return YAML::Node(fmt::format("{}", access(const_cast<ExperimentConfig&>(c))));
      }};
}

template <typename Access>
Field boolean(std::string key, Access access, std::string help) {
  const std::string expected = "true or false";
  return Field{
      key, expected, std::move(help),
      [=](ExperimentConfig& c, const YAML::Node& node, const Origin& at) {
        const auto text = scalar_of(at, key, expected, node);
        if (text == "true" || text == "yes" || text == "on") {
          access(c) = true;
        } else if (text == "false" || text == "no" || text == "off") {
          access(c) = false;
        } else {
          bad_value(at, key, expected, node);
        }
      },
      [=](const ExperimentConfig& c) {
        return YAML::Node(access(const_cast<ExperimentConfig&>(c)) ? "true" : "false");
      }};
}

template <typename Access>
Field text(std::string key, Access access, std::string help) {
  const std::string expected = "a string";
  return Field{
      key, expected, std::move(help),
      [=](ExperimentConfig& c, const YAML::Node& node, const Origin& at) {
        if (node.IsNull()) {
          access(c).clear();
          return;
        }
        access(c) = scalar_of(at, key, expected, node);
      },
      [=](const ExperimentConfig& c) {
        return YAML::Node(access(const_cast<ExperimentConfig&>(c)));
      }};
}

template <typename E, typename Access>
Field choice(std::string key, Access access, std::vector<std::pair<std::string, E>> names,
             std::string help) {
  std::vector<std::string> options;
  for (const auto& [name, value] : names) options.push_back(name);
  const std::string expected = "one of " + join(options, " | ");
  return Field{
      key, expected, std::move(help),
      [=](ExperimentConfig& c, const YAML::Node& node, const Origin& at) {
        const auto text = scalar_of(at, key, expected, node);
        for (const auto& [name, value] : names) {
          if (text == name) {
            access(c) = value;
            return;
          }
        }
        bad_value(at, key, expected, node);
      },
      [=](const ExperimentConfig& c) {
        const E value = access(const_cast<ExperimentConfig&>(c));
        for (const auto& [name, v] : names)
          if (v == value) return YAML::Node(name);
        return YAML::Node("?");
      }};
}

// A list of integers in [lo, hi]: a YAML list, or one comma-separated scalar
// ("0,3", as --set and --folds give it); empty means "all".
template <typename Access>
Field int_list(std::string key, Access access, int lo, int hi, std::string help) {
  const std::string expected = fmt::format("a list of distinct integers in [{}, {}]", lo, hi);
  return Field{
      key, expected, std::move(help),
      [=](ExperimentConfig& c, const YAML::Node& node, const Origin& at) {
        std::vector<std::string> items;
        if (node.IsNull()) {
        } else if (node.IsSequence()) {
          for (const auto& item : node) items.push_back(scalar_of(at, key, expected, item));
        } else {
          for (auto& part : split(scalar_of(at, key, expected, node), ','))
            if (!trim(part).empty()) items.emplace_back(trim(part));
        }
        std::vector<int> values;
        for (const auto& item : items) {
          const auto value = parse_number<int>(item);
          if (!value || *value < lo || *value > hi ||
              std::find(values.begin(), values.end(), *value) != values.end())
            fail_input("{}: key '{}' expects {}, got '{}'", at.text, key, expected, item);
          values.push_back(*value);
        }
        std::sort(values.begin(), values.end());
        access(c) = values;
      },
      [=](const ExperimentConfig& c) {
        YAML::Node list(YAML::NodeType::Sequence);
        list.SetStyle(YAML::EmitterStyle::Flow);
        for (const int v : access(const_cast<ExperimentConfig&>(c))) list.push_back(std::to_string(v));
        return list;
      }};
}

#define LYRE_FIELD(member) [](ExperimentConfig& c) -> auto& { return c.member; }

const std::vector<Field>& schema() {
  static const std::vector<Field> fields = [] {
    constexpr auto big = std::numeric_limits<std::int64_t>::max();
    constexpr auto any_seed = std::numeric_limits<std::uint64_t>::max();
    std::vector<Field> f;
    f.push_back(text("name", LYRE_FIELD(name), "experiment name, used in run-directory names"));
    f.push_back(integer<std::uint64_t>("seed", LYRE_FIELD(seed), 0, any_seed,
                                       "seed of every random choice in training"));
    f.push_back(text("output", LYRE_FIELD(output), "folder below which run directories go"));

    f.push_back(choice<DataSource>("data.source", LYRE_FIELD(data.source),
                                   {{"kaggle", DataSource::kaggle},
                                    {"synthetic", DataSource::synthetic}},
                                   "Kaggle CSV files, or the built-in synthetic corpus"));
    f.push_back(text("data.artists_csv", LYRE_FIELD(data.artists_csv), "artists-data.csv"));
    f.push_back(text("data.lyrics_csv", LYRE_FIELD(data.lyrics_csv), "lyrics-data.csv"));
    f.push_back(integer<std::int64_t>("data.synthetic.songs", LYRE_FIELD(data.synthetic.songs), 1,
                                      50'000'000, "lyric rows the synthetic corpus writes"));
    f.push_back(integer<std::uint64_t>("data.synthetic.seed", LYRE_FIELD(data.synthetic.seed), 0,
                                       any_seed, "seed of the synthetic corpus"));
    f.push_back(text("data.language", LYRE_FIELD(data.language),
                     "language kept: 'en' matches language=en and Idiom=ENGLISH"));
    f.push_back(choice<GenrePolicy>("data.genre_policy", LYRE_FIELD(data.genre_policy),
                                    {{"first", GenrePolicy::first},
                                     {"every", GenrePolicy::every},
                                     {"single", GenrePolicy::single}},
                                    "a song's genre: its artist's first listed genre, one sample "
                                    "per listed genre, or only single-genre artists"));
    f.push_back(choice<Dedupe>("data.dedupe", LYRE_FIELD(data.dedupe),
                               {{"rows", Dedupe::rows}, {"lyrics", Dedupe::lyrics},
                                {"none", Dedupe::none}},
                               "drop exact duplicate rows, or duplicate lyric texts"));
    f.push_back(count_or_all("data.top_genres", LYRE_FIELD(data.top_genres), 10'000,
                             "keep the K genres with most songs"));
    f.push_back(count_or_all("data.per_genre", LYRE_FIELD(data.per_genre), big,
                             "songs sampled per genre (balanced), or all"));
    f.push_back(boolean("data.remove_stopwords", LYRE_FIELD(data.remove_stopwords),
                        "drop English stopwords (data/stopwords_en.txt)"));
    f.push_back(integer<std::int64_t>("data.vocab.min_count", LYRE_FIELD(data.vocab.min_count), 1,
                                      big, "words seen fewer times become UNK"));
    f.push_back(integer<std::int64_t>("data.vocab.max_size", LYRE_FIELD(data.vocab.max_size), 0,
                                      big, "largest vocabulary incl. PAD and UNK; 0 = no limit"));
    f.push_back(integer<std::int64_t>("data.shard_songs", LYRE_FIELD(data.shard_songs), 1,
                                      100'000'000, "songs per shard file"));
    f.push_back(text("data.glove.path", LYRE_FIELD(data.glove.path),
                     "GloVe text file (empty: no GloVe)"));
    f.push_back(integer<int>("data.glove.dim", LYRE_FIELD(data.glove.dim), 1, 4096,
                             "dimension of the GloVe vectors"));
    f.push_back(text("data.glove.cache_dir", LYRE_FIELD(data.glove.cache_dir),
                     "binary GloVe cache folder (empty: ~/.cache/lyre)"));
    f.push_back(text("data.prepared", LYRE_FIELD(data.prepared),
                     "prepared folder: written by prepare, read by train"));
    f.push_back(integer<std::uint64_t>("data.seed", LYRE_FIELD(data.seed), 0, any_seed,
                                       "seed of the balanced sampling"));

    f.push_back(integer<int>("model.embedding.dim", LYRE_FIELD(model.embedding.dim), 1, kMaxEmbeddingDim,
                             "embedding width"));
    f.push_back(choice<EmbeddingInit>("model.embedding.init", LYRE_FIELD(model.embedding.init),
                                      {{"glove", EmbeddingInit::glove},
                                       {"random", EmbeddingInit::random}},
                                      "GloVe vectors (missing words random) or all random"));
    f.push_back(boolean("model.embedding.freeze", LYRE_FIELD(model.embedding.freeze),
                        "keep the embedding fixed"));
    f.push_back(integer<int>("model.hidden", LYRE_FIELD(model.hidden), 1, kMaxHidden,
                             "LSTM hidden size"));
    f.push_back(integer<int>("model.layers", LYRE_FIELD(model.layers), 1, kMaxLayers, "LSTM layers"));
    f.push_back(boolean("model.bidirectional", LYRE_FIELD(model.bidirectional),
                        "bidirectional LSTM"));
    f.push_back(choice<AttentionKind>("model.attention", LYRE_FIELD(model.attention),
                                      {{"additive", AttentionKind::additive},
                                       {"none", AttentionKind::none}},
                                      "additive attention over the LSTM outputs"));
    f.push_back(integer<int>("model.attention_dim", LYRE_FIELD(model.attention_dim), 0, kMaxAttentionDim,
                             "attention width; 0 = LSTM output width"));
    f.push_back(choice<PoolKind>("model.pool", LYRE_FIELD(model.pool),
                                 {{"mean", PoolKind::mean}, {"none", PoolKind::none}},
                                 "global average pooling, or none"));
    f.push_back(real("model.dropout", LYRE_FIELD(model.dropout), 0.0, 0.95,
                     "dropout on the pooled vector"));
    f.push_back(integer<int>("model.max_len", LYRE_FIELD(model.max_len), 1, kMaxSongLength,
                             "tokens kept per song (head)"));

    f.push_back(choice<BackendKind>("train.backend", LYRE_FIELD(train.backend),
                                    {{"auto", BackendKind::automatic},
                                     {"cpu", BackendKind::cpu},
                                     {"cuda", BackendKind::cuda}},
                                    "auto picks CUDA when a device exists"));
    f.push_back(integer<int>("train.batch_size", LYRE_FIELD(train.batch_size), 1, 65'536,
                             "songs per batch"));
    f.push_back(integer<int>("train.epochs", LYRE_FIELD(train.epochs), 1, 100'000, "epochs"));
    f.push_back(real("train.optimizer.lr", LYRE_FIELD(train.optimizer.lr), 0.0, 10.0,
                     "Adam learning rate", true));
    f.push_back(real("train.optimizer.beta1", LYRE_FIELD(train.optimizer.beta1), 0.0, 0.999999,
                     "Adam beta1"));
    f.push_back(real("train.optimizer.beta2", LYRE_FIELD(train.optimizer.beta2), 0.0, 0.999999,
                     "Adam beta2"));
    f.push_back(real("train.optimizer.eps", LYRE_FIELD(train.optimizer.eps), 0.0, 1.0,
                     "Adam epsilon", true));
    f.push_back(real("train.optimizer.weight_decay", LYRE_FIELD(train.optimizer.weight_decay), 0.0,
                     1.0, "L2 penalty added to the gradient"));
    f.push_back(real("train.optimizer.clip_norm", LYRE_FIELD(train.optimizer.clip_norm), 0.0, 1e6,
                     "global gradient-norm clip; 0 = off"));
    f.push_back(integer<int>("train.early_stopping.patience",
                             LYRE_FIELD(train.early_stopping.patience), 0, 100'000,
                             "stop after N epochs without validation-loss gain; 0 = off"));
    f.push_back(real("train.early_stopping.min_delta", LYRE_FIELD(train.early_stopping.min_delta),
                     0.0, 1e6, "smallest loss decrease that counts as a gain"));
    f.push_back(integer<int>("train.bucket_window", LYRE_FIELD(train.bucket_window), 1, 1'000'000,
                             "batches per length-sorted window (1 = no bucketing)"));
    f.push_back(real("train.split.validation", LYRE_FIELD(train.split.validation), 0.0, 0.9,
                     "single run: validation share", true));
    f.push_back(real("train.split.test", LYRE_FIELD(train.split.test), 0.0, 0.9,
                     "single run: test share", true));
    f.push_back(integer<int>("train.threads", LYRE_FIELD(train.threads), 0, 4096,
                             "CPU threads; 0 = $OMP_NUM_THREADS if set, else all cores"));
    f.push_back(boolean("train.checkpoints", LYRE_FIELD(train.checkpoints),
                        "write a checkpoint every epoch"));
    f.push_back(integer<int>("train.micro_batches", LYRE_FIELD(train.micro_batches), 1, 4096,
                             "each batch's gradient summed over this many slices (what as many "
                             "data-parallel ranks compute)"));
    f.push_back(choice<ClassBalance>("train.balance", LYRE_FIELD(train.balance),
                                     {{"none", ClassBalance::none},
                                      {"class_weights", ClassBalance::class_weights},
                                      {"resample", ClassBalance::resample}},
                                     "unbalanced corpora: weight the loss by N/(C n_class), or "
                                     "draw each epoch equally many songs per class"));

    f.push_back(integer<int>("cv.folds", LYRE_FIELD(cv.folds), 0, 100,
                             "k-fold cross-validation; 0 or 1 = one train/validation/test run"));
    f.push_back(real("cv.validation", LYRE_FIELD(cv.validation), 0.0, 0.9,
                     "share of each fold's training songs held out for validation", true));
    f.push_back(boolean("cv.concurrent", LYRE_FIELD(cv.concurrent), "train all folds at once"));
    f.push_back(int_list("cv.folds_subset", LYRE_FIELD(cv.folds_subset), 0, 99,
                         "folds this process trains (empty: all); `lyre merge` summarizes"));

    f.push_back(choice<DistBackend>("dist.backend", LYRE_FIELD(dist.backend),
                                    {{"auto", DistBackend::automatic},
                                     {"none", DistBackend::none},
                                     {"mpi", DistBackend::mpi},
                                     {"nccl", DistBackend::nccl}},
                                    "data-parallel ranks: auto = MPI (CPU) or NCCL (CUDA) when "
                                    "launched by mpirun or srun with several ranks"));
    f.push_back(real("dist.timeout_s", LYRE_FIELD(dist.timeout_s), 0.0, 1e7,
                     "seconds to wait for the other ranks before giving up", true));

    f.push_back(integer<int>("cuda.device", LYRE_FIELD(cuda.device), 0, 1024, "CUDA device"));
    f.push_back(choice<Precision>("cuda.precision", LYRE_FIELD(cuda.precision),
                                  {{"fp32", Precision::fp32},
                                   {"tf32", Precision::tf32},
                                   {"bf16", Precision::bf16}},
                                  "matrix-product precision (accumulation is always fp32)"));
    f.push_back(choice<RnnAlgo>("cuda.rnn_algo", LYRE_FIELD(cuda.rnn_algo),
                                {{"standard", RnnAlgo::standard},
                                 {"persistent_static", RnnAlgo::persistent_static}},
                                "cuDNN RNN algorithm"));
    f.push_back(integer<std::int64_t>("cuda.memory_budget_mb", LYRE_FIELD(cuda.memory_budget_mb),
                                      0, big, "corpus kept on the device up to this; 0 = all"));
    f.push_back(boolean("cuda.deterministic", LYRE_FIELD(cuda.deterministic),
                        "bitwise reproducible kernels (no float atomics)"));
    return f;
  }();
  return fields;
}

#undef LYRE_FIELD

const Field* find_field(std::string_view key) {
  for (const auto& f : schema())
    if (f.key == key) return &f;
  return nullptr;
}

// "data", "data.glove", "model.embedding", ...: keys that hold mappings.
const std::set<std::string>& sections() {
  static const std::set<std::string> s = [] {
    std::set<std::string> out;
    for (const auto& f : schema()) {
      for (auto dot = f.key.find('.'); dot != std::string::npos; dot = f.key.find('.', dot + 1))
        out.insert(f.key.substr(0, dot));
    }
    return out;
  }();
  return s;
}

std::vector<std::string> keys_under(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& f : schema())
    if (prefix.empty() || f.key.starts_with(prefix + ".")) out.push_back(f.key);
  for (const auto& s : sections())
    if (prefix.empty() || s.starts_with(prefix + ".")) out.push_back(s);
  if (prefix.empty()) {
    out.emplace_back("extends");
    out.emplace_back("ablation");
  }
  return out;
}

[[noreturn]] void unknown_key(const std::string& at, const std::string& key,
                              const std::string& prefix) {
  const auto candidates = keys_under(prefix);
  const auto suggestion = closest_match(key, candidates);
  fail_input("{}: unknown key '{}'{}", at, key,
             suggestion.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", suggestion));
}

void read_ablation(ExperimentConfig& config, const YAML::Node& node, const std::string& file);

// Applies one YAML mapping onto the config, checking every key.
void apply_tree(ExperimentConfig& config, const YAML::Node& node, const std::string& prefix,
                const std::string& file) {
  if (!node.IsMap()) {
    const auto at = origin_of(file, node);
    if (prefix.empty()) fail_input("{}: a config must be a YAML mapping of keys", at.text);
    fail_input("{}: key '{}' must hold a mapping of keys", at.text, prefix);
  }
  for (const auto& item : node) {
    const auto name = key_name(file, item.first);
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const auto at = origin_of(file, item.first);
    if (prefix.empty() && name == "extends") continue;  // handled by the loader
    if (prefix.empty() && name == "ablation") {
      read_ablation(config, item.second, file);
      continue;
    }
    if (const Field* field = find_field(key)) {
      field->read(config, item.second, origin_of(file, item.second.IsNull() ? item.first : item.second));
    } else if (sections().contains(key)) {
      apply_tree(config, item.second, key, file);
    } else {
      unknown_key(at.text, key, prefix);
    }
  }
}

void apply_one_override(ExperimentConfig& config, const std::string& key,
                        const std::string& value, const std::string& origin) {
  const Field* field = find_field(key);
  if (!field) unknown_key(origin, key, "");
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    fail_input("{}: value '{}' for key '{}' is not valid YAML: {}", origin, value, key, e.msg);
  }
  field->read(config, node, Origin{origin});
}

void read_ablation(ExperimentConfig& config, const YAML::Node& node, const std::string& file) {
  const auto at = origin_of(file, node);
  if (!node.IsSequence())
    fail_input("{}: 'ablation' must be a list of variants (each with name and set)", at.text);
  config.ablation.clear();
  std::set<std::string> names;
  for (const auto& item : node) {
    const auto item_at = origin_of(file, item);
    if (!item.IsMap()) fail_input("{}: each ablation variant must be a mapping", item_at.text);
    AblationVariant variant;
    for (const auto& kv : item) {
      const auto k = key_name(file, kv.first);
      const auto kv_at = origin_of(file, kv.first);
      if (k == "name") {
        if (!kv.second.IsScalar()) fail_input("{}: ablation 'name' must be a string", kv_at.text);
        variant.name = kv.second.Scalar();
      } else if (k == "description") {
        if (!kv.second.IsScalar())
          fail_input("{}: ablation 'description' must be a string", kv_at.text);
        variant.description = kv.second.Scalar();
      } else if (k == "set") {
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsMap())
          fail_input("{}: ablation 'set' must map dotted keys to values", kv_at.text);
        for (const auto& o : kv.second) {
          const auto okey = key_name(file, o.first);
          const auto o_at = origin_of(file, o.first);
          if (!find_field(okey)) unknown_key(o_at.text, okey, "");
          if (okey.starts_with("data."))
            fail_input("{}: ablation variants share one prepared corpus; '{}' cannot vary",
                       o_at.text, okey);
          if (!o.second.IsScalar())
            fail_input("{}: ablation override '{}' must be a single value", o_at.text, okey);
          // Check the value now, on a scratch copy, so a typo fails at load time.
          ExperimentConfig scratch;
          find_field(okey)->read(scratch, o.second, origin_of(file, o.second));
          variant.overrides.emplace_back(okey, o.second.Scalar());
        }
      } else {
        fail_input("{}: unknown key '{}' in an ablation variant (expected name, description, set)",
                   kv_at.text, k);
      }
    }
    if (variant.name.empty()) fail_input("{}: an ablation variant needs a 'name'", item_at.text);
    if (!names.insert(variant.name).second)
      fail_input("{}: ablation variant name '{}' is used twice", item_at.text, variant.name);
    config.ablation.push_back(std::move(variant));
  }
}

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail_input("config file {} does not exist", path.string());
  // A folder (`extends: .`, an empty `extends:`) made yaml-cpp's stream throw
  // a bare I/O error, and a FIFO or /dev/stdin would block: configs are files.
  if (!std::filesystem::is_regular_file(path))
    fail_input("config file {} is not a regular file", path.string());
  try {
    return YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    fail_input("{}:{}: invalid YAML: {}", path.string(), e.mark.line + 1, e.msg);
  }
}

void apply_file(ExperimentConfig& config, const std::filesystem::path& path,
                std::vector<std::filesystem::path>& chain) {
  const auto canonical = std::filesystem::weakly_canonical(path);
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end())
    fail_input("{}: 'extends' forms a cycle", path.string());
  chain.push_back(canonical);
  const YAML::Node root = load_yaml_file(path);
  if (root.IsNull()) return;  // an empty file is an empty mapping
  if (root.IsMap() && root["extends"]) {
    const auto ext = root["extends"];
    if (!ext.IsScalar())
      fail_input("{}: 'extends' must name one config file",
                 origin_of(path.string(), ext).text);
    apply_file(config, path.parent_path() / ext.Scalar(), chain);
  }
  apply_tree(config, root, "", path.string());
}

std::pair<std::string, std::string> split_override(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    fail_input("--set {}: expected key=value (for example --set model.hidden=64)", text);
  return {std::string(trim(text.substr(0, eq))), text.substr(eq + 1)};
}

void validate(const ExperimentConfig& c, const std::string& file) {
  if (c.train.split.validation + c.train.split.test >= 0.95)
    fail_input("{}: train.split.validation + train.split.test must leave songs for training", file);
  if (c.name.empty()) fail_input("{}: key 'name' must not be empty", file);
  for (const int f : c.cv.folds_subset)
    if (f >= std::max(c.cv.folds, 1))
      fail_input("{}: cv.folds_subset names fold {}, but cv.folds = {} gives folds 0..{}", file, f,
                 c.cv.folds, std::max(c.cv.folds, 1) - 1);
  if (c.train.micro_batches > c.train.batch_size)
    fail_input("{}: train.micro_batches = {} exceeds train.batch_size = {}: every micro-batch needs "
               "a song",
               file, c.train.micro_batches, c.train.batch_size);
  for (char ch : c.name) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
      fail_input("{}: key 'name' may hold only letters, digits, '-', '_' and '.' (it names "
                 "folders), got '{}'",
                 file, c.name);
  }
}

void apply_overrides_from_strings(ExperimentConfig& config, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    const auto [key, value] = split_override(o);
    apply_one_override(config, key, value, "--set " + o);
  }
}

}  // namespace

ExperimentConfig load_config(const std::filesystem::path& path,
                             const std::vector<std::string>& overrides) {
  ExperimentConfig config;
  std::vector<std::filesystem::path> chain;
  apply_file(config, path, chain);
  apply_overrides_from_strings(config, overrides);
  config.source_file = path;
  validate(config, path.string());
  return config;
}

ExperimentConfig parse_config(const std::string& yaml_text, const std::string& source_name,
                              const std::vector<std::string>& overrides) {
  ExperimentConfig config;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail_input("{}:{}: invalid YAML: {}", source_name, e.mark.line + 1, e.msg);
  }
  if (root.IsMap() && root["extends"])
    fail_input("{}: 'extends' needs a config file, not inline text", source_name);
  if (!root.IsNull()) apply_tree(config, root, "", source_name);
  apply_overrides_from_strings(config, overrides);
  config.source_file = source_name;
  validate(config, source_name);
  return config;
}

void apply_overrides(ExperimentConfig& config,
                     const std::vector<std::pair<std::string, std::string>>& overrides,
                     const std::string& origin) {
  for (const auto& [key, value] : overrides)
    apply_one_override(config, key, value, fmt::format("{} ({}={})", origin, key, value));
  validate(config, origin);
}

std::string to_yaml(const ExperimentConfig& config) {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& field : schema()) {
    const auto parts = split(field.key, '.');
    // yaml-cpp nodes are handles: walk down by reassigning a copy.
    std::vector<YAML::Node> path{root};
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      YAML::Node child = path.back()[parts[i]];
      if (!child.IsDefined() || child.IsNull()) {
        path.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
        child = path.back()[parts[i]];
      }
      path.push_back(child);
    }
    path.back()[parts.back()] = field.write(config);
  }
  if (!config.ablation.empty()) {
    YAML::Node variants(YAML::NodeType::Sequence);
    for (const auto& v : config.ablation) {
      YAML::Node item(YAML::NodeType::Map);
      item["name"] = v.name;
      if (!v.description.empty()) item["description"] = v.description;
      YAML::Node set(YAML::NodeType::Map);
      for (const auto& [k, value] : v.overrides) set[k] = value;
      item["set"] = set;
      variants.push_back(item);
    }
    root["ablation"] = variants;
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::string describe_keys() {
  std::string out;
  for (const auto& f : schema())
    out += fmt::format("{:34} {:40} {}\n", f.key, f.expected, f.help);
  out += fmt::format("{:34} {:40} {}\n", "extends", "a config file",
                     "apply that file first (path relative to this one)");
  out += fmt::format("{:34} {:40} {}\n", "ablation", "a list of {name, description, set}",
                     "variants for `lyre ablate`");
  return out;
}

const char* to_string(AttentionKind kind) {
  return kind == AttentionKind::additive ? "additive" : "none";
}
const char* to_string(PoolKind kind) { return kind == PoolKind::mean ? "mean" : "none"; }
const char* to_string(BackendKind kind) {
  switch (kind) {
    case BackendKind::automatic: return "auto";
    case BackendKind::cpu: return "cpu";
    case BackendKind::cuda: return "cuda";
  }
  return "?";
}
const char* to_string(Precision precision) {
  switch (precision) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

const char* to_string(ClassBalance balance) {
  switch (balance) {
    case ClassBalance::none: return "none";
    case ClassBalance::class_weights: return "class_weights";
    case ClassBalance::resample: return "resample";
  }
  return "?";
}

}  // namespace lyre
