// TensorBoard event files: each fold's per-epoch metrics as scalars in
// TensorBoard's own format (TFRecord-framed `tensorflow.Event` protobufs), so
// `tensorboard --logdir <run>/tensorboard` plots a run while it trains, with
// no TensorFlow or Python on the training machine.
//
// Layout: <run>/tensorboard/fold-K/events.out.tfevents.<unix time>.<host>,
// one file per fold (TensorBoard shows each folder as a run). One record per
// epoch, step = epoch (from 1, as metrics.jsonl counts), holding
// train/<metric>, validation/<metric> (kEpochMetrics) and learning_rate.
//
// Consistency: a fold's file is never appended to. After every epoch, and on
// --resume or a fold task's restart from the fold's checkpoint, it is
// rewritten whole from the fold's history (the lines metrics.jsonl gets),
// staged under a name TensorBoard ignores and renamed into place. A process
// killed at any moment leaves the old complete file or the new one, never a
// torn or duplicated record, and a resumed fold's file holds exactly the
// epochs of its checkpoint. Each line keeps the time its epoch ended
// (`ended_unix_seconds`), so a rewrite reproduces the earlier records byte for
// byte and a TensorBoard reading the file live sees it grow.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace lyre {

class RunDirectory;

namespace tensorboard {

// The metrics of a metrics.jsonl line's "train" and "validation" objects that
// become scalars.
inline constexpr std::array<std::string_view, 7> kEpochMetrics = {
    "loss",         "accuracy",           "macro_precision", "macro_recall",
    "macro_f1",     "threshold_precision", "threshold_recall"};

// CRC-32C (Castagnoli), the checksum TFRecord framing uses.
std::uint32_t crc32c(std::string_view bytes);
// The masked form TFRecord stores, ((crc >> 15) | (crc << 17)) + 0xa282ead8,
// so a CRC computed over data that embeds CRCs stays meaningful.
std::uint32_t masked_crc32c(std::string_view bytes);
// Appends one TFRecord to `out`: u64 length, masked CRC-32C of those 8 bytes,
// the data, masked CRC-32C of the data (all little-endian).
void append_record(std::string& out, std::string_view data);

struct Scalar {
  std::string tag;
  float value = 0;
};

// Serialized `tensorflow.Event`s: the file-version event an event file starts
// with ("brain.Event:2"), and one step's scalars (a Summary of simple_values).
std::string file_version_event(double wall_time);
std::string scalars_event(double wall_time, std::int64_t step, std::span<const Scalar> scalars);

// The scalars of one metrics.jsonl line.
std::vector<Scalar> epoch_scalars(const nlohmann::json& line, double learning_rate);
// The whole event file of a fold: the file-version record, then one record
// per line of `history` (the fold's metrics lines in epoch order).
std::string fold_event_file(const std::vector<nlohmann::json>& history, double learning_rate);

// <run>/tensorboard/fold-K
std::filesystem::path fold_event_dir(const std::filesystem::path& run_root, int fold);

// Makes fold K's event folder hold exactly one event file with `history`
// (none while history is empty). Keeps the name of the file already there,
// so a reader that follows it keeps following it. Nothing happens where `run`
// does not write (ranks other than 0). Error naming the file on failure.
void write_fold_events(const RunDirectory& run, int fold, const std::vector<nlohmann::json>& history,
                       double learning_rate);

}  // namespace tensorboard
}  // namespace lyre
