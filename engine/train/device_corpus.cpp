#include "engine/train/device_corpus.hpp"

#include <algorithm>

#include "engine/core/nvtx.hpp"

namespace lyre {

FlatCorpus flatten(const data::PreparedCorpus& corpus) {
  FlatCorpus flat;
  const std::uint64_t songs = corpus.num_songs();
  flat.offsets.assign(songs + 1, 0);
  flat.labels.resize(songs);
  for (std::uint64_t s = 0; s < songs; ++s) {
    flat.offsets[s + 1] = flat.offsets[s] + corpus.tokens(s).size();
    flat.labels[s] = corpus.label(s);
  }
  flat.tokens.resize(flat.offsets.back());
  for (std::uint64_t s = 0; s < songs; ++s) {
    const auto t = corpus.tokens(s);
    std::copy(t.begin(), t.end(), flat.tokens.begin() + static_cast<std::ptrdiff_t>(flat.offsets[s]));
  }
  return flat;
}

DeviceCorpus::DeviceCorpus(const FlatCorpus& corpus, std::unique_ptr<LayerOps<float>> ops)
    : ops_(std::move(ops)) {
  const NvtxRange range("copy.corpus");
  tokens_ = ops_->allocate(std::max<std::size_t>(1, corpus.tokens.size()) * sizeof(std::uint32_t));
  offsets_ = ops_->allocate(corpus.offsets.size() * sizeof(std::uint64_t));
  labels_ = ops_->allocate(std::max<std::size_t>(1, corpus.labels.size()) * sizeof(std::uint32_t));
  ops_->upload(tokens_->data(), corpus.tokens.data(), corpus.tokens.size() * sizeof(std::uint32_t));
  ops_->upload(offsets_->data(), corpus.offsets.data(), corpus.offsets.size() * sizeof(std::uint64_t));
  ops_->upload(labels_->data(), corpus.labels.data(), corpus.labels.size() * sizeof(std::uint32_t));
  ops_->synchronize();  // replicas on other streams read it from now on
  view_ = CorpusView{tokens_->as<std::uint32_t>(), offsets_->as<std::uint64_t>(),
                     labels_->as<std::uint32_t>(), corpus.labels.size()};
}

}  // namespace lyre
