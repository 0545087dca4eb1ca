// `lyre export --format safetensors`: the file is parsed here independently of
// the writer (header JSON, dtypes, shapes, contiguous offsets, alignment,
// sizes) and every tensor compared with the checkpoint's parameters, for every
// model variant the config allows; bad input is refused with nothing written;
// and PyTorch, loading the file with tests/reference/load_safetensors.py, gives
// the logits `lyre predict --fold K --json` gives (skipped where
// /usr/bin/python3 has no torch).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "data/prepare.hpp"
#include "data/vocab.hpp"
#include "engine/core/signals.hpp"
#include "engine/model/param_layout.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/export_safetensors.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::input_error;
using test::run_command;
using test::TempDir;

std::string lyre() { return test::lyre_binary().string(); }

// ---- an independent reader of the format ---------------------------------------------

struct SafeTensor {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
  std::vector<float> values;
};

struct SafeTensorsFile {
  std::uint64_t header_size = 0;
  std::vector<SafeTensor> tensors;  // in the header's order
  std::map<std::string, std::string> metadata;
};

// Parses `path` as the safetensors specification describes it, checking every
// structural rule on the way (ASSERT: a later check makes no sense after one fails).
void parse_safetensors(const fs::path& path, SafeTensorsFile& out) {
  const auto bytes = test::read_file(path);
  ASSERT_GE(bytes.size(), 8u) << path;
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  out.header_size = n;
  ASSERT_LE(8 + n, bytes.size()) << "header length " << n;
  EXPECT_EQ(n % 8, 0u) << "the data must start 8-byte aligned";
  const auto header_text = bytes.substr(8, n);
  const auto last = header_text.find_last_not_of(' ');
  EXPECT_EQ(header_text[last], '}') << "only spaces may pad the header";
  const auto header = nlohmann::ordered_json::parse(header_text);  // keeps the file's order
  ASSERT_TRUE(header.is_object());
  const std::string data = bytes.substr(8 + n);
  std::uint64_t expected_begin = 0;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [key, value] : entry.items()) {
        ASSERT_TRUE(value.is_string()) << "metadata " << key << " must be a string";
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    SafeTensor t;
    t.name = name;
    t.dtype = entry.at("dtype").get<std::string>();
    t.shape = entry.at("shape").get<std::vector<std::int64_t>>();
    const auto offsets = entry.at("data_offsets").get<std::vector<std::uint64_t>>();
    ASSERT_EQ(offsets.size(), 2u) << name;
    t.begin = offsets[0];
    t.end = offsets[1];
    EXPECT_EQ(t.dtype, "F32") << name;
    // Contiguous, in header order, no overlap and no gap.
    EXPECT_EQ(t.begin, expected_begin) << name;
    std::uint64_t elements = 1;
    for (auto d : t.shape) {
      EXPECT_GT(d, 0) << name;
      elements *= static_cast<std::uint64_t>(d);
    }
    ASSERT_EQ(t.end - t.begin, elements * 4) << name << ": size and shape disagree";
    ASSERT_LE(t.end, data.size()) << name;
    t.values.resize(elements);
    std::memcpy(t.values.data(), data.data() + t.begin, t.end - t.begin);  // little-endian host
    expected_begin = t.end;
    out.tensors.push_back(std::move(t));
  }
  EXPECT_EQ(expected_begin, data.size()) << "bytes after the last tensor";
}

// PyTorch's names in nn.Module order, spelled out here rather than taken from
// the writer: embedding, nn.LSTM's per layer and direction w_ih, w_hh, b_ih,
// b_hh, then attention and output.
std::vector<std::string> torch_names(const ModelSpec& spec) {
  std::vector<std::string> names{"embedding.weight"};
  for (int l = 0; l < spec.layers; ++l)
    for (int d = 0; d < spec.directions(); ++d) {
      const std::string suffix = fmt::format("_l{}{}", l, d == 1 ? "_reverse" : "");
      for (const char* kind : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"})
        names.push_back(std::string("lstm.") + kind + suffix);
    }
  if (spec.has_attention())
    for (const char* name : {"attention.weight", "attention.bias", "attention_v"}) names.push_back(name);
  names.push_back("output.weight");
  names.push_back("output.bias");
  return names;
}

// The whole comparison: names, shapes (PyTorch's) and every value against the
// flat parameters, plus the metadata a loader builds the model from.
void expect_file_holds(const fs::path& file, const ModelSpec& spec, const std::vector<float>& params) {
  SafeTensorsFile parsed;
  ASSERT_NO_FATAL_FAILURE(parse_safetensors(file, parsed));
  const ParamLayout layout(spec);
  const auto names = torch_names(spec);
  ASSERT_EQ(parsed.tensors.size(), names.size());
  ASSERT_EQ(layout.tensors().size(), names.size());
  const int H = spec.hidden, Hout = spec.lstm_out();
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& t = parsed.tensors[i];
    const auto& lt = layout.tensors()[i];
    EXPECT_EQ(t.name, names[i]);
    // Shapes as torch.nn makes them, from the spec alone.
    std::vector<std::int64_t> want;
    if (t.name == "embedding.weight") want = {spec.vocab_size, spec.embed_dim};
    else if (t.name.starts_with("lstm.weight_ih_l")) want = {4 * H, t.name.starts_with("lstm.weight_ih_l0") ? spec.embed_dim : Hout};
    else if (t.name.starts_with("lstm.weight_hh")) want = {4 * H, H};
    else if (t.name.starts_with("lstm.bias")) want = {4 * H};
    else if (t.name == "attention.weight") want = {spec.attention_dim, Hout};
    else if (t.name == "attention.bias" || t.name == "attention_v") want = {spec.attention_dim};
    else if (t.name == "output.weight") want = {spec.num_classes, Hout};
    else if (t.name == "output.bias") want = {spec.num_classes};
    EXPECT_EQ(t.shape, want) << t.name;
    ASSERT_EQ(t.values.size(), lt.size()) << t.name;
    // Bit-identical values: the file must hold the checkpoint's floats, not a rounding of them.
    EXPECT_EQ(0, std::memcmp(t.values.data(), params.data() + lt.offset, lt.size() * sizeof(float)))
        << t.name;
  }
  const auto& m = parsed.metadata;
  EXPECT_EQ(m.at("format"), "pt");
  EXPECT_EQ(m.at("vocab_size"), std::to_string(spec.vocab_size));
  EXPECT_EQ(m.at("embed_dim"), std::to_string(spec.embed_dim));
  EXPECT_EQ(m.at("hidden"), std::to_string(spec.hidden));
  EXPECT_EQ(m.at("layers"), std::to_string(spec.layers));
  EXPECT_EQ(m.at("bidirectional"), spec.bidirectional ? "true" : "false");
  EXPECT_EQ(m.at("attention"), spec.has_attention() ? "additive" : "none");
  EXPECT_EQ(m.at("attention_dim"), std::to_string(spec.attention_dim));
  EXPECT_EQ(m.at("pool"), spec.pool == PoolKind::mean ? "mean" : "none");
  EXPECT_EQ(m.at("num_classes"), std::to_string(spec.num_classes));
  for (const char* key : {"genres", "vocab_hash", "fold", "max_len", "dropout"})
    EXPECT_TRUE(m.contains(key)) << key;
}

// ---- the writer on its own, every variant of the model --------------------------------

struct Variant {
  const char* name;
  int layers;
  bool bidirectional;
  AttentionKind attention;
  PoolKind pool;
};
constexpr Variant kVariants[] = {
    {"primary", 1, false, AttentionKind::additive, PoolKind::mean},
    {"pool_none", 1, false, AttentionKind::additive, PoolKind::none},
    {"no_attention_mean", 1, true, AttentionKind::none, PoolKind::mean},
    {"final_states_2_layers", 2, true, AttentionKind::none, PoolKind::none},
    {"bidirectional_3_layers", 3, true, AttentionKind::additive, PoolKind::mean},
};

TEST(Export, TorchNamesFollowNnModules) {
  EXPECT_EQ(torch_parameter_name("embedding"), "embedding.weight");
  EXPECT_EQ(torch_parameter_name("lstm.l0.w_ih"), "lstm.weight_ih_l0");
  EXPECT_EQ(torch_parameter_name("lstm.l1_reverse.b_hh"), "lstm.bias_hh_l1_reverse");
  EXPECT_EQ(torch_parameter_name("attention.v"), "attention_v");
  EXPECT_EQ(torch_parameter_name("output.b"), "output.bias");
  EXPECT_THROW(torch_parameter_name("lstm.l0.w_xx"), Error);
}

TEST(Export, WriterLaysOutEveryVariantAsSafetensorsSays) {
  for (const auto& v : kVariants) {
    SCOPED_TRACE(v.name);
    ModelSpec spec;
    spec.vocab_size = 37;
    spec.embed_dim = 5;
    spec.hidden = 3;  // odd sizes: no tensor but the aligned ones ends on a boundary
    spec.layers = v.layers;
    spec.bidirectional = v.bidirectional;
    spec.attention = v.attention;
    spec.attention_dim = 7;
    spec.pool = v.pool;
    spec.num_classes = 4;
    const ParamLayout layout(spec);
    std::vector<float> params(layout.total());
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (auto& p : params) p = uniform(rng);
    TempDir dir;
    const auto file = dir / "m.safetensors";
    const auto bytes = write_safetensors(file, spec, params,
                                         export_metadata(spec, {"a", "b", "c", "d"}, 0xabcdef, 3));
    EXPECT_EQ(bytes, fs::file_size(file));
    expect_file_holds(file, spec, params);
    // Gaps of the flat layout are not exported: the data is the tensors alone.
    std::size_t elements = 0;
    for (const auto& t : layout.tensors()) elements += t.size();
    SafeTensorsFile parsed;
    ASSERT_NO_FATAL_FAILURE(parse_safetensors(file, parsed));
    EXPECT_EQ(fs::file_size(file), 8 + parsed.header_size + elements * sizeof(float));
    EXPECT_EQ(parsed.metadata.at("genres"), R"(["a","b","c","d"])");
    EXPECT_EQ(parsed.metadata.at("vocab_hash"), "0000000000abcdef");
    EXPECT_EQ(parsed.metadata.at("fold"), "3");
    EXPECT_FALSE(fs::exists(dir / ("m.safetensors.tmp-" + std::to_string(getpid()))));
  }
}

// ---- real runs -----------------------------------------------------------------------

// One finished 2-fold run per model variant, trained once for the suite.
class ExportRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    auto c = config();
    data::run_prepare(c, {});
    for (const auto& v : kVariants) {
      auto vc = config();
      vc.model.layers = v.layers;
      vc.model.bidirectional = v.bidirectional;
      vc.model.attention = v.attention;
      vc.model.pool = v.pool;
      if (std::string(v.name) == "pool_none") vc.model.attention_dim = 12;  // A != Hout
      RunOptions o;
      o.out = run(v.name);
      o.write_report = false;
      run_training(vc, o);
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  // 4 genres x 60 songs, 2 epochs: small, but trained away from the initial weights.
  static ExperimentConfig config() {
    auto c = parse_config(R"(
name: export
seed: 9
data:
  source: synthetic
  synthetic: {songs: 2500, seed: 21}
  top_genres: 4
  per_genre: 60
model:
  embedding: {dim: 12, init: random}
  hidden: 10
  max_len: 48
train:
  backend: cpu
  batch_size: 16
  epochs: 2
  threads: 1
cv:
  folds: 2
)",
                          "export.yaml");
    c.data.prepared = (dir_->path() / "prepared").string();
    c.output = (dir_->path() / "runs").string();
    return c;
  }
  static fs::path run(const std::string& variant) { return dir_->path() / "runs" / variant; }
  static fs::path checkpoint(const fs::path& run, int fold) {
    return run / "folds" / fmt::format("fold-{}", fold) / "checkpoint.bin";
  }
  // Songs of known words from the run's vocabulary: a long one (cut at
  // max_len), a short one, a single word, and one with a word the vocabulary
  // lacks (UNK), so lengths differ within the batch.
  static std::vector<std::string> songs(const fs::path& run) {
    const auto vocab = data::Vocab::load(run / "vocab.txt");
    auto words = [&](std::uint32_t first, std::uint32_t count) {
      std::string text;
      for (std::uint32_t id = first; id < first + count && id < vocab.size(); ++id)
        text += (text.empty() ? "" : " ") + vocab.word(id);
      return text;
    };
    return {words(2, 70), words(20, 9), words(5, 1), words(40, 15) + " zzqxwv " + words(3, 4)};
  }
  static std::string predict_json(const fs::path& run, const std::string& fold_flag,
                                  const fs::path& out) {
    std::string command = lyre() + " -q predict --run " + run.string() + " " + fold_flag + " --json";
    for (const auto& s : songs(run)) command += " --text '" + s + "'";
    const auto r = run_command(command + " > " + out.string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return test::read_file(out);
  }

  static TempDir* dir_;
};
TempDir* ExportRun::dir_ = nullptr;

TEST_F(ExportRun, EveryVariantExportsItsCheckpointExactly) {
  for (const auto& v : kVariants) {
    SCOPED_TRACE(v.name);
    TempDir out;
    for (int fold = 0; fold < 2; ++fold) {
      const auto result = export_fold({run(v.name), fold, "safetensors", out / fmt::format("f{}.st", fold)});
      const auto stored = load_stored_model(checkpoint(run(v.name), fold));
      expect_file_holds(result.path, stored.spec, stored.params);
      SafeTensorsFile parsed;
      ASSERT_NO_FATAL_FAILURE(parse_safetensors(result.path, parsed));
      EXPECT_EQ(parsed.metadata.at("fold"), std::to_string(fold));
      EXPECT_EQ(parsed.metadata.at("vocab_hash"), fmt::format("{:016x}", stored.vocab_hash));
      const auto genres = nlohmann::json::parse(parsed.metadata.at("genres")).get<std::vector<std::string>>();
      std::vector<std::string> listed;
      std::istringstream lines(test::read_file(run(v.name) / "genres.txt"));
      for (std::string line; std::getline(lines, line);)
        if (!line.empty()) listed.push_back(line);
      EXPECT_EQ(genres, listed);
    }
  }
}

TEST_F(ExportRun, CommandWritesBesideTheRunByDefaultAndPrintsThePath) {
  TempDir copy;
  fs::copy(run("primary"), copy / "run", fs::copy_options::recursive);
  const auto r = run_command(lyre() + " -q export " + (copy / "run").string() + " --fold 1 --format safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto file = copy / "run" / "export" / "fold-1.safetensors";
  EXPECT_EQ(r.output, file.string() + "\n");
  const auto stored = load_stored_model(checkpoint(copy / "run", 1));
  expect_file_holds(file, stored.spec, stored.params);
  // --out names the file; the format flag has a default.
  const auto named = run_command(lyre() + " -q export " + (copy / "run").string() + " --fold 0 --out " +
                                 (copy / "sub" / "w.safetensors").string());
  ASSERT_EQ(named.exit_code, 0) << named.output;
  EXPECT_TRUE(fs::exists(copy / "sub" / "w.safetensors"));
}

// Each refused command exits 2 with a message naming what is wrong and writes nothing.
TEST_F(ExportRun, BadInputIsRefusedWithNothingWritten) {
  TempDir work;
  fs::copy(run("primary"), work / "run", fs::copy_options::recursive);
  const auto target = work / "out.safetensors";
  const std::string run_dir = (work / "run").string();
  const auto refused = [&](const std::string& args, const std::string& named) {
    const auto r = run_command(lyre() + " export " + args + " --out " + target.string());
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_TRUE(contains(r.output, named)) << args;
    EXPECT_FALSE(fs::exists(target)) << args;
    EXPECT_FALSE(fs::exists(work / "run" / "export")) << args;
  };
  refused((work / "nothing").string() + " --fold 0", (work / "nothing").string() + ": no such run folder");
  refused(run_dir + " --fold 2", "no checkpoint for fold 2 (--fold: the run has folds 0..1)");
  refused(run_dir + " --fold -1", "no checkpoint for fold -1");
  refused(run_dir + " --fold 0 --format onnx", "--format onnx: unknown export format");
  refused(work.path().string() + " --fold 0", "is not a Lyre run folder");
  test::flip_byte(checkpoint(work / "run", 0), 200);
  refused(run_dir + " --fold 0", checkpoint(work / "run", 0).string());
  // The intact fold still exports.
  const auto ok = run_command(lyre() + " -q export " + run_dir + " --fold 1 --out " + target.string());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;

  // In process: the same checks, and an --out that is a folder.
  const auto msg = input_error([&] { export_fold({work / "run", 1, "safetensors", work.path()}); });
  EXPECT_TRUE(contains(msg, "is a folder"));
  test::write_file(work / "abl" / "ablation.json", "{}");
  EXPECT_TRUE(contains(input_error([&] { export_fold({work / "abl", 0, "safetensors", {}}); }),
                       "is an ablation folder"));
}

TEST_F(ExportRun, UnfinishedFoldIsRefused) {
  TempDir out;
  auto c = config();
  RunOptions o;
  o.out = out / "cut";
  o.write_report = false;
  o.stop_after_batches = 3;
  run_training(c, o);
  clear_stop_request();
  const auto msg = input_error([&] { export_fold({out / "cut", 0, "safetensors", out / "w.st"}); });
  EXPECT_TRUE(contains(msg, "unfinished fold"));
  EXPECT_FALSE(fs::exists(out / "w.st"));
}

// What load_safetensors.py reads from `lyre predict --json`: each song's
// vocabulary ids and each fold's logits.
TEST_F(ExportRun, PredictJsonCarriesTokenIdsAndEachFoldsLogits) {
  TempDir out;
  const auto vocab = data::Vocab::load(run("primary") / "vocab.txt");
  const auto all = nlohmann::json::parse(predict_json(run("primary"), "", out / "all.json"));
  const auto one = nlohmann::json::parse(predict_json(run("primary"), "--fold 1", out / "one.json"));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].at("token_ids").size(), 48u);  // cut at max_len
  EXPECT_EQ(all[0].at("token_ids")[0], 2);
  EXPECT_EQ(all[2].at("token_ids"), nlohmann::json::array({5}));
  const auto unk = all[3].at("token_ids");
  EXPECT_EQ(unk[15], data::Vocab::kUnk);
  ASSERT_EQ(all[1].at("logits").size(), 2u);
  EXPECT_EQ(all[1].at("logits")[1].at("fold"), 1);
  EXPECT_EQ(all[1].at("logits")[1].at("values").size(), 4u);
  ASSERT_EQ(one[1].at("logits").size(), 1u);
  EXPECT_EQ(one[1].at("logits")[0], all[1].at("logits")[1]);  // the same fold, the same numbers
  EXPECT_EQ(one[1].at("token_ids"), all[1].at("token_ids"));
}

// The export's purpose: PyTorch, given the file, computes what Lyre computes.
TEST_F(ExportRun, PyTorchLoadsTheFileAndGivesLyresLogits) {
  if (run_command("/usr/bin/python3 -c 'import torch, numpy' 2>&1").exit_code != 0)
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch and numpy (Debian: apt-get install "
                    "python3-torch python3-numpy): the PyTorch side of the export is not checked";
  const auto script = test::source_dir() / "tests" / "reference" / "load_safetensors.py";
  double worst = 0;
  for (const auto& v : kVariants) {
    SCOPED_TRACE(v.name);
    TempDir out;
    const int fold = 1;
    const auto file = out / "model.safetensors";
    const auto exported = run_command(lyre() + " -q export " + run(v.name).string() +
                                      " --fold 1 --out " + file.string());
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    const auto lyre_json = nlohmann::json::parse(predict_json(run(v.name), "--fold 1", out / "p.json"));
    const auto r = run_command("/usr/bin/python3 " + script.string() + " " + file.string() +
                               " --lyre-json " + (out / "p.json").string() + " > " +
                               (out / "torch.json").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto torch = nlohmann::json::parse(test::read_file(out / "torch.json"));
    ASSERT_EQ(torch.size(), lyre_json.size());
    for (std::size_t s = 0; s < torch.size(); ++s) {
      EXPECT_EQ(torch[s].at("token_ids"), lyre_json[s].at("token_ids"));
      const auto theirs = torch[s].at("logits").get<std::vector<double>>();
      const auto ours = lyre_json[s].at("logits")[0].at("values").get<std::vector<double>>();
      ASSERT_EQ(lyre_json[s].at("logits")[0].at("fold"), fold);
      ASSERT_EQ(theirs.size(), ours.size());
      double scale = 0, diff = 0;
      for (std::size_t c = 0; c < ours.size(); ++c) {
        scale = std::max(scale, std::abs(ours[c]));
        diff = std::max(diff, std::abs(theirs[c] - ours[c]));
      }
      // float32 on both sides, summed in different orders: relative 1e-5 of the largest logit.
      EXPECT_LE(diff, 1e-5 * scale) << "song " << s << ": |torch - lyre| " << diff << ", max |logit| " << scale;
      EXPECT_GT(scale, 0.0);
      worst = std::max(worst, diff / scale);
    }
  }
  RecordProperty("max_relative_logit_difference", std::to_string(worst));
  std::printf("max relative logit difference, PyTorch vs lyre predict: %.3g\n", worst);
}

}  // namespace
}  // namespace lyre
