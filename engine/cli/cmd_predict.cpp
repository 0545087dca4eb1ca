// lyre predict: genres of new lyrics from a finished run.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/csv_reader.hpp"
#include "engine/cli/commands.hpp"
#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/log.hpp"
#include "engine/core/strings.hpp"
#include "engine/train/predictor.hpp"

namespace lyre::cli {
namespace {

struct PredictOptions {
  std::string run;
  std::vector<std::string> texts;
  std::string file;
  std::string csv;
  std::string column = "Lyric";
  std::string output;
  int top_k = 3;
  int top_words = 8;
  int fold = -1;
  bool json = false;
};

// token_ids and each fold's logits let another implementation of the model
// (tests/reference/load_safetensors.py on a `lyre export` file) be checked
// against these numbers without re-implementing the lyrics cleaning.
nlohmann::json to_json(const Prediction& p, const std::vector<int>& folds) {
  nlohmann::json j = {{"tokens", p.tokens}, {"empty", p.empty}};
  for (const auto& g : p.top) j["genres"].push_back({{"genre", g.genre}, {"probability", g.probability}});
  for (const auto& w : p.attention) j["attention"].push_back({{"word", w.word}, {"weight", w.weight}});
  if (p.empty) return j;
  j["token_ids"] = p.token_ids;
  for (std::size_t m = 0; m < p.logits.size(); ++m)
    j["logits"].push_back({{"fold", folds.at(m)}, {"values", p.logits[m]}});
  return j;
}

void print_text(const Prediction& p, std::size_t index, std::size_t count) {
  if (count > 1) fmt::print("song {}:\n", index + 1);
  if (p.empty) {
    fmt::print("  no word left after cleaning: nothing to predict\n");
    return;
  }
  for (const auto& g : p.top) fmt::print("  {:<24} {:5.1f}%\n", g.genre, 100.0 * g.probability);
  if (!p.attention.empty()) {
    std::string words;
    for (const auto& w : p.attention) words += fmt::format("{}{} ({:.3f})", words.empty() ? "" : ", ", w.word, w.weight);
    fmt::print("  attention: {}\n", words);
  }
}

int predict_csv(Predictor& predictor, const PredictOptions& o) {
  data::CsvReader reader(o.csv);
  const auto column = reader.column(o.column);
  std::vector<std::string> lyrics;
  std::vector<std::string_view> fields;
  while (reader.next(fields)) lyrics.emplace_back(fields[column]);
  const auto predictions = predictor.predict(lyrics, o.top_k, o.top_words);
  std::string out = "row";
  for (int k = 1; k <= o.top_k; ++k) out += fmt::format(",genre_{},probability_{}", k, k);
  out += ",top_words\n";
  std::size_t empty = 0;
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    const auto& p = predictions[i];
    out += std::to_string(i + 1);
    for (int k = 0; k < o.top_k; ++k) {
      if (static_cast<std::size_t>(k) < p.top.size())
        out += fmt::format(",{},{:.6f}", csv_field(p.top[static_cast<std::size_t>(k)].genre),
                           p.top[static_cast<std::size_t>(k)].probability);
      else
        out += ",,";
    }
    std::string words;
    for (const auto& w : p.attention) words += (words.empty() ? "" : " ") + w.word;
    out += "," + csv_field(words) + "\n";
    empty += p.empty ? 1 : 0;
  }
  if (empty) log::warn("{} of {} rows had no word left after cleaning; their genres are empty", empty, predictions.size());
  if (o.output.empty()) {
    fmt::print("{}", out);
  } else {
    write_text_file(o.output, out);
    log::info("wrote {} predictions to {}", predictions.size(), o.output);
  }
  return 0;
}

int run_predict(const PredictOptions& o) {
  Predictor predictor(o.run, o.fold >= 0 ? std::optional<int>(o.fold) : std::nullopt);
  log::info("{} model(s) from {}: {}", predictor.models(), o.run, predictor.spec().describe());
  if (!o.csv.empty()) return predict_csv(predictor, o);
  std::vector<std::string> lyrics = o.texts;
  if (!o.file.empty()) lyrics.push_back(read_text_file(o.file));
  if (lyrics.empty()) {  // stdin: one song
    lyrics.emplace_back(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  const auto predictions = predictor.predict(lyrics, o.top_k, o.top_words);
  if (o.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : predictions) j.push_back(to_json(p, predictor.folds()));
    fmt::print("{}\n", j.dump(2));
  } else {
    for (std::size_t i = 0; i < predictions.size(); ++i) print_text(predictions[i], i, predictions.size());
  }
  const bool all_empty = std::all_of(predictions.begin(), predictions.end(), [](const Prediction& p) { return p.empty; });
  if (all_empty) fail_input("no word of the given lyrics is left after cleaning; nothing to predict");
  return 0;
}

}  // namespace

void add_predict_command(CLI::App& root, Commands& commands) {
  auto o = std::make_shared<PredictOptions>();
  auto* app = root.add_subcommand(
      "predict", "genres of new lyrics (--text, --file, --csv, or stdin) from a finished run");
  app->add_option("--run,-r", o->run, "finished run folder")->required()->check(CLI::ExistingDirectory);
  auto* text = app->add_option("--text,-t", o->texts, "lyrics to classify (repeatable)");
  auto* file = app->add_option("--file,-f", o->file, "a file holding one song's lyrics")->check(CLI::ExistingFile);
  auto* csv = app->add_option("--csv", o->csv, "a CSV of many songs (see --column)")->check(CLI::ExistingFile);
  csv->excludes(text)->excludes(file);
  app->add_option("--column", o->column, "CSV column holding the lyrics (default Lyric)");
  app->add_option("--output", o->output, "write the CSV predictions here (default: stdout)");
  app->add_option("--top-k,-k", o->top_k, "genres to show")->check(CLI::Range(1, 1000));
  app->add_option("--top-words", o->top_words, "most attended words to show")->check(CLI::Range(0, 1000));
  app->add_option("--fold", o->fold, "use one fold's model (default: average over folds)")->check(CLI::Range(0, 1000));
  app->add_flag("--json", o->json, "print JSON");
  commands.push_back({app, [o] { return run_predict(*o); }});
}

}  // namespace lyre::cli
