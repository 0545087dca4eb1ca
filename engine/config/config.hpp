// The experiment config: one typed struct for every command, read from YAML
// through a strict schema.
//
// Strict means: an unknown key, a wrong type or a value out of range is an
// InputError that names the file, line and key ("configs/demo.yaml:12: unknown
// key 'model.hiden' (did you mean 'model.hidden'?)"). `--set key=value`
// overrides any key with the same checks. A config may `extends: other.yaml`
// (relative to the extending file); its keys are applied on top. Data paths in
// the config are relative to the current directory, as in most cluster tools.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lyre {

enum class DataSource { kaggle, synthetic };
enum class GenrePolicy { first, every, single };  // single: drop multi-genre artists
enum class Dedupe { rows, lyrics, none };         // rows: whole CSV row identical
enum class EmbeddingInit { glove, random };
enum class AttentionKind { additive, none };
enum class PoolKind { mean, none };
enum class BackendKind { automatic, cpu, cuda };
enum class Precision { fp32, tf32, bf16 };
enum class RnnAlgo { standard, persistent_static };

// Ranges of the model's shape keys. The schema enforces them on configs, and
// readers of stored models (checkpoints) refuse a shape outside them, so a
// corrupt file cannot make Lyre lay out millions of layers.
inline constexpr int kMaxEmbeddingDim = 4096;
inline constexpr int kMaxHidden = 4096;
inline constexpr int kMaxLayers = 8;
inline constexpr int kMaxAttentionDim = 8192;
inline constexpr int kMaxSongLength = 100'000;
enum class ClassBalance { none, class_weights, resample };
enum class DistBackend { automatic, none, mpi, nccl };

struct SyntheticConfig {
  std::int64_t songs = 6000;  // lyric rows written (all languages, junk included)
  std::uint64_t seed = 7;
};

struct GloveConfig {
  std::string path;       // GloVe text file; empty = no GloVe
  int dim = 100;          // expected vector dimension
  std::string cache_dir;  // empty = $LYRE_CACHE_DIR, else $XDG_CACHE_HOME/lyre, else ~/.cache/lyre
};

struct VocabConfig {
  std::int64_t min_count = 2;  // rarer words map to UNK
  std::int64_t max_size = 0;   // 0 = unlimited (PAD and UNK included in the limit)
};

struct DataConfig {
  DataSource source = DataSource::kaggle;
  std::string artists_csv;  // kaggle: path of artists-data.csv
  std::string lyrics_csv;   // kaggle: path of lyrics-data.csv
  SyntheticConfig synthetic;
  std::string language = "en";  // matched against `language` (en) or `Idiom` (ENGLISH)
  GenrePolicy genre_policy = GenrePolicy::first;
  Dedupe dedupe = Dedupe::rows;
  std::int64_t top_genres = 10;    // 0 = every genre
  std::int64_t per_genre = 2000;   // 0 = every song ("all" in YAML)
  bool remove_stopwords = true;
  VocabConfig vocab;
  std::int64_t shard_songs = 16384;  // songs per shard file
  GloveConfig glove;
  std::string prepared = "prepared";  // the prepared folder prepare writes and train reads
  std::uint64_t seed = 1234;          // balanced sampling
};

struct EmbeddingConfig {
  int dim = 100;
  EmbeddingInit init = EmbeddingInit::glove;  // falls back to random when no GloVe was prepared
  bool freeze = false;
};

struct ModelConfig {
  EmbeddingConfig embedding;
  int hidden = 128;
  int layers = 1;
  bool bidirectional = false;
  AttentionKind attention = AttentionKind::additive;
  int attention_dim = 0;  // 0 = hidden * directions
  PoolKind pool = PoolKind::mean;
  double dropout = 0.2;
  int max_len = 300;  // head truncation
};

struct OptimizerConfig {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient, as torch.optim.Adam
  double clip_norm = 0.0;     // global-norm clipping; 0 = off
};

struct EarlyStoppingConfig {
  int patience = 0;  // epochs without validation-loss improvement; 0 = off
  double min_delta = 0.0;
};

struct SplitConfig {  // single runs (cv.folds < 2)
  double validation = 0.1;
  double test = 0.1;
};

struct TrainConfig {
  BackendKind backend = BackendKind::automatic;
  int batch_size = 100;
  int epochs = 15;
  OptimizerConfig optimizer;
  EarlyStoppingConfig early_stopping;
  int bucket_window = 20;  // batches per length-sorted window; 1 = no bucketing
  SplitConfig split;
  int threads = 0;  // CPU threads; 0 = $OMP_NUM_THREADS if set, else all cores
  bool checkpoints = true;
  // Each batch's gradient as the sum of this many parts (contiguous slices of
  // the batch, summed in order): what R data-parallel ranks compute, so a
  // single process reproduces an R-rank run bit for bit on the CPU.
  int micro_batches = 1;
  // Unbalanced corpora (the full set): weight each class's loss by
  // N / (C * n_class) of the training split, or draw every epoch the same
  // number of training songs from each class.
  ClassBalance balance = ClassBalance::none;
};

struct CvConfig {
  int folds = 5;             // < 2: one train/validation/test run
  double validation = 0.1;   // share of each fold's training part used for validation
  bool concurrent = true;    // train all folds at once (CUDA: one stream each)
  // Folds this process trains (empty = all): cluster jobs run one fold per
  // task into a shared run folder; `lyre merge` or the last task summarizes.
  std::vector<int> folds_subset;
};

// Data-parallel training over several processes (ranks): each computes the
// gradient of its slice of every batch, the slices' gradients are summed and
// every rank takes the same Adam step.
struct DistConfig {
  DistBackend backend = DistBackend::automatic;  // auto: MPI when launched by mpirun/srun
  double timeout_s = 600;  // longest wait for the other ranks before giving up
};

struct CudaConfig {
  int device = 0;
  Precision precision = Precision::fp32;
  RnnAlgo rnn_algo = RnnAlgo::standard;
  std::int64_t memory_budget_mb = 0;  // corpus on device up to this; 0 = whole corpus
  bool deterministic = true;          // sorted-segment embedding backward, no float atomics
};

struct AblationVariant {
  std::string name;
  std::string description;
  std::vector<std::pair<std::string, std::string>> overrides;  // dotted key -> YAML value
};

struct ExperimentConfig {
  std::string name = "experiment";
  std::uint64_t seed = 42;
  std::string output = "runs";  // run directories are created below this
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  CvConfig cv;
  CudaConfig cuda;
  DistConfig dist;
  std::vector<AblationVariant> ablation;

  std::filesystem::path source_file;  // where it was read from (not a key)
};

// Reads `path` (following `extends:`), applies `overrides` ("key=value"),
// validates. Throws InputError naming the file:line and key on any problem.
ExperimentConfig load_config(const std::filesystem::path& path,
                             const std::vector<std::string>& overrides = {});

// Same from YAML text (tests, `--set` on a resolved config).
ExperimentConfig parse_config(const std::string& yaml_text, const std::string& source_name,
                              const std::vector<std::string>& overrides = {});

// Applies "key=value" overrides to an existing config (ablation variants).
void apply_overrides(ExperimentConfig& config,
                     const std::vector<std::pair<std::string, std::string>>& overrides,
                     const std::string& origin);

// The whole config with every value resolved, as YAML that load_config reads back.
std::string to_yaml(const ExperimentConfig& config);

// Every known key with its type and help text (for `lyre config --keys`).
std::string describe_keys();

// Names for messages and reports.
const char* to_string(AttentionKind kind);
const char* to_string(PoolKind kind);
const char* to_string(BackendKind kind);
const char* to_string(Precision precision);
const char* to_string(ClassBalance balance);

}  // namespace lyre
