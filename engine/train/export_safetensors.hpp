// `lyre export`: a fold's trained weights as a safetensors file that PyTorch
// loads into the equivalent torch.nn model (tests/reference/lyre_torch.py,
// loaded by tests/reference/load_safetensors.py) and that gives the logits
// `lyre predict --fold K` gives.
//
// safetensors layout: u64 little-endian N, then N bytes of JSON (padded with
// spaces to a multiple of 8, so the data starts 8-byte aligned)
//   {"embedding.weight": {"dtype": "F32", "shape": [V, D], "data_offsets": [0, 4VD]},
//    ..., "__metadata__": {"format": "pt", "hidden": "128", ...}}
// then every tensor's float32 values, little-endian, row-major, one after the
// other in the order of engine/model/param_layout.hpp (offsets relative to
// the first data byte; contiguous, no gaps: the layout's alignment padding is
// not exported).
//
// Names are PyTorch's for nn.Embedding / nn.LSTM / nn.Linear modules named
// embedding, lstm, attention, output, plus attention_v (the score vector):
//   embedding                -> embedding.weight            [V, D]
//   lstm.l{L}[_reverse].w_ih -> lstm.weight_ih_l{L}[_reverse] [4H, In]
//   lstm.l{L}[_reverse].w_hh -> lstm.weight_hh_l{L}[_reverse] [4H, H]
//   lstm.l{L}[_reverse].b_ih -> lstm.bias_ih_l{L}[_reverse]   [4H]
//   lstm.l{L}[_reverse].b_hh -> lstm.bias_hh_l{L}[_reverse]   [4H]
//   attention.w / .b         -> attention.weight / .bias    [A, Hout] / [A]
//   attention.v              -> attention_v                 [A]
//   output.w / .b            -> output.weight / .bias       [C, Hout] / [C]
// Both take the flat layout as it is: it already is PyTorch's parameter
// order with cuDNN's (= PyTorch's) gate order i, f, g, o.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>

#include "engine/model/model_spec.hpp"

namespace lyre {

// The PyTorch state_dict key of a parameter of ParamLayout ("lstm.l1_reverse.w_hh"
// -> "lstm.weight_hh_l1_reverse"); LYRE_CHECK on a name the layout never makes.
std::string torch_parameter_name(const std::string& layout_name);

// Writes `params` (ParamLayout(spec) order and size) to `out` as safetensors,
// atomically (engine/core/files.hpp: a crash leaves no torn file). `metadata`
// goes into __metadata__ as it is. Returns the bytes written.
std::uint64_t write_safetensors(const std::filesystem::path& out, const ModelSpec& spec,
                                std::span<const float> params,
                                const std::map<std::string, std::string>& metadata);

// The __metadata__ a loader needs to rebuild the model: every shape field of
// `spec` (vocab_size, embed_dim, hidden, layers, bidirectional, attention,
// attention_dim, pool, num_classes, max_len, dropout), the genres in class
// order (a JSON array), the vocabulary hash (16 hex digits), the fold, and
// format "pt".
std::map<std::string, std::string> export_metadata(const ModelSpec& spec,
                                                   const std::vector<std::string>& genres,
                                                   std::uint64_t vocab_hash, int fold);

struct ExportOptions {
  std::filesystem::path run;   // a finished run folder
  int fold = 0;
  std::string format = "safetensors";
  std::filesystem::path out;   // empty: <run>/export/fold-K.safetensors
};

struct ExportResult {
  std::filesystem::path path;
  std::size_t tensors = 0;
  std::size_t parameters = 0;
  std::uint64_t bytes = 0;
};

// Reads and verifies the fold's checkpoint as `lyre predict` does
// (FinishedRun, engine/train/predictor.hpp) and writes it. InputError naming
// the flag or the file, with nothing written, for an unknown format, a folder
// that is no finished run, a fold out of range, a damaged or unfinished
// checkpoint, or an --out that is a folder.
ExportResult export_fold(const ExportOptions& options);

}  // namespace lyre
