// A small SVG writer for the run reports: line charts, heat maps, bar charts.
//
// The output is plain, static SVG 1.1: no scripts, no fonts, no images, no
// url() references; the only address in it is the SVG namespace, so a report
// opens anywhere without a network. Every text is escaped, so names from a run
// folder ("R&B", "<script>") are shown as written and never parsed as markup.
//
// Elements carry data-* attributes describing what they draw (series name,
// counts), so tests and scripts can read a chart back without guessing from
// pixels.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lyre::svg {

// Escapes & < > " ' for XML and HTML (text and attribute values).
std::string escape(std::string_view text);

// A color for the k-th series (fold k); cycles through a palette readable on
// white and by most color-blind readers.
std::string palette_color(std::size_t index);

struct Point {
  double x = 0;
  double y = 0;  // not finite: a gap in the line
};

struct Series {
  std::string name;       // legend entry (one per color): "fold-0", "holdout"
  std::string color;      // CSS color
  bool dashed = false;    // which of the chart's two line styles
  std::vector<Point> points;  // by increasing x
};

// x is a whole number (the epoch): ticks fall on whole numbers only.
struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool percent = false;         // values are fractions, labelled as percentages
  std::string solid_meaning;    // legend key for solid lines ("train")
  std::string dashed_meaning;   // legend key for dashed lines ("validation")
  std::vector<Series> series;
};

// One <polyline data-series=NAME data-kind=MEANING> per run of finite points of
// each series, y growing downwards as in SVG, plus a marker at every point.
std::string line_chart(const LineChart& chart);

struct HeatMap {
  std::string title;
  std::string row_axis;       // "true genre"
  std::string column_axis;    // "predicted genre"
  std::vector<std::string> labels;    // C names, for rows and columns alike
  std::vector<std::uint64_t> counts;  // C * C, [row * C + column]
};

// Cells are colored by their share of the row (so a rare genre's row reads as
// clearly as a common one) and show the count itself.
std::string heat_map(const HeatMap& map);

struct Bar {
  std::string label;
  double value = 0;
  double error = 0;  // half-height of the error bar (a standard deviation)
};

struct BarChart {
  std::string title;
  std::string y_label;
  bool percent = false;
  std::vector<Bar> bars;
};

std::string bar_chart(const BarChart& chart);

}  // namespace lyre::svg
