#include "engine/train/checkpoint.hpp"

#include "engine/core/binary_io.hpp"
#include "engine/core/error.hpp"
#include "engine/model/param_layout.hpp"

namespace lyre {
namespace {

constexpr std::uint64_t kCheckpointMagic = 0x54504B4345525959ull;  // bytes "YYRECKPT"
// Genres are a few dozen in practice; the bound keeps the metric counters
// (C * C doubles of confusion matrix) of a corrupt file's count far from overflow.
constexpr std::int64_t kMaxClasses = 1'000'000;

void put_spec(BinaryWriter& w, const ModelSpec& s) {
  w.put<std::uint32_t>(s.vocab_size);
  w.put<std::int32_t>(s.embed_dim);
  w.put<std::int32_t>(s.hidden);
  w.put<std::int32_t>(s.layers);
  w.put<std::int32_t>(s.bidirectional ? 1 : 0);
  w.put<std::int32_t>(static_cast<std::int32_t>(s.attention));
  w.put<std::int32_t>(s.attention_dim);
  w.put<std::int32_t>(static_cast<std::int32_t>(s.pool));
  w.put<float>(s.dropout);
  w.put<std::int32_t>(s.num_classes);
  w.put<std::int32_t>(s.max_len);
  w.put<std::int32_t>(s.freeze_embedding ? 1 : 0);
}

ModelSpec get_spec(BinaryReader& r) {
  ModelSpec s;
  s.vocab_size = r.get<std::uint32_t>("spec.vocab_size");
  s.embed_dim = r.get<std::int32_t>("spec.embed_dim");
  s.hidden = r.get<std::int32_t>("spec.hidden");
  s.layers = r.get<std::int32_t>("spec.layers");
  s.bidirectional = r.get<std::int32_t>("spec.bidirectional") != 0;
  const auto attention = r.get<std::int32_t>("spec.attention");
  s.attention_dim = r.get<std::int32_t>("spec.attention_dim");
  const auto pool = r.get<std::int32_t>("spec.pool");
  s.dropout = r.get<float>("spec.dropout");
  s.num_classes = r.get<std::int32_t>("spec.num_classes");
  s.max_len = r.get<std::int32_t>("spec.max_len");
  s.freeze_embedding = r.get<std::int32_t>("spec.freeze") != 0;
  // Within what a config can ask for (engine/config/config.hpp): the layout
  // is built from these before any array is read, so an absurd value would
  // otherwise cost a hang and gigabytes instead of this message.
  const auto out_of_range = [&](const char* field, std::int64_t value, std::int64_t low,
                                std::int64_t high) {
    if (value < low || value > high)
      fail_input("checkpoint {}: the stored model description is invalid: {} is {}, expected "
                 "{}..{}",
                 r.path().string(), field, value, low, high);
  };
  out_of_range("vocab_size", s.vocab_size, 2, INT32_MAX);
  out_of_range("embed_dim", s.embed_dim, 1, kMaxEmbeddingDim);
  out_of_range("hidden", s.hidden, 1, kMaxHidden);
  out_of_range("layers", s.layers, 1, kMaxLayers);
  out_of_range("attention", attention, 0, 1);
  out_of_range("attention_dim", s.attention_dim, 0, kMaxAttentionDim);
  out_of_range("pool", pool, 0, 1);
  out_of_range("num_classes", s.num_classes, 2, kMaxClasses);
  out_of_range("max_len", s.max_len, 1, kMaxSongLength);
  if (!(s.dropout >= 0.0f && s.dropout < 1.0f))
    fail_input("checkpoint {}: the stored model description is invalid: dropout is {}, expected "
               "0 <= p < 1",
               r.path().string(), s.dropout);
  s.attention = static_cast<AttentionKind>(attention);
  s.pool = static_cast<PoolKind>(pool);
  return s;
}

void put_floats(BinaryWriter& w, const std::vector<float>& v) {
  w.put<std::uint64_t>(v.size());
  w.put_array<float>(v);
}

std::vector<float> get_floats(BinaryReader& r, const char* field, std::size_t expected) {
  const auto n = r.get<std::uint64_t>(field);
  if (n != expected && !(n == 0 && expected == 0))
    fail_input("checkpoint {}: {} holds {} values, the model has {}", r.path().string(), field, n,
               expected);
  const auto span = r.get_array<float>(n, field);
  return {span.begin(), span.end()};
}

struct Header {
  ModelSpec spec;
  std::uint64_t vocab_hash = 0;
};

Header read_header(BinaryReader& r) {
  if (r.get<std::uint64_t>("magic") != kCheckpointMagic)
    fail_input("{} is not a Lyre checkpoint", r.path().string());
  const auto version = r.get<std::uint32_t>("version");
  if (version != kCheckpointVersion)
    fail_input("checkpoint {} has format version {}, this lyre reads version {}",
               r.path().string(), version, kCheckpointVersion);
  r.get<std::uint32_t>("reserved");
  Header h;
  h.spec = get_spec(r);
  r.align8();
  h.vocab_hash = r.get<std::uint64_t>("vocab_hash");
  return h;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const ModelSpec& spec,
                     std::uint64_t vocab_hash, const FoldCheckpoint& c) {
  BinaryWriter w(path);
  w.put<std::uint64_t>(kCheckpointMagic);
  w.put<std::uint32_t>(kCheckpointVersion);
  w.put<std::uint32_t>(0);
  put_spec(w, spec);
  w.align8();
  w.put<std::uint64_t>(vocab_hash);
  w.put<std::int32_t>(c.fold);
  w.put<std::int32_t>(c.epochs_done);
  w.put<std::uint64_t>(c.next_batch);
  w.put<std::int32_t>(c.finished ? 1 : 0);
  w.put<std::int32_t>(c.best_epoch);
  w.put<std::int32_t>(c.epochs_without_gain);
  w.put<std::int32_t>(0);
  w.put<double>(c.best_validation_loss);
  w.put<double>(c.seconds);
  w.put<std::int64_t>(c.optimizer.step);
  w.put<std::uint64_t>(c.epoch_counters.size());
  w.put_array<double>(c.epoch_counters);
  put_floats(w, c.optimizer.params);
  put_floats(w, c.optimizer.m);
  put_floats(w, c.optimizer.v);
  put_floats(w, c.best_params);
  w.put_string(c.history.dump());
  w.put_string(c.test.is_null() ? std::string("null") : c.test.dump());
  w.commit();
}

namespace {

// Everything after the header, for a model already known to match.
FoldCheckpoint read_body(BinaryReader& r, const ModelSpec& spec) {
  const auto& path = r.path();
  FoldCheckpoint c;
  c.fold = r.get<std::int32_t>("fold");
  c.epochs_done = r.get<std::int32_t>("epochs_done");
  c.next_batch = r.get<std::uint64_t>("next_batch");
  c.finished = r.get<std::int32_t>("finished") != 0;
  c.best_epoch = r.get<std::int32_t>("best_epoch");
  c.epochs_without_gain = r.get<std::int32_t>("epochs_without_gain");
  r.get<std::int32_t>("reserved");
  c.best_validation_loss = r.get<double>("best_validation_loss");
  c.seconds = r.get<double>("seconds");
  c.optimizer.step = r.get<std::int64_t>("step");
  const auto counters = r.get<std::uint64_t>("counter_count");
  // One block of metric_slots per part of a split batch (micro-batches, ranks).
  const auto slots = metric_slots(spec.num_classes);
  if (counters % slots != 0 || counters / slots > 4096)
    fail_input("checkpoint {}: {} metric counters, the model has {} classes", path.string(),
               counters, spec.num_classes);
  const auto cs = r.get_array<double>(counters, "counters");
  c.epoch_counters.assign(cs.begin(), cs.end());
  const std::size_t n = ParamLayout(spec).total();
  c.optimizer.params = get_floats(r, "params", n);
  c.optimizer.m = get_floats(r, "adam_m", n);
  c.optimizer.v = get_floats(r, "adam_v", n);
  const auto best_count = r.get<std::uint64_t>("best_params");
  if (best_count != 0 && best_count != n)
    fail_input("checkpoint {}: best_params holds {} values, the model has {}", path.string(),
               best_count, n);
  const auto best = r.get_array<float>(best_count, "best_params");
  c.best_params.assign(best.begin(), best.end());
  try {
    c.history = nlohmann::json::parse(r.get_string("history"));
    c.test = nlohmann::json::parse(r.get_string("test"));
  } catch (const nlohmann::json::exception& e) {
    fail_input("checkpoint {}: its history is not valid JSON: {}", path.string(), e.what());
  }
  r.expect_end();
  return c;
}

}  // namespace

FoldCheckpoint load_checkpoint(const std::filesystem::path& path, const ModelSpec& spec,
                               std::uint64_t vocab_hash) {
  const MappedFile file(path);
  BinaryReader r(file, "checkpoint");
  const auto header = read_header(r);
  if (header.spec.shape_hash() != spec.shape_hash())
    fail_input("checkpoint {} was written for another model ({}); this run's model is {}",
               path.string(), header.spec.describe(), spec.describe());
  if (header.vocab_hash != vocab_hash)
    fail_input("checkpoint {} was written for another vocabulary than the prepared folder's",
               path.string());
  return read_body(r, spec);
}

StoredModel load_stored_model(const std::filesystem::path& path) {
  const MappedFile file(path);
  BinaryReader r(file, "checkpoint");
  const auto header = read_header(r);
  const auto c = read_body(r, header.spec);
  StoredModel m;
  m.spec = header.spec;
  m.vocab_hash = header.vocab_hash;
  m.params = c.best_params.empty() ? c.optimizer.params : c.best_params;
  m.finished = c.finished;
  return m;
}

}  // namespace lyre
