#include "engine/train/export_safetensors.hpp"

#include <bit>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/model/param_layout.hpp"
#include "engine/train/predictor.hpp"

namespace lyre {
namespace fs = std::filesystem;

// safetensors stores little-endian values; the floats go out as they are in memory.
static_assert(std::endian::native == std::endian::little,
              "the safetensors writer copies floats as stored: little-endian hosts only");

std::string torch_parameter_name(const std::string& layout_name) {
  static constexpr std::pair<const char*, const char*> kPlain[] = {
      {"embedding", "embedding.weight"},  {"attention.w", "attention.weight"},
      {"attention.b", "attention.bias"},  {"attention.v", "attention_v"},
      {"output.w", "output.weight"},      {"output.b", "output.bias"}};
  for (const auto& [lyre_name, torch_name] : kPlain)
    if (layout_name == lyre_name) return torch_name;
  // "lstm.l1_reverse.w_hh": nn.LSTM puts the layer and direction last,
  // "lstm.weight_hh_l1_reverse".
  static constexpr std::pair<const char*, const char*> kLstm[] = {
      {".w_ih", "weight_ih_"}, {".w_hh", "weight_hh_"}, {".b_ih", "bias_ih_"}, {".b_hh", "bias_hh_"}};
  const std::string prefix = "lstm.";
  if (layout_name.starts_with(prefix)) {
    for (const auto& [suffix, torch_kind] : kLstm) {
      if (!layout_name.ends_with(suffix)) continue;
      const auto layer = layout_name.substr(prefix.size(), layout_name.size() - prefix.size() -
                                                               std::string_view(suffix).size());
      return prefix + torch_kind + layer;  // layer: "l1_reverse"
    }
  }
  LYRE_CHECK(false, "no PyTorch name for parameter {}", layout_name);
  return {};
}

std::uint64_t write_safetensors(const fs::path& out, const ModelSpec& spec,
                                std::span<const float> params,
                                const std::map<std::string, std::string>& metadata) {
  const ParamLayout layout(spec);
  LYRE_CHECK(params.size() == layout.total(), "{} parameters for a layout of {}", params.size(),
             layout.total());
  // ordered_json keeps the layout's order in the header, so a person reading
  // it sees the model from embedding to output.
  nlohmann::ordered_json header;
  std::uint64_t offset = 0;
  for (const auto& t : layout.tensors()) {
    const std::uint64_t bytes = t.size() * sizeof(float);
    header[torch_parameter_name(t.name)] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  header["__metadata__"] = metadata;
  std::string text = header.dump();
  // Padding with spaces (valid JSON whitespace) puts the first data byte on
  // an 8-byte boundary, so a memory-mapped loader can view the floats in place.
  text.resize((text.size() + 7) / 8 * 8, ' ');

  AtomicFile file(out);
  const std::uint64_t header_size = text.size();
  file.write(&header_size, sizeof header_size);
  file.write(text);
  for (const auto& t : layout.tensors()) file.write_span(params.subspan(t.offset, t.size()));
  const auto written = file.bytes_written();
  LYRE_CHECK(written == sizeof header_size + header_size + offset, "{} bytes written, {} expected",
             written, sizeof header_size + header_size + offset);
  file.commit();
  return written;
}

std::map<std::string, std::string> export_metadata(const ModelSpec& spec,
                                                   const std::vector<std::string>& genres,
                                                   std::uint64_t vocab_hash, int fold) {
  // safetensors metadata values are strings: numbers as decimal text, flags
  // as "true"/"false", the genre list as a JSON array.
  return {
      {"format", "pt"},
      {"lyre_export", "1"},
      {"model", "lyre-lstm"},
      {"vocab_size", std::to_string(spec.vocab_size)},
      {"embed_dim", std::to_string(spec.embed_dim)},
      {"hidden", std::to_string(spec.hidden)},
      {"layers", std::to_string(spec.layers)},
      {"bidirectional", spec.bidirectional ? "true" : "false"},
      {"attention", to_string(spec.attention)},
      {"attention_dim", std::to_string(spec.attention_dim)},
      {"pool", to_string(spec.pool)},
      {"num_classes", std::to_string(spec.num_classes)},
      {"max_len", std::to_string(spec.max_len)},
      {"dropout", fmt::format("{}", spec.dropout)},
      {"genres", nlohmann::json(genres).dump()},
      {"vocab_hash", fmt::format("{:016x}", vocab_hash)},
      {"fold", std::to_string(fold)},
  };
}

ExportResult export_fold(const ExportOptions& o) {
  // Every check comes before the first write: bad input leaves nothing behind.
  if (o.format != "safetensors")
    fail_input("--format {}: unknown export format (known: safetensors)", o.format);
  if (!fs::is_directory(o.run)) fail_input("{}: no such run folder", o.run.string());
  const FinishedRun run(o.run);
  const auto stored = run.fold_model(o.fold);
  const std::vector<std::string>& genres = run.genres();

  ExportResult result;
  result.path = o.out.empty()
                    ? o.run / "export" / fmt::format("fold-{}.safetensors", o.fold)
                    : o.out;
  if (fs::is_directory(result.path))
    fail_input("--out {} is a folder: name the file to write", result.path.string());
  if (result.path.has_parent_path()) ensure_directory(result.path.parent_path());

  const ParamLayout layout(stored.spec);
  result.tensors = layout.tensors().size();
  for (const auto& t : layout.tensors()) result.parameters += t.size();
  result.bytes = write_safetensors(result.path, stored.spec, stored.params,
                                   export_metadata(stored.spec, genres, stored.vocab_hash, o.fold));
  return result;
}

}  // namespace lyre
