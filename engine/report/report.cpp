// The HTML/SVG reports, drawn only from the files a run leaves in its folder
// (run_dir.hpp), so `lyre report DIR` can redraw them at any time, also for a
// run still going. The input is read into small structs first (every missing
// key or wrong type becomes an InputError naming the file), then rendered.
#include "engine/report/report.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "engine/core/error.hpp"
#include "engine/core/files.hpp"
#include "engine/core/strings.hpp"
#include "engine/report/svg.hpp"
#include "engine/train/metrics.hpp"
#include "engine/train/run_dir.hpp"

namespace lyre {
namespace fs = std::filesystem;
using nlohmann::json;
using svg::escape;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The per-epoch curves: a key of EpochMetrics::to_json, drawn train vs validation.
struct CurveMetric {
  const char* key;
  const char* title;
  const char* file;
  bool percent;
};

constexpr CurveMetric kCurveMetrics[] = {
    {"loss", "Loss", "curves-loss.svg", false},
    {"accuracy", "Accuracy", "curves-accuracy.svg", true},
    {"macro_precision", "Macro precision", "curves-macro-precision.svg", true},
    {"macro_recall", "Macro recall", "curves-macro-recall.svg", true},
    {"macro_f1", "Macro F1", "curves-macro-f1.svg", true},
    {"threshold_precision", "Precision at 0.5 (Keras)", "curves-threshold-precision.svg", true},
    {"threshold_recall", "Recall at 0.5 (Keras)", "curves-threshold-recall.svg", true},
};
constexpr std::size_t kNumCurves = std::size(kCurveMetrics);
using CurveValues = std::array<double, kNumCurves>;

// The mean ± std columns of summary.json, in reading order.
struct MeanColumn {
  const char* key;
  const char* title;
  bool percent;
};

constexpr MeanColumn kMeanColumns[] = {
    {"train_accuracy", "train acc %", true},
    {"validation_accuracy", "val acc %", true},
    {"validation_loss", "val loss", false},
    {"test_accuracy", "test acc %", true},
    {"test_loss", "test loss", false},
    {"test_macro_precision", "test macro P %", true},
    {"test_macro_recall", "test macro R %", true},
    {"test_macro_f1", "test macro F1 %", true},
    {"test_threshold_precision", "test P@0.5 %", true},
    {"test_threshold_recall", "test R@0.5 %", true},
};

// ===========================================================================
// Reading the run folder

// A JSON number; null where the run wrote a non-finite value (JSON has no NaN).
double number(const json& object, const char* key) {
  const auto& v = object.at(key);
  return v.is_null() ? kNaN : v.get<double>();
}

double optional_number(const json& object, const char* key) {
  return object.contains(key) ? number(object, key) : kNaN;
}

json parse_json_file(const fs::path& file) {
  verify_run_files(file.parent_path(), {file.filename().string()});
  try {
    return json::parse(read_text_file(file));
  } catch (const json::exception& e) {
    fail_input("{}: not valid JSON: {}", file.string(), e.what());
  }
}

// Runs `read` over a file's parsed content: a missing key or a wrong type
// becomes an InputError naming the file.
template <typename Fn>
auto read_content(const fs::path& file, Fn read) {
  try {
    return read();
  } catch (const json::exception& e) {
    fail_input("{}: unexpected content: {}", file.string(), e.what());
  }
}

struct EpochValues {
  CurveValues train{};
  CurveValues validation{};
  double tokens_per_second = kNaN;
};

struct FoldCurves {
  int fold = 0;
  std::string split;
  std::map<int, EpochValues> epochs;
};

CurveValues curve_values(const json& metrics) {
  CurveValues values{};
  for (std::size_t i = 0; i < kNumCurves; ++i) values[i] = number(metrics, kCurveMetrics[i].key);
  return values;
}

[[noreturn]] void fail_no_metrics(const fs::path& run_dir) {
  if (fs::is_directory(run_dir / "variants"))
    fail_input("{}: no metrics.jsonl and no ablation.json: an ablation that has not finished? "
               "Each variant's report can be drawn on its own: lyre report {}",
               run_dir.string(), (run_dir / "variants" / "NAME").string());
  fail_input("{}: no metrics.jsonl, so nothing to report: not a Lyre run folder, or a run that "
             "has not finished its first epoch",
             run_dir.string());
}

// metrics.jsonl by fold and epoch. A later line for the same (fold, epoch)
// replaces an earlier one: that is what a resumed run recorded last.
std::vector<FoldCurves> read_curves(const fs::path& run_dir) {
  const auto file = run_dir / "metrics.jsonl";
  if (!fs::is_regular_file(file)) fail_no_metrics(run_dir);
  const auto lines = read_metrics(run_dir);
  std::map<int, FoldCurves> folds;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    try {
      const int fold = line.at("fold").get<int>();
      auto& curves = folds[fold];
      curves.fold = fold;
      curves.split = line.at("split").get<std::string>();
      curves.epochs[line.at("epoch").get<int>()] = {curve_values(line.at("train")),
                                                    curve_values(line.at("validation")),
                                                    optional_number(line, "train_tokens_per_second")};
    } catch (const json::exception& e) {
      fail_input("{}: record {} (of the non-empty lines): {}", file.string(), i + 1, e.what());
    }
  }
  std::vector<FoldCurves> out;
  for (auto& [fold, curves] : folds) out.push_back(std::move(curves));
  return out;
}

struct FoldResult {
  int fold = 0;
  std::string split;
  int epochs = 0;
  int best_epoch = 0;
  std::uint64_t train_songs = 0;
  std::uint64_t validation_songs = 0;
  std::uint64_t test_songs = 0;
  double train_accuracy = kNaN;       // at the last epoch
  double validation_accuracy = kNaN;  // at the last epoch
  double songs_per_second = kNaN;
  EpochMetrics test;                  // with its confusion matrix
};

struct RunSummary {
  std::string name;
  std::string backend;
  std::string model;
  std::uint64_t parameters = 0;
  std::vector<std::string> genres;
  double wall_seconds = kNaN;
  double songs_per_second_wall = kNaN;
  double train_seconds_sum = kNaN;
  std::vector<FoldResult> folds;
  std::map<std::string, MeanStd> mean;
  std::vector<std::uint64_t> total_confusion;
};

std::vector<std::uint64_t> read_confusion(const json& counts, std::size_t classes,
                                          const fs::path& file, std::string_view what) {
  auto confusion = counts.get<std::vector<std::uint64_t>>();
  if (confusion.size() != classes * classes)
    fail_input("{}: {} holds {} counts, but {} genres need {} x {}", file.string(), what,
               confusion.size(), classes, classes, classes);
  return confusion;
}

EpochMetrics read_test_metrics(const json& j, std::size_t classes, const fs::path& file,
                               std::string_view what) {
  EpochMetrics m;
  m.songs = j.at("songs").get<std::uint64_t>();
  m.loss = number(j, "loss");
  m.accuracy = number(j, "accuracy");
  m.macro_precision = number(j, "macro_precision");
  m.macro_recall = number(j, "macro_recall");
  m.macro_f1 = number(j, "macro_f1");
  m.threshold_precision = number(j, "threshold_precision");
  m.threshold_recall = number(j, "threshold_recall");
  m.num_classes = static_cast<int>(classes);
  m.confusion = read_confusion(j.at("confusion"), classes, file, what);
  return m;
}

FoldResult read_fold(const json& f, std::size_t classes, const fs::path& file) {
  FoldResult r;
  r.fold = f.at("fold").get<int>();
  r.split = f.at("split").get<std::string>();
  r.epochs = f.at("epochs").get<int>();
  r.best_epoch = f.at("best_epoch").get<int>();
  const auto& songs = f.at("songs");
  r.train_songs = songs.at("train").get<std::uint64_t>();
  r.validation_songs = songs.at("validation").get<std::uint64_t>();
  r.test_songs = songs.at("test").get<std::uint64_t>();
  // A fold that ran no epoch has no last train / validation metrics.
  if (f.contains("train")) r.train_accuracy = number(f.at("train"), "accuracy");
  if (f.contains("validation")) r.validation_accuracy = number(f.at("validation"), "accuracy");
  r.songs_per_second = optional_number(f, "train_songs_per_second");
  r.test = read_test_metrics(f.at("test"), classes, file, fmt::format("the test confusion of {}", r.split));
  return r;
}

// summary.json's content; `file` names where it came from in errors (a run's
// summary.json, or a variant's entry in ablation.json).
RunSummary read_summary(const json& s, const fs::path& file) {
  return read_content(file, [&] {
    RunSummary r;
    r.name = s.at("name").get<std::string>();
    r.backend = s.at("backend").get<std::string>();
    r.model = s.at("model").get<std::string>();
    r.parameters = s.at("parameters").get<std::uint64_t>();
    r.genres = s.at("genres").get<std::vector<std::string>>();
    if (r.genres.empty()) fail_input("{}: the genre list is empty", file.string());
    r.wall_seconds = number(s, "wall_seconds");
    r.songs_per_second_wall = optional_number(s, "train_songs_per_second_wall");
    r.train_seconds_sum = optional_number(s, "train_seconds_sum");
    for (const auto& f : s.at("folds")) r.folds.push_back(read_fold(f, r.genres.size(), file));
    if (r.folds.empty()) fail_input("{}: the summary lists no folds", file.string());
    for (const auto& [key, value] : s.at("mean").items())
      r.mean[key] = MeanStd{number(value, "mean"), number(value, "std")};
    r.total_confusion = read_confusion(s.at("test_confusion_total"), r.genres.size(), file,
                                       "test_confusion_total");
    return r;
  });
}

// What run.json tells about a run before it has a summary.
struct RunInfo {
  std::string name;
  std::string model;
  std::string backend;
  std::string host;
  std::string started;
};

std::optional<RunInfo> read_run_info(const fs::path& run_dir) {
  const auto file = run_dir / "run.json";
  if (!fs::is_regular_file(file)) return std::nullopt;
  const auto j = parse_json_file(file);
  return read_content(file, [&] {
    return RunInfo{j.value("name", ""), j.value("model", ""), j.value("backend", ""),
                   j.value("host", ""), j.value("started", "")};
  });
}

// ===========================================================================
// Formatting

std::string percent_text(double v) {
  return std::isfinite(v) ? fmt::format("{:.1f}", 100.0 * v) : "–";
}

std::string loss_text(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : "–"; }

std::string mean_std_text(const MeanStd& ms, bool percent) {
  if (!std::isfinite(ms.mean)) return "–";
  const double scale = percent ? 100.0 : 1.0;
  const int digits = percent ? 1 : 3;
  return fmt::format("{:.{}f} ± {:.{}f}", scale * ms.mean, digits, scale * ms.std, digits);
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds)) return "–";
  if (seconds < 120) return fmt::format("{:.1f} s", seconds);
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s < 7200) return fmt::format("{} min {:02} s", s / 60, s % 60);
  return fmt::format("{} h {:02} min", s / 3600, (s / 60) % 60);
}

std::string rate_text(double per_second) {
  return std::isfinite(per_second) && per_second >= 0
             ? with_thousands(static_cast<unsigned long long>(std::llround(per_second)))
             : "–";
}

double confusion_accuracy(const std::vector<std::uint64_t>& confusion, std::size_t classes) {
  std::uint64_t total = 0;
  std::uint64_t correct = 0;
  for (std::size_t i = 0; i < confusion.size(); ++i) {
    total += confusion[i];
    if (i / classes == i % classes) correct += confusion[i];
  }
  return total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : kNaN;
}

// Percent-encodes a relative path for an href, so a folder named "R&B #2"
// still links to itself.
std::string href_path(const fs::path& relative) {
  std::string out;
  for (const char c : relative.generic_string()) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

// ===========================================================================
// HTML

constexpr const char* kStyle = R"(
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #222; font-size: 15px; line-height: 1.45;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 32px 48px; }
h1 { font-size: 26px; margin: 12px 0 2px; }
h2 { font-size: 19px; margin: 34px 0 12px; padding-bottom: 4px; border-bottom: 1px solid #dde1e6; }
.subtitle { color: #555; margin: 0 0 18px; }
.note { background: #fff8e1; border: 1px solid #f0d48a; border-radius: 6px; padding: 10px 14px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #dde1e6; padding: 5px 10px; text-align: right; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
.text { text-align: left; }
tr.mean td { font-weight: 600; background: #f3f7fc; }
table.facts th { text-align: left; min-width: 11em; }
table.facts td { text-align: left; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 8px; }
figure img { display: block; width: 100%; height: auto; }
figcaption { color: #555; font-size: 13px; margin-top: 4px; }
a { color: #0b5cad; }
footer { color: #777; font-size: 13px; margin-top: 40px; }
)";

std::string html_page(std::string_view title, std::string_view body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n{}"
      "<footer>Drawn by <code>lyre report</code> from the files of this folder; it needs no "
      "network.</footer>\n</main>\n</body>\n</html>\n",
      escape(title), kStyle, body);
}

std::string figure(std::string_view file, std::string_view caption) {
  return fmt::format(
      "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\" loading=\"lazy\"></a>"
      "<figcaption>{1}</figcaption></figure>\n",
      href_path(file), escape(caption));
}

std::string facts_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string out = "<table class=\"facts\">\n";
  for (const auto& [key, value] : rows)
    out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", escape(key), escape(value));
  return out + "</table>\n";
}

// Links to the run folder's own files that exist (the page sits in report/).
std::string files_section(const fs::path& dir, std::initializer_list<const char*> names) {
  std::string items;
  for (const char* name : names)
    if (fs::exists(dir / name))
      items += fmt::format("<li><a href=\"../{0}\">{0}</a></li>\n", escape(name));
  return items.empty() ? "" : "<h2>Files</h2>\n<ul>\n" + items + "</ul>\n";
}

// ===========================================================================
// Run report

void write_curves(const fs::path& report_dir, const std::vector<FoldCurves>& folds) {
  for (std::size_t m = 0; m < kNumCurves; ++m) {
    const auto& metric = kCurveMetrics[m];
    svg::LineChart chart;
    chart.title = fmt::format("{} per epoch", metric.title);
    chart.x_label = "epoch";
    chart.y_label = metric.percent ? fmt::format("{} (%)", metric.title) : metric.title;
    chart.percent = metric.percent;
    chart.solid_meaning = "train";
    chart.dashed_meaning = "validation";
    for (std::size_t f = 0; f < folds.size(); ++f) {
      svg::Series train{folds[f].split, svg::palette_color(f), false, {}};
      svg::Series validation{folds[f].split, svg::palette_color(f), true, {}};
      for (const auto& [epoch, values] : folds[f].epochs) {
        train.points.push_back({static_cast<double>(epoch), values.train[m]});
        validation.points.push_back({static_cast<double>(epoch), values.validation[m]});
      }
      chart.series.push_back(std::move(train));
      chart.series.push_back(std::move(validation));
    }
    write_text_file(report_dir / metric.file, svg::line_chart(chart));
  }
}

std::string curves_section(const std::vector<FoldCurves>& folds) {
  std::string out = "<h2>Training curves</h2>\n";
  if (std::all_of(folds.begin(), folds.end(), [](const FoldCurves& f) { return f.epochs.empty(); }))
    out += "<p class=\"note\">metrics.jsonl holds no epoch yet.</p>\n";
  out += "<p>Solid lines: train; dashed: validation; one color per fold. Click a chart to open "
         "it alone.</p>\n<div class=\"figures\">\n";
  for (const auto& metric : kCurveMetrics)
    out += figure(metric.file, fmt::format("{}: train vs validation, per epoch", metric.title));
  return out + "</div>\n";
}

svg::HeatMap confusion_map(std::string title, const std::vector<std::string>& genres,
                           std::vector<std::uint64_t> counts) {
  return {std::move(title), "true genre", "predicted genre", genres, std::move(counts)};
}

std::string confusion_section(const fs::path& report_dir, const RunSummary& s) {
  std::string figures;
  const auto classes = s.genres.size();
  if (s.folds.size() > 1) {
    const auto title = fmt::format("Test confusion, all {} folds (accuracy {}%)", s.folds.size(),
                                   percent_text(confusion_accuracy(s.total_confusion, classes)));
    write_text_file(report_dir / "confusion-total.svg",
                    svg::heat_map(confusion_map(title, s.genres, s.total_confusion)));
    figures += figure("confusion-total.svg", title);
  }
  for (const auto& f : s.folds) {
    const auto file = fmt::format("confusion-fold-{}.svg", f.fold);
    const auto title = fmt::format("Test confusion, {} (accuracy {}%)", f.split,
                                   percent_text(f.test.accuracy));
    write_text_file(report_dir / file, svg::heat_map(confusion_map(title, s.genres, f.test.confusion)));
    figures += figure(file, title);
  }
  return "<h2>Test confusion matrices</h2>\n<p>Rows: true genre; columns: predicted genre. A "
         "cell's color is its share of the row; its number is the count of songs.</p>\n"
         "<div class=\"figures\">\n" +
         figures + "</div>\n";
}

// The table of summary.md, with the same numbers.
std::string summary_table(const RunSummary& s) {
  std::string out =
      "<h2>Test results</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"text\">fold</th>"
      "<th>epochs</th><th>best epoch</th><th>train acc %</th><th>val acc %</th><th>test acc %</th>"
      "<th>test loss</th><th>macro P %</th><th>macro R %</th><th>macro F1 %</th><th>P@0.5 %</th>"
      "<th>R@0.5 %</th></tr>\n";
  for (const auto& f : s.folds) {
    const auto& t = f.test;
    out += fmt::format(
        "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        escape(f.split), f.epochs, f.best_epoch, percent_text(f.train_accuracy),
        percent_text(f.validation_accuracy), percent_text(t.accuracy), loss_text(t.loss),
        percent_text(t.macro_precision), percent_text(t.macro_recall), percent_text(t.macro_f1),
        percent_text(t.threshold_precision), percent_text(t.threshold_recall));
  }
  const auto ms = [&](const char* key, bool percent) {
    const auto it = s.mean.find(key);
    return it == s.mean.end() ? std::string("–") : mean_std_text(it->second, percent);
  };
  out += fmt::format(
      "<tr class=\"mean\"><td class=\"text\">mean ± std</td><td></td><td></td><td>{}</td><td>{}</td>"
      "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
      ms("train_accuracy", true), ms("validation_accuracy", true), ms("test_accuracy", true),
      ms("test_loss", false), ms("test_macro_precision", true), ms("test_macro_recall", true),
      ms("test_macro_f1", true), ms("test_threshold_precision", true),
      ms("test_threshold_recall", true));
  return out + "</table></div>\n<p>Train and validation accuracy at each fold's last epoch; test "
               "metrics of the kept weights (the best epoch with early stopping).</p>\n";
}

double mean_tokens_per_second(const FoldCurves& f) {
  double sum = 0;
  int count = 0;
  for (const auto& [epoch, values] : f.epochs)
    if (std::isfinite(values.tokens_per_second)) {
      sum += values.tokens_per_second;
      ++count;
    }
  return count > 0 ? sum / count : kNaN;
}

std::string split_text(std::size_t folds) {
  return folds == 1 ? "one train / validation / test split" : fmt::format("{} folds", folds);
}

std::vector<std::pair<std::string, std::string>> finished_facts(const RunSummary& s,
                                                                const std::vector<FoldCurves>& curves,
                                                                const std::optional<RunInfo>& info) {
  const auto& first = s.folds.front();
  double fold_rate = 0;
  for (const auto& f : s.folds) fold_rate += f.songs_per_second;
  fold_rate /= static_cast<double>(s.folds.size());
  double tokens = 0;
  for (const auto& c : curves) tokens += mean_tokens_per_second(c);
  tokens /= static_cast<double>(std::max<std::size_t>(curves.size(), 1));
  std::vector<std::pair<std::string, std::string>> rows = {
      {"name", s.name},
      {"model", fmt::format("{} ({} parameters)", s.model, with_thousands(s.parameters))},
      {"backend", s.backend},
      {"genres", fmt::format("{}: {}", s.genres.size(), join(s.genres, ", "))},
      {"splits", fmt::format("{}; songs per split: {} train, {} validation, {} test",
                             split_text(s.folds.size()), with_thousands(first.train_songs),
                             with_thousands(first.validation_songs), with_thousands(first.test_songs))},
      {"wall time", fmt::format("{} ({} of training, summed over folds)", duration_text(s.wall_seconds),
                                duration_text(s.train_seconds_sum))},
      {"throughput", fmt::format("{} training songs/s over the wall time, all folds together; per "
                                 "fold {} songs/s and {} tokens/s",
                                 rate_text(s.songs_per_second_wall), rate_text(fold_rate),
                                 rate_text(tokens))},
  };
  if (info && !info->host.empty()) rows.push_back({"host", info->host});
  if (info && !info->started.empty()) rows.push_back({"started", info->started});
  return rows;
}

std::vector<std::pair<std::string, std::string>> partial_facts(const fs::path& run_dir,
                                                               const std::vector<FoldCurves>& curves,
                                                               const std::optional<RunInfo>& info) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.push_back({"name", info && !info->name.empty() ? info->name : run_dir.filename().string()});
  if (info && !info->model.empty()) rows.push_back({"model", info->model});
  if (info && !info->backend.empty()) rows.push_back({"backend", info->backend});
  std::string recorded;
  for (const auto& c : curves)
    recorded += fmt::format("{}{}: {}", recorded.empty() ? "" : ", ", c.split, c.epochs.size());
  rows.push_back({"epochs recorded", recorded.empty() ? "none yet" : recorded});
  if (info && !info->host.empty()) rows.push_back({"host", info->host});
  if (info && !info->started.empty()) rows.push_back({"started", info->started});
  return rows;
}

constexpr const char* kUnfinishedNote =
    "<p class=\"note\">This run has no summary.json: it is still training, or it was "
    "interrupted (continue it with <code>lyre train --resume</code> on this folder). The curves "
    "show the epochs recorded so far; the test results and confusion matrices appear once every "
    "fold has finished.</p>\n";

}  // namespace

fs::path write_run_report(const fs::path& run_dir) {
  const auto curves = read_curves(run_dir);
  const auto info = read_run_info(run_dir);
  std::optional<RunSummary> summary;
  const auto summary_file = run_dir / "summary.json";
  if (fs::is_regular_file(summary_file)) summary = read_summary(parse_json_file(summary_file), summary_file);

  const auto report_dir = run_dir / "report";
  ensure_directory(report_dir);
  write_curves(report_dir, curves);

  std::string body;
  std::string title;
  if (summary) {
    title = summary->name;
    body += fmt::format("<h1>{}</h1>\n<p class=\"subtitle\">{}</p>\n", escape(summary->name),
                        escape(summary->model));
    body += "<h2>Run</h2>\n" + facts_table(finished_facts(*summary, curves, info));
    body += summary_table(*summary);
    body += curves_section(curves);
    body += confusion_section(report_dir, *summary);
  } else {
    const auto facts = partial_facts(run_dir, curves, info);
    title = facts.front().second;
    body += fmt::format("<h1>{}</h1>\n", escape(title));
    body += kUnfinishedNote;
    body += "<h2>Run</h2>\n" + facts_table(facts);
    body += curves_section(curves);
  }
  body += files_section(run_dir, {"summary.md", "summary.json", "metrics.jsonl", "config.yaml",
                                  "run.json", "genres.txt"});
  const auto index = report_dir / "index.html";
  write_text_file(index, html_page(fmt::format("Lyre run: {}", title), body));
  return index;
}

namespace {

// ===========================================================================
// Ablation report

struct Variant {
  std::string name;
  std::string description;
  std::string overrides;  // "key = value; ..."
  fs::path dir;           // relative to the ablation folder
  RunSummary summary;
};

std::string overrides_text(const json& overrides) {
  std::vector<std::string> items;
  if (overrides.is_object()) {
    for (const auto& [key, value] : overrides.items())
      items.push_back(key + " = " + (value.is_string() ? value.get<std::string>() : value.dump()));
  } else {
    for (const auto& pair : overrides)
      items.push_back(pair.at(0).get<std::string>() + " = " + pair.at(1).get<std::string>());
  }
  return join(items, "; ");
}

// A variant's folder relative to the ablation folder, which it must not leave.
fs::path checked_variant_path(const std::string& dir, const fs::path& file) {
  const fs::path relative(dir);
  const bool escapes = std::any_of(relative.begin(), relative.end(),
                                   [](const fs::path& part) { return part == ".."; });
  if (relative.empty() || relative.is_absolute() || escapes)
    fail_input("{}: variant folder '{}' must be a relative path inside the ablation folder",
               file.string(), dir);
  return relative;
}

std::vector<Variant> read_variants(const json& ablation, const fs::path& file) {
  const auto entries = read_content(file, [&] { return ablation.at("variants"); });
  std::vector<Variant> variants;
  for (const auto& v : entries) {
    variants.push_back(read_content(file, [&] {
      return Variant{v.at("name").get<std::string>(), v.value("description", ""),
                     overrides_text(v.value("overrides", json::array())),
                     checked_variant_path(v.at("dir").get<std::string>(), file),
                     read_summary(v.at("summary"), file)};
    }));
  }
  if (variants.empty()) fail_input("{}: the ablation lists no variants", file.string());
  return variants;
}

std::string comparison_table(const std::vector<Variant>& variants) {
  std::string out =
      "<h2>Comparison</h2>\n<p>Mean ± standard deviation over folds.</p>\n"
      "<div class=\"scroll\"><table>\n<tr><th class=\"text\">variant</th>"
      "<th class=\"text\">description</th><th class=\"text\">overrides</th>";
  for (const auto& c : kMeanColumns) out += fmt::format("<th>{}</th>", escape(c.title));
  out += "</tr>\n";
  for (const auto& v : variants) {
    out += fmt::format(
        "<tr><td class=\"text\"><a href=\"../{}\">{}</a></td><td class=\"text\">{}</td>"
        "<td class=\"text\"><code>{}</code></td>",
        href_path(v.dir / "report" / "index.html"), escape(v.name), escape(v.description),
        v.overrides.empty() ? "–" : escape(v.overrides));
    for (const auto& c : kMeanColumns) {
      const auto it = v.summary.mean.find(c.key);
      out += fmt::format("<td>{}</td>",
                         it == v.summary.mean.end() ? "–" : mean_std_text(it->second, c.percent));
    }
    out += "</tr>\n";
  }
  return out + "</table></div>\n";
}

std::string accuracy_chart(const fs::path& report_dir, const std::vector<Variant>& variants) {
  svg::BarChart chart{"Test accuracy per variant (mean ± std over folds)", "test accuracy (%)", true, {}};
  for (const auto& v : variants) {
    const auto it = v.summary.mean.find("test_accuracy");
    const auto ms = it == v.summary.mean.end() ? MeanStd{kNaN, kNaN} : it->second;
    chart.bars.push_back({v.name, ms.mean, ms.std});
  }
  write_text_file(report_dir / "ablation-test-accuracy.svg", svg::bar_chart(chart));
  return "<h2>Test accuracy</h2>\n<div class=\"figures\">\n" +
         figure("ablation-test-accuracy.svg", "Test accuracy per variant, mean ± std over folds") +
         "</div>\n";
}

std::string variant_confusions(const fs::path& report_dir, const std::vector<Variant>& variants) {
  std::string figures;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const auto& s = variants[i].summary;
    const auto file = fmt::format("confusion-variant-{}.svg", i);
    const auto title = fmt::format("Test confusion, {}, all folds (accuracy {}%)", variants[i].name,
                                   percent_text(confusion_accuracy(s.total_confusion, s.genres.size())));
    write_text_file(report_dir / file, svg::heat_map(confusion_map(title, s.genres, s.total_confusion)));
    figures += figure(file, title);
  }
  return "<h2>Test confusion matrices (total over folds)</h2>\n<p>Rows: true genre; columns: "
         "predicted genre; color: share of the row; numbers: counts of songs.</p>\n"
         "<div class=\"figures\">\n" +
         figures + "</div>\n";
}

std::string variant_links(const std::vector<Variant>& variants) {
  std::string out = "<h2>Variant reports</h2>\n<ul>\n";
  for (const auto& v : variants)
    out += fmt::format("<li><a href=\"../{}\">{}</a>{}</li>\n",
                       href_path(v.dir / "report" / "index.html"), escape(v.name),
                       v.description.empty() ? "" : ": " + escape(v.description));
  return out + "</ul>\n";
}

}  // namespace

fs::path write_ablation_report(const fs::path& ablation_dir) {
  const auto file = ablation_dir / "ablation.json";
  if (!fs::is_regular_file(file))
    fail_input("{}: no ablation.json: not an ablation folder, or an ablation that has not finished",
               ablation_dir.string());
  const auto ablation = parse_json_file(file);
  const auto variants = read_variants(ablation, file);
  const auto [name, folds, wall_seconds, markdown, csv] = read_content(file, [&] {
    return std::tuple{ablation.at("name").get<std::string>(), ablation.at("folds").get<int>(),
                      optional_number(ablation, "wall_seconds"), ablation_markdown(ablation),
                      ablation_csv(ablation)};
  });
  for (const auto& v : variants) write_run_report(ablation_dir / v.dir);

  const auto report_dir = ablation_dir / "report";
  ensure_directory(report_dir);
  write_text_file(report_dir / "ablation.md", markdown);
  write_text_file(report_dir / "ablation.csv", csv);
  const auto& genres = variants.front().summary.genres;
  std::string body = fmt::format("<h1>Ablation: {}</h1>\n<p class=\"subtitle\">{} variants over the "
                                 "same {}</p>\n",
                                 escape(name), variants.size(), escape(split_text(static_cast<std::size_t>(folds))));
  body += "<h2>Study</h2>\n" +
          facts_table({{"genres", fmt::format("{}: {}", genres.size(), join(genres, ", "))},
                       {"wall time", duration_text(wall_seconds)}});
  body += comparison_table(variants);
  body += accuracy_chart(report_dir, variants);
  body += variant_confusions(report_dir, variants);
  body += variant_links(variants);
  body += "<h2>Files</h2>\n<ul>\n<li><a href=\"ablation.md\">ablation.md</a></li>\n"
          "<li><a href=\"ablation.csv\">ablation.csv</a></li>\n"
          "<li><a href=\"../ablation.json\">ablation.json</a></li>\n</ul>\n";
  const auto index = report_dir / "index.html";
  write_text_file(index, html_page(fmt::format("Lyre ablation: {}", name), body));
  return index;
}

}  // namespace lyre
