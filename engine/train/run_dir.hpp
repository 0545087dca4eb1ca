// The run directory: everything a run leaves behind.
//
//   config.yaml            the resolved config (every key), what --resume reads
//   run.json               host, backend, device, model, corpus, start time
//   metrics.jsonl          one JSON line per (fold, epoch): train and validation metrics
//   folds/fold-K/          checkpoint.bin, confusion_test.csv
//   summary.json, summary.md   per-fold test metrics and mean ± std
//   vocab.txt, genres.txt  copies, so `lyre predict --run DIR` needs nothing else
//   report/index.html      curves and confusion heat maps (SVG), no external fetches
//   tensorboard/fold-K/events.out.tfevents.<unix time>.<host>
//                          the epoch metrics and learning rate as TensorBoard
//                          scalars, one file per fold, rewritten whole after each
//                          epoch and on resume (engine/report/tensorboard.hpp)
//   checksums.json         size and XXH3-64 of every file above that a later command
//                          reads (checkpoints carry their own checksum), so predict,
//                          report, --resume and merge never use a file that changed
//                          after it was written
// An ablation run holds one such directory per variant under variants/<name>/
// plus ablation.md, ablation.csv and ablation.json.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/config/config.hpp"

namespace lyre {

class RunDirectory {
 public:
  // <config.output>/<name>-<timestamp>, or `out` when given. An existing `out`
  // must be empty: a finished run is never overwritten (use --resume).
  static RunDirectory create(const ExperimentConfig& config, const std::filesystem::path& out);
  // An existing run (resume, predict, report): must hold config.yaml.
  static RunDirectory open(const std::filesystem::path& dir);
  // A folder shared by several cluster tasks (`--folds`): created if missing,
  // may already hold their files.
  static RunDirectory shared(const std::filesystem::path& dir);
  // This run folder as the ranks other than 0 of a data-parallel job see it:
  // they read it, rank 0 alone writes (every write here is skipped).
  static RunDirectory follow(const std::filesystem::path& dir);
  bool writes() const { return writer_; }
  // A variant's directory below an ablation run (created if missing).
  RunDirectory child(const std::string& name) const;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path fold_dir(int fold) const;
  std::filesystem::path checkpoint_path(int fold) const;

  // metrics.jsonl, appended line by line by every fold thread.
  void append_metrics(const nlohmann::json& line);
  // Rewrites metrics.jsonl from scratch (on resume, from the checkpoints).
  void rewrite_metrics(const std::vector<nlohmann::json>& lines);
  // Atomic writes of a file below the root (`name` may hold a sub-folder,
  // e.g. folds/fold-0/confusion_test.csv), recorded in checksums.json.
  void write_json(const std::string& name, const nlohmann::json& j) const;
  void write_text(const std::string& name, const std::string& text) const;
  // Records a file written another way (vocab.txt) in checksums.json.
  void record(const std::string& name) const;
  // Records those of `names` that exist but checksums.json does not list: a
  // process killed between writing a file and recording it leaves it so.
  // Every file is written whole (temporary file, fsync, rename), so what is
  // there is what was written.
  void record_unlisted(const std::vector<std::string>& names) const;

 private:
  explicit RunDirectory(std::filesystem::path root);
  std::filesystem::path root_;
  bool writer_ = true;
  std::shared_ptr<std::mutex> metrics_mutex_;
};

// An exclusive lock on <run>/.lock (flock) for the cluster tasks that share a
// run folder: joining it and deciding who writes the summary happen under it.
// Released on destruction, and by the kernel when the process dies.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Reads a run's metrics.jsonl (report, tests), verified when checksums.json
// lists it (a finished run).
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& run_dir);

// Checks files of a run folder against its checksums.json before they are read:
// InputError naming the file and the index when one is missing, truncated or
// corrupt. A file the index does not list yet (metrics.jsonl while the run is
// going on) is read as it is; a folder without an index (written by a Lyre
// before it kept one) is read with a warning.
void verify_run_files(const std::filesystem::path& run_dir,
                      std::initializer_list<std::string_view> names);

}  // namespace lyre
