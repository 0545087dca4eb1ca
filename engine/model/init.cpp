#include "engine/model/init.hpp"

#include <algorithm>
#include <cmath>

#include "engine/core/error.hpp"
#include "engine/core/rng.hpp"

namespace lyre {
namespace {

void fill_uniform(std::span<float> out, double bound, Rng& rng) {
  for (auto& x : out) x = static_cast<float>(rng.uniform(-bound, bound));
}

double found_std(const PretrainedEmbedding& e, std::size_t dim) {
  double sum = 0, sq = 0;
  std::size_t n = 0;
  for (std::size_t row = 0; row < e.found.size(); ++row) {
    if (!e.found[row]) continue;
    for (std::size_t k = 0; k < dim; ++k) {
      const double v = e.values[row * dim + k];
      sum += v;
      sq += v * v;
    }
    n += dim;
  }
  if (n < 2) return 1.0;
  const double mean = sum / static_cast<double>(n);
  return std::sqrt(std::max(1e-12, sq / static_cast<double>(n) - mean * mean));
}

void init_embedding(std::span<float> table, const ModelSpec& spec, Rng& rng,
                    const PretrainedEmbedding* pretrained) {
  const auto D = static_cast<std::size_t>(spec.embed_dim);
  const double scale = pretrained ? found_std(*pretrained, D) : 1.0;
  for (std::size_t row = 0; row < spec.vocab_size; ++row) {
    auto out = table.subspan(row * D, D);
    if (row == 0) {  // PAD
      std::fill(out.begin(), out.end(), 0.0f);
      continue;
    }
    if (pretrained && pretrained->found[row]) {
      std::copy_n(pretrained->values.begin() + static_cast<std::ptrdiff_t>(row * D), D, out.begin());
      continue;
    }
    for (auto& x : out) x = static_cast<float>(scale * rng.normal());
  }
}

}  // namespace

std::vector<float> initial_parameters(const ModelSpec& spec, const ParamLayout& layout,
                                      std::uint64_t seed, const PretrainedEmbedding* pretrained) {
  if (pretrained) {
    const auto want = static_cast<std::size_t>(spec.vocab_size) * static_cast<std::size_t>(spec.embed_dim);
    LYRE_CHECK(pretrained->values.size() == want && pretrained->found.size() == spec.vocab_size,
               "pretrained embedding is {} values / {} rows, the model wants {} / {}",
               pretrained->values.size(), pretrained->found.size(), want, spec.vocab_size);
  }
  std::vector<float> params(layout.total(), 0.0f);
  Rng rng(seed);
  const double lstm_bound = 1.0 / std::sqrt(static_cast<double>(spec.hidden));
  const double hout_bound = 1.0 / std::sqrt(static_cast<double>(spec.lstm_out()));
  const double att_bound = 1.0 / std::sqrt(static_cast<double>(spec.attention_dim));
  for (const auto& t : layout.tensors()) {
    std::span<float> out(params.data() + t.offset, t.size());
    if (t.name == "embedding") {
      init_embedding(out, spec, rng, pretrained);
    } else if (t.name.starts_with("lstm.")) {
      fill_uniform(out, lstm_bound, rng);
    } else if (t.name == "attention.v") {
      fill_uniform(out, att_bound, rng);
    } else {  // attention.w / attention.b / output.w / output.b: nn.Linear(Hout -> *)
      fill_uniform(out, hout_bound, rng);
    }
  }
  return params;
}

}  // namespace lyre
