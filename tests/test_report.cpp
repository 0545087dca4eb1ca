#include "engine/report/report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "engine/core/error.hpp"
#include "engine/report/svg.hpp"
#include "engine/train/metrics.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/test_support.hpp"

namespace lyre {
namespace {

using test::input_error;

namespace fs = std::filesystem;
using nlohmann::json;
using test::read_file;
using test::TempDir;
using test::write_file;

// ---------------------------------------------------------------------------
// Fake run folders, in the shapes trainer.cpp writes.

const std::vector<std::string> kGenres = {"R&B", "Romântico", "<script>"};
const std::string kHostileName = "demo <script>alert('x')</script> & \"co\"";

struct FakeRun {
  std::string name = kHostileName;
  int folds = 2;  // 1: a single "holdout" split
  int epochs = 3;
  double quality = 0;  // shifts every accuracy, so ablation variants differ
};

double train_loss(int fold, int epoch) { return 1.5 - 0.3 * epoch + 0.05 * fold; }
double validation_loss(int fold, int epoch) { return 1.2 - 0.1 * epoch + 0.07 * fold; }
double train_accuracy(const FakeRun& r, int fold, int epoch) {
  return 0.40 + 0.15 * epoch + 0.01 * fold + r.quality;
}
double validation_accuracy(const FakeRun& r, int fold, int epoch) {
  return 0.35 + 0.02 * epoch + 0.01 * fold + r.quality;
}

json metrics_json(std::uint64_t songs, double loss, double accuracy) {
  return {{"songs", songs},
          {"loss", loss},
          {"accuracy", accuracy},
          {"macro_precision", accuracy - 0.02},
          {"macro_recall", accuracy - 0.01},
          {"macro_f1", accuracy - 0.015},
          {"threshold_precision", accuracy + 0.1},
          {"threshold_recall", accuracy - 0.1}};
}

std::string split_name(const FakeRun& r, int fold) {
  return r.folds == 1 ? "holdout" : fmt::format("fold-{}", fold);
}

json metrics_line(const FakeRun& r, int fold, int epoch) {
  return {{"fold", fold},
          {"split", split_name(r, fold)},
          {"epoch", epoch},
          {"train", metrics_json(60, train_loss(fold, epoch), train_accuracy(r, fold, epoch))},
          {"validation", metrics_json(20, validation_loss(fold, epoch), validation_accuracy(r, fold, epoch))},
          {"seconds", 2.0},
          {"train_songs_per_second", 30.0},
          {"train_tokens_per_second", 4500.0}};
}

// Distinct counts per cell and fold: [label * C + predicted].
std::vector<std::uint64_t> confusion(int fold, int quality_step) {
  const auto f = static_cast<std::uint64_t>(fold);
  const auto q = static_cast<std::uint64_t>(quality_step);
  return {5 + f + q, 1, 0, 2, 4 + q, 1 + f, 0, 3, 6 + q};
}

double accuracy_of(const std::vector<std::uint64_t>& c) {
  std::uint64_t total = 0;
  for (const auto v : c) total += v;
  return static_cast<double>(c[0] + c[4] + c[8]) / static_cast<double>(total);
}

json summary_json(const FakeRun& r) {
  json folds = json::array();
  std::map<std::string, std::vector<double>> columns;
  std::vector<std::uint64_t> total(9, 0);
  const int quality_step = static_cast<int>(std::lround(r.quality * 100));
  for (int f = 0; f < r.folds; ++f) {
    const auto c = confusion(f, quality_step);
    for (std::size_t i = 0; i < c.size(); ++i) total[i] += c[i];
    auto test = metrics_json(20, 1.0 + 0.1 * f, accuracy_of(c));
    test["num_classes"] = 3;
    test["confusion"] = c;
    const auto train = metrics_json(60, train_loss(f, r.epochs), train_accuracy(r, f, r.epochs));
    const auto validation =
        metrics_json(20, validation_loss(f, r.epochs), validation_accuracy(r, f, r.epochs));
    folds.push_back({{"fold", f},
                     {"split", split_name(r, f)},
                     {"songs", {{"train", 60}, {"validation", 20}, {"test", 20}}},
                     {"epochs", r.epochs},
                     {"best_epoch", r.epochs},
                     {"seconds", 6.0},
                     {"test", test},
                     {"train", train},
                     {"validation", validation},
                     {"train_songs_per_second", 30.0}});
    columns["train_accuracy"].push_back(train.at("accuracy").get<double>());
    columns["validation_accuracy"].push_back(validation.at("accuracy").get<double>());
    columns["validation_loss"].push_back(validation.at("loss").get<double>());
    for (const char* key : {"loss", "accuracy", "macro_precision", "macro_recall", "macro_f1",
                            "threshold_precision", "threshold_recall"})
      columns[std::string("test_") + key].push_back(test.at(key).get<double>());
  }
  json mean;
  for (const auto& [key, values] : columns) {
    const auto ms = mean_std(values);
    mean[key] = {{"mean", ms.mean}, {"std", ms.std}};
  }
  return {{"name", r.name},
          {"backend", "cpu (2 threads)"},
          {"model", "embedding 100 -> lstm 128 -> attention -> mean pool -> dropout 0.2 -> linear 3"},
          {"parameters", 123456},
          {"genres", kGenres},
          {"wall_seconds", 12.5},
          {"folds", folds},
          {"mean", mean},
          {"test_confusion_total", total},
          {"train_songs_per_second_wall", 28.8},
          {"train_seconds_sum", 12.0}};
}

json write_fake_run(const fs::path& dir, const FakeRun& r) {
  std::string lines;
  for (int f = 0; f < r.folds; ++f)
    for (int e = 1; e <= r.epochs; ++e) lines += metrics_line(r, f, e).dump() + "\n";
  write_file(dir / "metrics.jsonl", lines);
  const auto summary = summary_json(r);
  write_file(dir / "summary.json", summary.dump(2));
  write_file(dir / "summary.md", summary_markdown(summary));
  write_file(dir / "run.json", json{{"kind", "train"}, {"name", r.name}, {"host", "node-7"},
                                    {"started", "2025-01-01T00:00:00Z"}}
                                   .dump());
  write_file(dir / "config.yaml", "name: demo\n");
  write_file(dir / "genres.txt", "R&B\nRomântico\n<script>\n");
  for (int f = 0; f < r.folds; ++f)
    write_file(dir / "folds" / fmt::format("fold-{}", f) / "confusion_test.csv", "label\\predicted\n");
  return summary;
}

// ---------------------------------------------------------------------------
// Reading the SVG back.

struct Polyline {
  std::string series;
  std::string kind;
  std::vector<std::pair<double, double>> points;
};

std::vector<Polyline> polylines(const std::string& svg) {
  static const std::regex element(R"re(<polyline points="([^"]*)" data-series="([^"]*)" data-kind="([^"]*)")re");
  std::vector<Polyline> out;
  for (std::sregex_iterator it(svg.begin(), svg.end(), element), end; it != end; ++it) {
    Polyline p{(*it)[2], (*it)[3], {}};
    std::stringstream coordinates((*it)[1]);
    std::string pair;
    while (coordinates >> pair) {
      const auto comma = pair.find(',');
      p.points.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
    }
    out.push_back(std::move(p));
  }
  return out;
}

struct Cell {
  std::size_t row;
  std::size_t column;
  std::uint64_t count;
  std::string fill;
  std::uint64_t printed;  // the number written in the cell
};

std::vector<Cell> cells(const std::string& svg) {
  static const std::regex element(
      R"re(class="cell" data-row="(\d+)" data-column="(\d+)" data-count="(\d+)" fill="(#[0-9a-f]{6})"[^>]*><title>[^<]*</title></rect>\n<text [^>]*>(\d+)</text>)re");
  std::vector<Cell> out;
  for (std::sregex_iterator it(svg.begin(), svg.end(), element), end; it != end; ++it)
    out.push_back({std::stoul((*it)[1]), std::stoul((*it)[2]), std::stoull((*it)[3]), (*it)[4],
                   std::stoull((*it)[5])});
  return out;
}

// Checks that a drawn coordinate is an increasing (sign > 0) or decreasing
// (sign < 0) linear function of the value it stands for, within rounding.
::testing::AssertionResult linear_in(const std::vector<std::pair<double, double>>& value_to_pixel,
                                     int sign) {
  const auto lo = std::min_element(value_to_pixel.begin(), value_to_pixel.end());
  const auto hi = std::max_element(value_to_pixel.begin(), value_to_pixel.end());
  if (hi->first - lo->first < 1e-9) return ::testing::AssertionFailure() << "values do not vary";
  const double slope = (hi->second - lo->second) / (hi->first - lo->first);
  if (slope * sign <= 0) return ::testing::AssertionFailure() << "slope " << slope << " has the wrong sign";
  for (const auto& [value, pixel] : value_to_pixel) {
    const double expected = lo->second + slope * (value - lo->first);
    if (std::abs(expected - pixel) > 0.15)
      return ::testing::AssertionFailure()
             << "value " << value << " drawn at " << pixel << ", expected " << expected;
  }
  return ::testing::AssertionSuccess();
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) out.push_back(entry.path());
  return out;
}

// XML forbids an attribute given twice in one element (viewers refuse the file).
void expect_unique_attributes(const std::string& text, const fs::path& file) {
  static const std::regex tag(R"re(<[a-zA-Z][^>]*>)re");
  static const std::regex attribute(R"re(\s([a-zA-Z:-]+)=")re");
  for (std::sregex_iterator it(text.begin(), text.end(), tag), end; it != end; ++it) {
    const std::string element = it->str();
    std::set<std::string> names;
    for (std::sregex_iterator a(element.begin(), element.end(), attribute); a != end; ++a)
      EXPECT_TRUE(names.insert((*a)[1]).second) << file << ": " << element;
  }
}

// No markup or URL from the input survives unescaped, nothing is fetched,
// and every file parses.
void expect_safe_output(const fs::path& report_dir) {
  static const std::regex bare_ampersand("&(?!amp;|lt;|gt;|quot;|#39;)");
  static const std::string xmlns = "xmlns=\"http://www.w3.org/2000/svg\"";
  const auto files = files_in(report_dir);
  ASSERT_FALSE(files.empty());
  for (const auto& file : files) {
    const auto ext = file.extension().string();
    if (ext != ".svg" && ext != ".html") continue;
    auto text = read_file(file);
    expect_unique_attributes(text, file);
    EXPECT_EQ(text.find("<script"), std::string::npos) << file;
    EXPECT_FALSE(std::regex_search(text, bare_ampersand)) << file;
    for (auto at = text.find(xmlns); at != std::string::npos; at = text.find(xmlns))
      text.erase(at, xmlns.size());
    EXPECT_EQ(text.find("http://"), std::string::npos) << file;
    EXPECT_EQ(text.find("https://"), std::string::npos) << file;
    EXPECT_EQ(text.find("url("), std::string::npos) << file;
  }
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

const char* const kCurveFiles[] = {
    "curves-loss.svg",         "curves-accuracy.svg",           "curves-macro-precision.svg",
    "curves-macro-recall.svg", "curves-macro-f1.svg",           "curves-threshold-precision.svg",
    "curves-threshold-recall.svg"};

// ---------------------------------------------------------------------------
// Run report

TEST(RunReport, WritesThePageAndEveryChart) {
  TempDir dir;
  write_fake_run(dir.path(), FakeRun{});
  const auto index = write_run_report(dir.path());
  EXPECT_EQ(index, dir.path() / "report" / "index.html");
  const auto html = read_file(index);
  for (const char* file : kCurveFiles) {
    EXPECT_TRUE(fs::is_regular_file(dir.path() / "report" / file)) << file;
    EXPECT_TRUE(contains(html, fmt::format("src=\"{}\"", file))) << file;
  }
  for (const char* file : {"confusion-total.svg", "confusion-fold-0.svg", "confusion-fold-1.svg"}) {
    EXPECT_TRUE(fs::is_regular_file(dir.path() / "report" / file)) << file;
    EXPECT_TRUE(contains(html, fmt::format("href=\"{}\"", file))) << file;
  }
  EXPECT_TRUE(contains(html, "cpu (2 threads)"));
  EXPECT_TRUE(contains(html, "123,456 parameters"));
  EXPECT_FALSE(contains(html, "no summary.json"));
  // No temporary file of the atomic writes is left behind.
  for (const auto& file : files_in(dir.path() / "report"))
    EXPECT_FALSE(contains(file.filename().string(), ".tmp-")) << file;
}

TEST(RunReport, CurvesHaveOneLinePerFoldAndSplitFollowingTheValues) {
  TempDir dir;
  const FakeRun run;
  write_fake_run(dir.path(), run);
  write_run_report(dir.path());
  const auto svg = read_file(dir.path() / "report" / "curves-loss.svg");
  const auto lines = polylines(svg);
  ASSERT_EQ(lines.size(), 4u);  // 2 folds x (train, validation)
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<std::pair<double, double>> loss_to_y;
  std::vector<std::pair<double, double>> epoch_to_x;
  for (const auto& line : lines) {
    seen.insert({line.series, line.kind});
    ASSERT_EQ(line.points.size(), 3u) << line.series << " " << line.kind;
    const int fold = line.series == "fold-0" ? 0 : 1;
    for (int e = 1; e <= 3; ++e) {
      const auto& [x, y] = line.points[static_cast<std::size_t>(e - 1)];
      loss_to_y.emplace_back(line.kind == "train" ? train_loss(fold, e) : validation_loss(fold, e), y);
      epoch_to_x.emplace_back(e, x);
    }
  }
  const std::set<std::pair<std::string, std::string>> expected = {
      {"fold-0", "train"}, {"fold-0", "validation"}, {"fold-1", "train"}, {"fold-1", "validation"}};
  EXPECT_EQ(seen, expected);
  EXPECT_TRUE(linear_in(loss_to_y, -1));   // a higher loss is drawn higher up: smaller y
  EXPECT_TRUE(linear_in(epoch_to_x, +1));  // later epochs further right
  // Validation lines are dashed, train lines solid.
  static const std::regex dashed_validation(R"(data-kind="validation"[^>]*stroke-dasharray)");
  static const std::regex dashed_train(R"(data-kind="train"[^>]*stroke-dasharray)");
  EXPECT_EQ(std::distance(std::sregex_iterator(svg.begin(), svg.end(), dashed_validation),
                          std::sregex_iterator()),
            2);
  EXPECT_FALSE(std::regex_search(svg, dashed_train));
}

TEST(RunReport, PercentCurvesFollowTheirMetric) {
  TempDir dir;
  const FakeRun run;
  write_fake_run(dir.path(), run);
  write_run_report(dir.path());
  const auto lines = polylines(read_file(dir.path() / "report" / "curves-macro-f1.svg"));
  ASSERT_EQ(lines.size(), 4u);
  std::vector<std::pair<double, double>> f1_to_y;
  for (const auto& line : lines) {
    const int fold = line.series == "fold-0" ? 0 : 1;
    ASSERT_EQ(line.points.size(), 3u);
    for (int e = 1; e <= 3; ++e) {
      const double accuracy = line.kind == "train" ? train_accuracy(run, fold, e)
                                                   : validation_accuracy(run, fold, e);
      f1_to_y.emplace_back(accuracy - 0.015, line.points[static_cast<std::size_t>(e - 1)].second);
    }
  }
  EXPECT_TRUE(linear_in(f1_to_y, -1));
}

TEST(RunReport, HeatMapCellsCarryTheCounts) {
  TempDir dir;
  const auto summary = write_fake_run(dir.path(), FakeRun{});
  write_run_report(dir.path());
  const std::map<std::string, std::vector<std::uint64_t>> expected = {
      {"confusion-fold-0.svg", confusion(0, 0)},
      {"confusion-fold-1.svg", confusion(1, 0)},
      {"confusion-total.svg", summary.at("test_confusion_total").get<std::vector<std::uint64_t>>()}};
  for (const auto& [file, counts] : expected) {
    const auto svg = read_file(dir.path() / "report" / file);
    const auto drawn = cells(svg);
    ASSERT_EQ(drawn.size(), 9u) << file;
    for (const auto& c : drawn) {
      EXPECT_EQ(c.count, counts[c.row * 3 + c.column]) << file << " " << c.row << "," << c.column;
      EXPECT_EQ(c.printed, c.count) << file;
    }
    for (const char* label : {"R&amp;B", "Romântico", "&lt;script&gt;"})
      EXPECT_TRUE(contains(svg, label)) << file << " lacks " << label;
  }
}

TEST(RunReport, HeatMapColorIsTheShareOfTheRow) {
  // Row 0 holds 10 songs, all right; row 1 holds one, right; row 2 splits 5/5.
  svg::HeatMap map{"t", "true", "predicted", {"a", "b", "c"}, {10, 0, 0, 0, 1, 0, 5, 0, 5}};
  const auto drawn = cells(svg::heat_map(map));
  ASSERT_EQ(drawn.size(), 9u);
  EXPECT_EQ(drawn[0].fill, drawn[4].fill);  // 10/10 and 1/1: the same shade
  EXPECT_NE(drawn[0].fill, drawn[6].fill);  // 5/10 is lighter than 10/10
  EXPECT_EQ(drawn[6].fill, drawn[8].fill);
  EXPECT_EQ(drawn[1].fill, drawn[7].fill);  // empty cells alike
}

TEST(RunReport, TableShowsTheNumbersOfSummaryMd) {
  TempDir dir;
  write_fake_run(dir.path(), FakeRun{});
  const auto html = read_file(write_run_report(dir.path()));
  const auto markdown = read_file(dir.path() / "summary.md");
  int checked = 0;
  std::stringstream lines(markdown);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| ", 0) != 0 || contains(line, "---") || contains(line, "fold |")) continue;
    std::stringstream cells_of(line);
    std::string cell;
    std::getline(cells_of, cell, '|');  // before the first bar
    for (int column = 0; std::getline(cells_of, cell, '|'); ++column) {
      const auto first = cell.find_first_not_of(' ');
      if (first == std::string::npos || column == 0) continue;
      const auto text = cell.substr(first, cell.find_last_not_of(' ') - first + 1);
      EXPECT_TRUE(contains(html, "<td>" + text + "</td>")) << "missing " << text;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * 11 + 9);  // two fold rows and the mean row
}

TEST(RunReport, EscapesNamesAndFetchesNothing) {
  TempDir dir;
  write_fake_run(dir.path(), FakeRun{});
  const auto html = read_file(write_run_report(dir.path()));
  EXPECT_TRUE(contains(html, "demo &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"));
  EXPECT_TRUE(contains(html, "R&amp;B, Romântico, &lt;script&gt;"));
  expect_safe_output(dir.path() / "report");
}

TEST(RunReport, HoldoutRunHasOneConfusionMatrix) {
  TempDir dir;
  FakeRun run;
  run.folds = 1;
  write_fake_run(dir.path(), run);
  const auto html = read_file(write_run_report(dir.path()));
  EXPECT_TRUE(fs::is_regular_file(dir.path() / "report" / "confusion-fold-0.svg"));
  EXPECT_FALSE(fs::exists(dir.path() / "report" / "confusion-total.svg"));
  EXPECT_TRUE(contains(html, "Test confusion, holdout"));
  const auto lines = polylines(read_file(dir.path() / "report" / "curves-accuracy.svg"));
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_EQ(line.series, "holdout");
    EXPECT_EQ(line.points.size(), 3u);
  }
}

TEST(RunReport, WithoutSummaryDrawsTheCurvesSoFar) {
  TempDir dir;
  FakeRun run;
  write_fake_run(dir.path(), run);
  fs::remove(dir.path() / "summary.json");
  // Fold 1 was interrupted after its first epoch.
  std::string lines;
  for (int e = 1; e <= 3; ++e) lines += metrics_line(run, 0, e).dump() + "\n";
  lines += metrics_line(run, 1, 1).dump() + "\n";
  write_file(dir.path() / "metrics.jsonl", lines);

  const auto html = read_file(write_run_report(dir.path()));
  EXPECT_TRUE(contains(html, "no summary.json"));
  EXPECT_TRUE(contains(html, "fold-0: 3, fold-1: 1"));
  EXPECT_FALSE(contains(html, "confusion-"));
  EXPECT_FALSE(fs::exists(dir.path() / "report" / "confusion-fold-0.svg"));
  std::map<std::string, std::size_t> points;
  for (const auto& line : polylines(read_file(dir.path() / "report" / "curves-loss.svg")))
    points[line.series + " " + line.kind] += line.points.size();
  const std::map<std::string, std::size_t> expected = {
      {"fold-0 train", 3}, {"fold-0 validation", 3}, {"fold-1 train", 1}, {"fold-1 validation", 1}};
  EXPECT_EQ(points, expected);
  expect_safe_output(dir.path() / "report");
}

TEST(RunReport, MissingMetricsNamesTheFolder) {
  TempDir dir;
  const auto run_dir = dir.path() / "run-without-metrics";
  write_fake_run(run_dir, FakeRun{});
  fs::remove(run_dir / "metrics.jsonl");
  const auto message = input_error([&] { write_run_report(run_dir); });
  EXPECT_TRUE(contains(message, run_dir.string())) << message;
  EXPECT_TRUE(contains(message, "metrics.jsonl")) << message;
  EXPECT_FALSE(fs::exists(run_dir / "report" / "index.html"));
}

TEST(RunReport, LaterLineForAnEpochWins) {
  TempDir dir;
  FakeRun run;
  write_fake_run(dir.path(), run);
  // A resumed run re-recorded fold 0's epoch 2 with a much higher train loss.
  auto line = metrics_line(run, 0, 2);
  line["train"]["loss"] = 9.0;
  write_file(dir.path() / "metrics.jsonl", read_file(dir.path() / "metrics.jsonl") + line.dump() + "\n");
  write_run_report(dir.path());
  for (const auto& l : polylines(read_file(dir.path() / "report" / "curves-loss.svg"))) {
    ASSERT_EQ(l.points.size(), 3u);
    if (l.series != "fold-0" || l.kind != "train") continue;
    // Epoch 2 is now the highest point of every line: the smallest y.
    EXPECT_LT(l.points[1].second, l.points[0].second);
    EXPECT_LT(l.points[1].second, l.points[2].second);
  }
}

TEST(RunReport, NonFiniteValuesLeaveGaps) {
  TempDir dir;
  FakeRun run;
  write_fake_run(dir.path(), run);
  std::string lines;
  for (int f = 0; f < 2; ++f)
    for (int e = 1; e <= 3; ++e) {
      auto line = metrics_line(run, f, e);
      if (f == 1 && e == 2) line["validation"]["loss"] = nullptr;  // NaN, as nlohmann writes it
      lines += line.dump() + "\n";
    }
  write_file(dir.path() / "metrics.jsonl", lines);
  write_run_report(dir.path());
  std::vector<Polyline> pieces;
  for (const auto& l : polylines(read_file(dir.path() / "report" / "curves-loss.svg")))
    if (l.series == "fold-1" && l.kind == "validation") pieces.push_back(l);
  ASSERT_EQ(pieces.size(), 2u);  // epoch 1, then epoch 3: never a line across epoch 2
  EXPECT_EQ(pieces[0].points.size(), 1u);
  EXPECT_EQ(pieces[1].points.size(), 1u);
}

TEST(RunReport, MalformedInputNamesTheFile) {
  TempDir dir;
  auto summary = write_fake_run(dir.path(), FakeRun{});
  write_file(dir.path() / "metrics.jsonl", R"({"fold": 0, "split": "fold-0", "epoch": 1})"
                                           "\n");
  auto message = input_error([&] { write_run_report(dir.path()); });
  EXPECT_TRUE(contains(message, (dir.path() / "metrics.jsonl").string())) << message;

  write_fake_run(dir.path(), FakeRun{});
  summary["folds"][1]["test"]["confusion"] = std::vector<int>{1, 2, 3};
  write_file(dir.path() / "summary.json", summary.dump());
  message = input_error([&] { write_run_report(dir.path()); });
  EXPECT_TRUE(contains(message, (dir.path() / "summary.json").string())) << message;
  EXPECT_TRUE(contains(message, "3 genres")) << message;

  write_file(dir.path() / "summary.json", "{\"name\": ");
  message = input_error([&] { write_run_report(dir.path()); });
  EXPECT_TRUE(contains(message, (dir.path() / "summary.json").string())) << message;
}

// ---------------------------------------------------------------------------
// Ablation report

struct FakeVariant {
  std::string name;
  std::string dir;
  double quality;
};

json write_fake_ablation(const fs::path& root, const std::vector<FakeVariant>& variants) {
  json entries = json::array();
  for (const auto& v : variants) {
    FakeRun run;
    run.name = "ablation-" + v.name;
    run.quality = v.quality;
    const auto summary = write_fake_run(root / v.dir, run);
    entries.push_back({{"name", v.name},
                       {"description", "variant " + v.name + " & <friends>"},
                       {"overrides", json::array({json::array({"model.pool", "none"})})},
                       {"dir", v.dir},
                       {"summary", summary}});
  }
  const json ablation = {{"name", "ablation <study>"}, {"genres", kGenres}, {"folds", 2},
                         {"wall_seconds", 99.0}, {"variants", entries}};
  write_file(root / "ablation.json", ablation.dump(2));
  return ablation;
}

const std::vector<FakeVariant> kVariants = {{"no_pooling", "variants/no_pooling", 0.0},
                                            {"hidden_64", "variants/hidden_64", 0.05}};

TEST(AblationReport, ComparesVariantsAndWritesTheirReports) {
  TempDir dir;
  const auto ablation = write_fake_ablation(dir.path(), kVariants);
  const auto index = write_ablation_report(dir.path());
  EXPECT_EQ(index, dir.path() / "report" / "index.html");
  const auto html = read_file(index);
  for (const auto& v : kVariants) {
    EXPECT_TRUE(fs::is_regular_file(dir.path() / v.dir / "report" / "index.html")) << v.name;
    EXPECT_TRUE(contains(html, fmt::format("href=\"../{}/report/index.html\"", v.dir))) << v.name;
  }
  // Every mean ± std column of every variant, as the tables format them.
  for (const auto& v : ablation.at("variants")) {
    for (const auto& [key, value] : v.at("summary").at("mean").items()) {
      const bool loss = key.find("loss") != std::string::npos;
      const double scale = loss ? 1.0 : 100.0;
      const int digits = loss ? 3 : 1;
      const auto text = fmt::format("<td>{:.{}f} ± {:.{}f}</td>", scale * value.at("mean").get<double>(),
                                    digits, scale * value.at("std").get<double>(), digits);
      EXPECT_TRUE(contains(html, text)) << key << ": " << text;
    }
  }
  EXPECT_TRUE(contains(html, "model.pool = none"));
  EXPECT_EQ(read_file(dir.path() / "report" / "ablation.md"), ablation_markdown(ablation));
  EXPECT_EQ(read_file(dir.path() / "report" / "ablation.csv"), ablation_csv(ablation));
  expect_safe_output(dir.path() / "report");
}

TEST(AblationReport, BarsFollowTestAccuracyWithErrorBars) {
  TempDir dir;
  const auto ablation = write_fake_ablation(dir.path(), kVariants);
  write_ablation_report(dir.path());
  const auto svg = read_file(dir.path() / "report" / "ablation-test-accuracy.svg");
  static const std::regex bar(
      R"re(<rect x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)" data-label="([^"]*)" data-value="([^"]*)" data-error="([^"]*)")re");
  std::vector<std::pair<double, double>> value_to_height;
  std::vector<std::string> labels;
  for (std::sregex_iterator it(svg.begin(), svg.end(), bar), end; it != end; ++it) {
    labels.push_back((*it)[5]);
    value_to_height.emplace_back(std::stod((*it)[6]), std::stod((*it)[4]));
    const auto& mean = ablation.at("variants")[labels.size() - 1].at("summary").at("mean").at("test_accuracy");
    EXPECT_DOUBLE_EQ(std::stod((*it)[6]), mean.at("mean").get<double>());
    EXPECT_DOUBLE_EQ(std::stod((*it)[7]), mean.at("std").get<double>());
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"no_pooling", "hidden_64"}));
  // Bars start at zero: the height is proportional to the value.
  value_to_height.emplace_back(0.0, 0.0);
  EXPECT_TRUE(linear_in(value_to_height, +1));
  // Two error bars, each a stem and two caps.
  static const std::regex error_stroke("stroke-width=\"1.5\"");
  EXPECT_EQ(std::distance(std::sregex_iterator(svg.begin(), svg.end(), error_stroke), std::sregex_iterator()), 6);
}

TEST(AblationReport, HeatMapPerVariantCarriesItsTotal) {
  TempDir dir;
  const auto ablation = write_fake_ablation(dir.path(), kVariants);
  write_ablation_report(dir.path());
  for (std::size_t i = 0; i < kVariants.size(); ++i) {
    const auto total = ablation.at("variants")[i].at("summary").at("test_confusion_total");
    const auto drawn = cells(read_file(dir.path() / "report" / fmt::format("confusion-variant-{}.svg", i)));
    ASSERT_EQ(drawn.size(), 9u);
    for (const auto& c : drawn) EXPECT_EQ(c.count, total[c.row * 3 + c.column].get<std::uint64_t>());
  }
}

TEST(AblationReport, RejectsAVariantFolderOutsideTheAblation) {
  TempDir dir;
  write_fake_ablation(dir.path(), {{"escape", "../elsewhere", 0.0}});
  const auto message = input_error([&] { write_ablation_report(dir.path()); });
  EXPECT_TRUE(contains(message, "ablation.json")) << message;
  EXPECT_TRUE(contains(message, "../elsewhere")) << message;
}

TEST(AblationReport, MissingAblationJsonNamesTheFolder) {
  TempDir dir;
  const auto message = input_error([&] { write_ablation_report(dir.path()); });
  EXPECT_TRUE(contains(message, dir.path().string())) << message;
}

// ---------------------------------------------------------------------------
// The SVG writer on its own

TEST(Svg, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(svg::escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(svg::escape("Romântico"), "Romântico");
}

TEST(Svg, ConstantSeriesAndSinglePointsStillDraw) {
  svg::LineChart chart;
  chart.title = "flat";
  chart.solid_meaning = "train";
  chart.series.push_back({"fold-0", svg::palette_color(0), false, {{1, 0.5}}});
  const auto svg = svg::line_chart(chart);
  const auto lines = polylines(svg);
  ASSERT_EQ(lines.size(), 1u);
  ASSERT_EQ(lines[0].points.size(), 1u);
  EXPECT_TRUE(std::isfinite(lines[0].points[0].first));
  EXPECT_TRUE(std::isfinite(lines[0].points[0].second));
  EXPECT_TRUE(contains(svg, "<circle"));  // a single point is visible as its marker
}

}  // namespace
}  // namespace lyre
