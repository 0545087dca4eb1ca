// The experiment config: strict schema, clear errors, overrides, extends.
#include <gtest/gtest.h>

#include "engine/config/config.hpp"
#include "engine/core/error.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

using test::input_error;

using test::TempDir;
using test::write_file;

// Runs `f`, expects an InputError, returns its message.
TEST(Config, EmptyFileGivesDefaults) {
  const auto c = parse_config("", "empty.yaml");
  EXPECT_EQ(c.model.hidden, 128);
  EXPECT_EQ(c.train.batch_size, 100);
  EXPECT_EQ(c.train.epochs, 15);
  EXPECT_DOUBLE_EQ(c.model.dropout, 0.2);
  EXPECT_EQ(c.model.attention, AttentionKind::additive);
  EXPECT_EQ(c.model.pool, PoolKind::mean);
  EXPECT_EQ(c.cv.folds, 5);
}

TEST(Config, ReadsNestedKeys) {
  const auto c = parse_config(R"(
name: x
model:
  hidden: 64
  attention: none
  embedding: {dim: 50, freeze: true}
train:
  optimizer: {lr: 0.01, clip_norm: 5}
data:
  per_genre: all
  top_genres: 3
)",
                              "x.yaml");
  EXPECT_EQ(c.model.hidden, 64);
  EXPECT_EQ(c.model.attention, AttentionKind::none);
  EXPECT_EQ(c.model.embedding.dim, 50);
  EXPECT_TRUE(c.model.embedding.freeze);
  EXPECT_DOUBLE_EQ(c.train.optimizer.lr, 0.01);
  EXPECT_DOUBLE_EQ(c.train.optimizer.clip_norm, 5.0);
  EXPECT_EQ(c.data.per_genre, 0);
  EXPECT_EQ(c.data.top_genres, 3);
}

TEST(Config, UnknownKeyNamesFileLineAndSuggestion) {
  const auto msg = input_error([] { parse_config("name: x\nmodel:\n  hiden: 64\n", "c.yaml"); });
  EXPECT_NE(msg.find("c.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key 'model.hiden'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'model.hidden'"), std::string::npos) << msg;
}

TEST(Config, UnknownTopLevelKey) {
  const auto msg = input_error([] { parse_config("nmae: x\n", "c.yaml"); });
  EXPECT_NE(msg.find("c.yaml:1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'name'"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesKeyAndExpectation) {
  const auto msg = input_error([] { parse_config("model:\n  hidden: lots\n", "c.yaml"); });
  EXPECT_NE(msg.find("c.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'model.hidden'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'lots'"), std::string::npos) << msg;
}

// Found by tests/fuzz/fuzz_config (tests/data/fuzz_regressions/config-complex-key.yaml,
// primary.yaml mutated so that a "? ..." line makes a mapping the key of
// another): yaml-cpp's "bad conversion" escaped instead of an InputError, so
// `lyre` exited 1 without naming the file.
TEST(Config, KeysThatAreNotNamesAreInputErrors) {
  const auto fuzzed = test::test_data_dir() / "fuzz_regressions" / "config-complex-key.yaml";
  const auto msg = input_error([&] { load_config(fuzzed); });
  EXPECT_TRUE(test::contains(msg, "config-complex-key.yaml:6: a key must be a plain name")) << msg;

  for (const char* text : {"? [a, b]\n: 1\n", "? {model: 1}\n: 2\n", "model:\n  ? [hidden]\n  : 3\n",
                           "? \n: 4\n", "ablation:\n  - {? [name] : x}\n",
                           "ablation:\n  - {name: a, set: {? [model.hidden] : 64}}\n"}) {
    const auto m = input_error([&] { parse_config(text, "c.yaml"); });
    EXPECT_TRUE(test::contains(m, "c.yaml:")) << text;
    EXPECT_TRUE(test::contains(m, "a key must be a plain name")) << text;
  }
}

// Found by tests/fuzz/fuzz_config: `extends:` naming a folder let yaml-cpp's
// "basic_filebuf::underflow ... Is a directory" escape instead of an InputError.
TEST(Config, ExtendsAFolderIsAnInputError) {
  TempDir dir;
  for (const char* target : {".", "''", "sub"}) {
    std::filesystem::create_directories(dir / "sub");
    const auto path = write_file(dir / "c.yaml", std::string("extends: ") + target + "\nname: x\n");
    const auto msg = input_error([&] { load_config(path); });
    EXPECT_TRUE(test::contains(msg, "is not a regular file")) << target << ": " << msg;
  }
}

TEST(Config, OutOfRangeIsAnError) {
  EXPECT_NE(input_error([] { parse_config("model: {hidden: 0}", "c.yaml"); }).find("model.hidden"),
            std::string::npos);
  EXPECT_NE(input_error([] { parse_config("model: {dropout: 1.5}", "c.yaml"); }).find("model.dropout"),
            std::string::npos);
  EXPECT_NE(input_error([] { parse_config("train: {optimizer: {lr: 0}}", "c.yaml"); })
                .find("train.optimizer.lr"),
            std::string::npos);
  EXPECT_NE(input_error([] { parse_config("model: {hidden: 12.5}", "c.yaml"); }).find("model.hidden"),
            std::string::npos);
}

TEST(Config, EnumsAndBooleansAreStrict) {
  EXPECT_NE(input_error([] { parse_config("model: {pool: max}", "c.yaml"); }).find("mean | none"),
            std::string::npos);
  EXPECT_NE(input_error([] { parse_config("cv: {concurrent: maybe}", "c.yaml"); })
                .find("true or false"),
            std::string::npos);
}

TEST(Config, SectionMustBeAMapping) {
  const auto msg = input_error([] { parse_config("model: 5\n", "c.yaml"); });
  EXPECT_NE(msg.find("'model' must hold a mapping"), std::string::npos) << msg;
}

TEST(Config, InvalidYamlNamesLine) {
  const auto msg = input_error([] { parse_config("name: x\nmodel: [1, 2\n", "c.yaml"); });
  EXPECT_NE(msg.find("c.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
}

TEST(Config, SetOverridesAnyKey) {
  const auto c = parse_config("model: {hidden: 128}", "c.yaml",
                              {"model.hidden=64", "train.backend=cpu", "data.per_genre=all"});
  EXPECT_EQ(c.model.hidden, 64);
  EXPECT_EQ(c.train.backend, BackendKind::cpu);
  EXPECT_EQ(c.data.per_genre, 0);
}

TEST(Config, BadSetIsNamed) {
  auto msg = input_error([] { parse_config("", "c.yaml", {"model.hiden=64"}); });
  EXPECT_NE(msg.find("--set model.hiden=64"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'model.hidden'"), std::string::npos) << msg;
  msg = input_error([] { parse_config("", "c.yaml", {"model.hidden=big"}); });
  EXPECT_NE(msg.find("--set model.hidden=big"), std::string::npos) << msg;
  msg = input_error([] { parse_config("", "c.yaml", {"model.hidden"}); });
  EXPECT_NE(msg.find("key=value"), std::string::npos) << msg;
}

TEST(Config, NameMustBeUsableAsFolderName) {
  const auto msg = input_error([] { parse_config("name: a/b", "c.yaml"); });
  EXPECT_NE(msg.find("'name'"), std::string::npos) << msg;
}

TEST(Config, ResolvedYamlRoundTrips) {
  auto c = parse_config(R"(
name: rt
seed: 9
data: {per_genre: all, language: en, genre_policy: every}
model: {hidden: 32, pool: none, dropout: 0.25}
train: {optimizer: {lr: 0.003, eps: 1.0e-7}}
ablation:
  - name: a
    set: {model.hidden: 16}
)",
                        "rt.yaml");
  const auto yaml = to_yaml(c);
  const auto again = parse_config(yaml, "resolved.yaml");
  EXPECT_EQ(to_yaml(again), yaml);
  EXPECT_EQ(again.model.hidden, 32);
  EXPECT_DOUBLE_EQ(again.train.optimizer.eps, 1e-7);
  EXPECT_EQ(again.data.genre_policy, GenrePolicy::every);
  ASSERT_EQ(again.ablation.size(), 1u);
  EXPECT_EQ(again.ablation[0].overrides[0].first, "model.hidden");
}

TEST(Config, ExtendsAppliesBaseThenChild) {
  TempDir dir;
  write_file(dir / "base.yaml", "name: base\nmodel: {hidden: 32, layers: 2}\n");
  write_file(dir / "sub" / "child.yaml", "extends: ../base.yaml\nname: child\nmodel: {hidden: 16}\n");
  const auto c = load_config(dir / "sub" / "child.yaml");
  EXPECT_EQ(c.name, "child");
  EXPECT_EQ(c.model.hidden, 16);
  EXPECT_EQ(c.model.layers, 2);
}

TEST(Config, ErrorsInBaseFileNameTheBaseFile) {
  TempDir dir;
  write_file(dir / "base.yaml", "model:\n  hidden: x\n");
  write_file(dir / "child.yaml", "extends: base.yaml\n");
  const auto msg = input_error([&] { load_config(dir / "child.yaml"); });
  EXPECT_NE(msg.find("base.yaml:2"), std::string::npos) << msg;
}

TEST(Config, ExtendsCycleIsAnError) {
  TempDir dir;
  write_file(dir / "a.yaml", "extends: b.yaml\n");
  write_file(dir / "b.yaml", "extends: a.yaml\n");
  EXPECT_NE(input_error([&] { load_config(dir / "a.yaml"); }).find("cycle"), std::string::npos);
}

TEST(Config, MissingFileIsNamed) {
  const auto msg = input_error([] { load_config("/nonexistent/lyre.yaml"); });
  EXPECT_NE(msg.find("/nonexistent/lyre.yaml"), std::string::npos) << msg;
}

TEST(Config, AblationVariantsAreValidatedAtLoad) {
  auto msg = input_error([] {
    parse_config("ablation:\n  - name: a\n    set:\n      model.hiden: 3\n", "c.yaml");
  });
  EXPECT_NE(msg.find("c.yaml:4"), std::string::npos) << msg;
  msg = input_error([] {
    parse_config("ablation:\n  - name: a\n    set: {model.hidden: zero}\n", "c.yaml");
  });
  EXPECT_NE(msg.find("model.hidden"), std::string::npos) << msg;
  msg = input_error([] { parse_config("ablation:\n  - {name: a}\n  - {name: a}\n", "c.yaml"); });
  EXPECT_NE(msg.find("used twice"), std::string::npos) << msg;
  msg = input_error([] {
    parse_config("ablation:\n  - name: a\n    set: {data.per_genre: 10}\n", "c.yaml");
  });
  EXPECT_NE(msg.find("cannot vary"), std::string::npos) << msg;
  msg = input_error([] { parse_config("ablation:\n  - set: {}\n", "c.yaml"); });
  EXPECT_NE(msg.find("needs a 'name'"), std::string::npos) << msg;
}

TEST(Config, ApplyOverridesForVariants) {
  auto c = parse_config("", "c.yaml");
  apply_overrides(c, {{"model.attention", "none"}, {"model.pool", "none"}}, "variant x");
  EXPECT_EQ(c.model.attention, AttentionKind::none);
  EXPECT_EQ(c.model.pool, PoolKind::none);
}

TEST(Config, ShippedConfigsLoad) {
  // Every shipped config trains the paper's model.
  for (const char* name : {"demo.yaml", "primary.yaml", "full.yaml", "ablation.yaml"}) {
    SCOPED_TRACE(name);
    const auto c = load_config(test::source_dir() / "configs" / name);
    EXPECT_EQ(c.model.hidden, 128);
    EXPECT_EQ(c.model.embedding.dim, 100);
    EXPECT_EQ(c.model.attention, AttentionKind::additive);
    EXPECT_EQ(c.model.pool, PoolKind::mean);
    EXPECT_DOUBLE_EQ(c.model.dropout, 0.2);
    EXPECT_EQ(c.cv.folds, 5);
  }
  // The demo's one departure: smaller batches for its small corpus, and the
  // paper's ablation variants so `lyre ablate` shows them.
  const auto demo = load_config(test::source_dir() / "configs" / "demo.yaml");
  EXPECT_EQ(demo.data.source, DataSource::synthetic);
  EXPECT_EQ(demo.train.batch_size, 20);
  EXPECT_EQ(demo.ablation.size(), 4u);
  const auto ablation = load_config(test::source_dir() / "configs" / "ablation.yaml");
  ASSERT_EQ(ablation.ablation.size(), 4u);
  EXPECT_EQ(ablation.ablation[3].overrides[0], (std::pair<std::string, std::string>{"model.hidden", "64"}));
  const auto primary = load_config(test::source_dir() / "configs" / "primary.yaml");
  EXPECT_EQ(primary.data.top_genres, 10);
  EXPECT_EQ(primary.data.per_genre, 2000);
  EXPECT_EQ(primary.train.epochs, 15);
  EXPECT_EQ(primary.train.batch_size, 100);
  EXPECT_EQ(primary.cv.folds, 5);
  const auto full = load_config(test::source_dir() / "configs" / "full.yaml");
  EXPECT_EQ(full.data.per_genre, 0);
  EXPECT_EQ(full.data.top_genres, 0);
}

TEST(Config, DescribeKeysListsEveryKey) {
  const auto keys = describe_keys();
  for (const char* key : {"model.hidden", "data.glove.path", "cuda.precision", "train.optimizer.lr",
                          "cv.folds", "ablation", "extends"})
    EXPECT_NE(keys.find(key), std::string::npos) << key;
}

}  // namespace
}  // namespace lyre
