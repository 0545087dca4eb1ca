#include "engine/model/model_spec.hpp"

#include <fmt/format.h>

#include "engine/core/error.hpp"
#include "engine/core/hash.hpp"

namespace lyre {

ModelSpec ModelSpec::from(const ModelConfig& config, std::uint32_t vocab_size, int num_classes) {
  if (num_classes < 2) fail_input("the prepared corpus has {} genre(s); training needs at least 2", num_classes);
  ModelSpec s;
  s.vocab_size = vocab_size;
  s.embed_dim = config.embedding.dim;
  s.hidden = config.hidden;
  s.layers = config.layers;
  s.bidirectional = config.bidirectional;
  s.attention = config.attention;
  s.attention_dim = config.attention_dim > 0 ? config.attention_dim : s.lstm_out();
  s.pool = config.pool;
  s.dropout = static_cast<float>(config.dropout);
  s.num_classes = num_classes;
  s.max_len = config.max_len;
  s.freeze_embedding = config.embedding.freeze;
  return s;
}

std::string ModelSpec::describe() const {
  return fmt::format(
      "embedding {}x{}{}, LSTM hidden {} x {} layer(s){}, attention {}{}, pool {}, dropout {}, "
      "{} classes, max length {}",
      vocab_size, embed_dim, freeze_embedding ? " (frozen)" : "", hidden, layers,
      bidirectional ? " bidirectional" : "", to_string(attention),
      has_attention() ? fmt::format("({})", attention_dim) : "", to_string(pool), dropout,
      num_classes, max_len);
}

std::uint64_t ModelSpec::shape_hash() const {
  const auto text = fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}", vocab_size, embed_dim, hidden, layers,
                                bidirectional, static_cast<int>(attention), attention_dim,
                                num_classes, static_cast<int>(pool));
  return hash_string(text);
}

}  // namespace lyre
