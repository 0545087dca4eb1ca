#include "engine/report/svg.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <span>

#include <fmt/format.h>

#include "engine/core/error.hpp"

namespace lyre::svg {
namespace {

constexpr const char* kInk = "#222";
constexpr const char* kMuted = "#666";
constexpr const char* kAxis = "#444";
constexpr const char* kGrid = "#e6e6e6";
constexpr double kTitleFont = 16;
constexpr double kLabelFont = 13;
constexpr double kTickFont = 12;

// Text is measured without fonts, so layouts use a generous average glyph
// width for sans-serif faces; counting code points keeps "Romântico" as long
// as "Romantico".
double text_width(std::string_view text, double font_size) {
  const auto code_points = std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
  return 0.6 * font_size * static_cast<double>(code_points);
}

std::string num(double v) { return fmt::format("{:.1f}", v); }

// Accumulates one SVG document.
class Canvas {
 public:
  Canvas(double width, double height, std::string_view title) {
    out_ = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\" font-size=\"{3}\" fill=\"{4}\" "
        "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
        "sans-serif\">\n<title>{2}</title>\n"
        "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n",
        num(width), num(height), escape(title), kTickFont, kInk);
  }

  void text(double x, double y, std::string_view content, std::string_view attributes = "") {
    out_ += fmt::format("<text x=\"{}\" y=\"{}\" {}>{}</text>\n", num(x), num(y), attributes,
                        escape(content));
  }
  // Text turned a quarter (or `degrees`) counter-clockwise about its anchor.
  void rotated_text(double x, double y, double degrees, std::string_view content,
                    std::string_view attributes) {
    text(x, y, content,
         fmt::format("transform=\"rotate({} {} {})\" {}", num(degrees), num(x), num(y), attributes));
  }
  void line(double x1, double y1, double x2, double y2, std::string_view attributes) {
    out_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {}/>\n", num(x1), num(y1),
                        num(x2), num(y2), attributes);
  }
  void rect(double x, double y, double w, double h, std::string_view attributes,
            std::string_view tooltip = "") {
    out_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {}", num(x), num(y),
                        num(w), num(h), attributes);
    close_with_tooltip("rect", tooltip);
  }
  void circle(double x, double y, double r, std::string_view attributes, std::string_view tooltip) {
    out_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {}", num(x), num(y), num(r), attributes);
    close_with_tooltip("circle", tooltip);
  }
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view attributes,
                std::string_view tooltip) {
    std::string coordinates;
    for (const auto& [x, y] : points) {
      if (!coordinates.empty()) coordinates += ' ';
      coordinates += num(x) + "," + num(y);
    }
    out_ += fmt::format("<polyline points=\"{}\" {}", coordinates, attributes);
    close_with_tooltip("polyline", tooltip);
  }

  std::string finish() && { return std::move(out_) + "</svg>\n"; }

 private:
  void close_with_tooltip(std::string_view element, std::string_view tooltip) {
    if (tooltip.empty()) {
      out_ += "/>\n";
    } else {
      out_ += fmt::format("><title>{}</title></{}>\n", escape(tooltip), element);
    }
  }
  std::string out_;
};

// ---------------------------------------------------------------------------
// Axes

struct Axis {
  double lo = 0;
  double hi = 1;
  double step = 0.2;
  double first_tick = 0;
};

double nice_step(double span, int target_ticks, bool integer) {
  const double raw = span / target_ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  constexpr std::array<double, 4> kAny = {1, 2, 2.5, 5};
  constexpr std::array<double, 3> kWhole = {1, 2, 5};
  double step = 10 * magnitude;
  for (const double m : integer ? std::span<const double>(kWhole) : std::span<const double>(kAny))
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  return integer ? std::max(1.0, std::round(step)) : step;
}

// A value axis: bounds snapped outwards to tick steps so the data never
// touches the frame; a constant series gets a small band around it.
Axis value_axis(double lo, double hi) {
  if (!(hi > lo)) {
    const double pad = std::max(std::abs(lo) * 0.05, 0.01);
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, 5, false);
  const double snapped_lo = std::floor(lo / step + 1e-9) * step;
  return {snapped_lo, std::ceil(hi / step - 1e-9) * step, step, snapped_lo};
}

// An epoch axis: exactly the recorded range, ticks on whole numbers starting
// at the first epoch.
Axis integer_axis(double lo, double hi) {
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double step = nice_step(hi - lo, 8, true);
  return {lo, hi, step, std::ceil(lo - 1e-9)};
}

// At most a few dozen ticks, also for an axis spanning absurd values (a
// diverged run's loss near the largest double).
std::vector<double> ticks(const Axis& axis) {
  std::vector<double> values;
  if (!std::isfinite(axis.step) || !(axis.step > 0)) return values;
  for (int i = 0; i < 64; ++i) {
    const double v = axis.first_tick + i * axis.step;
    if (v > axis.hi + axis.step * 1e-6) break;
    values.push_back(std::abs(v) < axis.step * 1e-9 ? 0.0 : v);
  }
  return values;
}

int decimals_for(double step) {
  for (int d = 0; d < 6; ++d) {
    const double scaled = step * std::pow(10.0, d);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return d;
  }
  return 6;
}

std::string tick_label(double value, double step, bool percent) {
  const double scale = percent ? 100.0 : 1.0;
  return fmt::format("{:.{}f}", value * scale, decimals_for(step * scale));
}

std::string value_text(double value, bool percent) {
  if (!std::isfinite(value)) return "n/a";
  return percent ? fmt::format("{:.1f}%", 100.0 * value) : fmt::format("{:.4f}", value);
}

// Maps data coordinates into a plot rectangle (SVG y grows downwards).
struct Frame {
  double left, top, width, height;
  Axis x, y;
  double px(double v) const { return left + (v - x.lo) / (x.hi - x.lo) * width; }
  double py(double v) const { return top + height - (v - y.lo) / (y.hi - y.lo) * height; }
  double bottom() const { return top + height; }
};

void draw_y_axis(Canvas& canvas, const Frame& f, bool percent, std::string_view label) {
  for (const double v : ticks(f.y)) {
    canvas.line(f.left, f.py(v), f.left + f.width, f.py(v),
                fmt::format("stroke=\"{}\" stroke-width=\"1\"", kGrid));
    canvas.text(f.left - 8, f.py(v) + 4, tick_label(v, f.y.step, percent),
                fmt::format("text-anchor=\"end\" fill=\"{}\"", kMuted));
  }
  canvas.line(f.left, f.top, f.left, f.bottom(), fmt::format("stroke=\"{}\"", kAxis));
  canvas.rotated_text(f.left - 58, f.top + f.height / 2, -90, label,
                      fmt::format("text-anchor=\"middle\" font-size=\"{}\"", kLabelFont));
}

void draw_x_axis(Canvas& canvas, const Frame& f, std::string_view label) {
  for (const double v : ticks(f.x)) {
    canvas.line(f.px(v), f.bottom(), f.px(v), f.bottom() + 5, fmt::format("stroke=\"{}\"", kAxis));
    canvas.text(f.px(v), f.bottom() + 19, tick_label(v, f.x.step, false),
                fmt::format("text-anchor=\"middle\" fill=\"{}\"", kMuted));
  }
  canvas.line(f.left, f.bottom(), f.left + f.width, f.bottom(), fmt::format("stroke=\"{}\"", kAxis));
  canvas.text(f.left + f.width / 2, f.bottom() + 42, label,
              fmt::format("text-anchor=\"middle\" font-size=\"{}\"", kLabelFont));
}

void draw_title(Canvas& canvas, double x, std::string_view title) {
  canvas.text(x, 28, title, fmt::format("font-size=\"{}\" font-weight=\"600\"", kTitleFont));
}

// ---------------------------------------------------------------------------
// Line chart

constexpr const char* kDashes = "stroke-dasharray=\"7 5\"";

struct LegendEntry {
  std::string text;
  std::string color;
  bool dashed;
};

// One entry per series color (the folds), then the keys of the two line
// styles (train, validation).
struct Legend {
  std::vector<LegendEntry> entries;
  std::size_t color_entries = 0;
};

Legend make_legend(const LineChart& chart) {
  std::vector<LegendEntry> entries;
  bool any_solid = false;
  bool any_dashed = false;
  for (const auto& s : chart.series) {
    (s.dashed ? any_dashed : any_solid) = true;
    const bool listed = std::any_of(entries.begin(), entries.end(), [&](const LegendEntry& e) {
      return e.text == s.name && e.color == s.color;
    });
    if (!listed) entries.push_back({s.name, s.color, false});
  }
  const std::size_t color_entries = entries.size();
  if (any_solid && !chart.solid_meaning.empty()) entries.push_back({chart.solid_meaning, kMuted, false});
  if (any_dashed && !chart.dashed_meaning.empty()) entries.push_back({chart.dashed_meaning, kMuted, true});
  return {entries, color_entries};
}

constexpr double kLegendRow = 20;

double legend_width(const Legend& legend) {
  double widest = 0;
  for (const auto& e : legend.entries) widest = std::max(widest, text_width(e.text, kTickFont));
  return 30 + widest + 8;
}

void draw_legend(Canvas& canvas, double x, double y, const Legend& legend) {
  const auto color_entries = legend.color_entries;
  for (std::size_t i = 0; i < legend.entries.size(); ++i) {
    const auto& e = legend.entries[i];
    // The line-style keys sit a little apart from the per-fold colors.
    const double row_y = y + static_cast<double>(i) * kLegendRow + (i >= color_entries ? 8 : 0);
    canvas.line(x, row_y, x + 22, row_y,
                fmt::format("stroke=\"{}\" stroke-width=\"{}\" {}", e.color,
                            i < color_entries ? 3 : 2, e.dashed ? kDashes : ""));
    canvas.text(x + 30, row_y + 4, e.text);
  }
}

struct Extent {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Splits a series at its non-finite values: a diverged epoch shows as a gap,
// never as a line drawn through a value that does not exist.
std::vector<std::vector<Point>> finite_runs(const Series& s) {
  std::vector<std::vector<Point>> runs(1);
  for (const auto& p : s.points) {
    if (std::isfinite(p.x) && std::isfinite(p.y)) {
      runs.back().push_back(p);
    } else if (!runs.back().empty()) {
      runs.emplace_back();
    }
  }
  if (runs.back().empty()) runs.pop_back();
  return runs;
}

std::string series_kind(const LineChart& chart, const Series& s) {
  return s.dashed ? chart.dashed_meaning : chart.solid_meaning;
}

void draw_series(Canvas& canvas, const Frame& f, const LineChart& chart, const Series& s) {
  const auto kind = series_kind(chart, s);
  const auto label = kind.empty() ? s.name : s.name + " " + kind;
  for (const auto& run : finite_runs(s)) {
    std::vector<std::pair<double, double>> xy;
    for (const auto& p : run) xy.emplace_back(f.px(p.x), f.py(p.y));
    canvas.polyline(xy,
                    fmt::format("data-series=\"{}\" data-kind=\"{}\" fill=\"none\" stroke=\"{}\" "
                                "stroke-width=\"2\" stroke-linejoin=\"round\" {}",
                                escape(s.name), escape(kind), s.color, s.dashed ? kDashes : ""),
                    label);
    for (std::size_t i = 0; i < run.size(); ++i)
      canvas.circle(xy[i].first, xy[i].second, 3,
                    fmt::format("fill=\"{}\" stroke=\"{}\" stroke-width=\"1.5\"",
                                s.dashed ? "#ffffff" : s.color, s.color),
                    fmt::format("{}, {} {}: {}", label, chart.x_label, run[i].x,
                                value_text(run[i].y, chart.percent)));
  }
}

// ---------------------------------------------------------------------------
// Heat map colors: ColorBrewer "Blues", light for a small share of the row.

struct Rgb {
  double r, g, b;
};

constexpr std::array<Rgb, 9> kBlues = {{{247, 251, 255}, {222, 235, 247}, {198, 219, 239},
                                        {158, 202, 225}, {107, 174, 214}, {66, 146, 198},
                                        {33, 113, 181}, {8, 81, 156}, {8, 48, 107}}};

std::string blue_for(double share) {
  const double t = std::clamp(share, 0.0, 1.0) * static_cast<double>(kBlues.size() - 1);
  const auto i = std::min(static_cast<std::size_t>(t), kBlues.size() - 2);
  const double u = t - static_cast<double>(i);
  const auto mix = [&](double a, double b) { return static_cast<int>(std::lround(a + (b - a) * u)); };
  return fmt::format("#{:02x}{:02x}{:02x}", mix(kBlues[i].r, kBlues[i + 1].r),
                     mix(kBlues[i].g, kBlues[i + 1].g), mix(kBlues[i].b, kBlues[i + 1].b));
}

constexpr double kDarkCell = 0.55;  // above this share the count is printed in white
constexpr const char* kScaleCaption = "share of row";

void draw_color_scale(Canvas& canvas, double x, double top, double height) {
  constexpr int kSteps = 10;
  canvas.text(x, top - 10, kScaleCaption, fmt::format("fill=\"{}\" font-size=\"11\"", kMuted));
  for (int i = 0; i < kSteps; ++i) {
    const double share = (i + 0.5) / kSteps;
    const double y = top + height * (1.0 - static_cast<double>(i + 1) / kSteps);
    canvas.rect(x, y, 14, height / kSteps + 0.5, fmt::format("fill=\"{}\"", blue_for(share)));
  }
  canvas.rect(x, top, 14, height, fmt::format("fill=\"none\" stroke=\"{}\"", kGrid));
  for (const int percent : {0, 50, 100})
    canvas.text(x + 20, top + height * (1.0 - percent / 100.0) + 4, fmt::format("{}%", percent),
                fmt::format("fill=\"{}\" font-size=\"11\"", kMuted));
}

// ---------------------------------------------------------------------------
// Bar chart

double bar_top(const Bar& b) {
  const double error = std::isfinite(b.error) ? std::abs(b.error) : 0.0;
  return b.value + error;
}

double bar_bottom(const Bar& b) {
  const double error = std::isfinite(b.error) ? std::abs(b.error) : 0.0;
  return b.value - error;
}

std::string bar_text(const Bar& b, bool percent) {
  const double scale = percent ? 100.0 : 1.0;
  const int digits = percent ? 1 : 3;
  if (!std::isfinite(b.error)) return fmt::format("{:.{}f}", b.value * scale, digits);
  return fmt::format("{:.{}f} ± {:.{}f}", b.value * scale, digits, std::abs(b.error) * scale, digits);
}

void draw_bar(Canvas& canvas, const Frame& f, const BarChart& chart, std::size_t i, double slot) {
  const auto& b = chart.bars[i];
  const double center = f.left + (static_cast<double>(i) + 0.5) * slot;
  if (!std::isfinite(b.value)) {
    canvas.text(center, f.py(0) - 6, "no value",
                fmt::format("text-anchor=\"middle\" fill=\"{}\" font-size=\"11\"", kMuted));
    return;
  }
  const double width = slot * 0.6;
  const double y0 = f.py(0);
  const double y1 = f.py(b.value);
  canvas.rect(center - width / 2, std::min(y0, y1), width, std::abs(y1 - y0),
              fmt::format("data-label=\"{}\" data-value=\"{}\" data-error=\"{}\" fill=\"{}\" "
                          "fill-opacity=\"0.85\"",
                          escape(b.label), b.value, b.error, palette_color(i)),
              fmt::format("{}: {}", b.label, bar_text(b, chart.percent)));
  if (std::isfinite(b.error) && b.error != 0) {
    const auto stroke = fmt::format("stroke=\"{}\" stroke-width=\"1.5\"", kInk);
    canvas.line(center, f.py(bar_bottom(b)), center, f.py(bar_top(b)), stroke);
    canvas.line(center - 7, f.py(bar_bottom(b)), center + 7, f.py(bar_bottom(b)), stroke);
    canvas.line(center - 7, f.py(bar_top(b)), center + 7, f.py(bar_top(b)), stroke);
  }
  canvas.text(center, f.py(std::max(bar_top(b), 0.0)) - 7, bar_text(b, chart.percent),
              "text-anchor=\"middle\" font-size=\"11\"");
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string palette_color(std::size_t index) {
  // Okabe-Ito, without its yellow (too faint on white), then Tableau's extras.
  static constexpr std::array<const char*, 10> kPalette = {
      "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00",
      "#56b4e9", "#7f4f24", "#4d4d4d", "#8c6bb1", "#b2182b"};
  return kPalette[index % kPalette.size()];
}

std::string line_chart(const LineChart& chart) {
  Extent xs, ys;
  for (const auto& s : chart.series)
    for (const auto& p : s.points)
      if (std::isfinite(p.x) && std::isfinite(p.y)) {
        xs.add(p.x);
        ys.add(p.y);
      }
  const auto legend = make_legend(chart);

  Frame f{76, 52, 500, 280, {}, {}};
  f.x = xs.empty() ? integer_axis(1, 1) : integer_axis(xs.lo, xs.hi);
  f.y = ys.empty() ? value_axis(0, 1) : value_axis(ys.lo, ys.hi);
  const double legend_x = f.left + f.width + 24;
  const double width = legend_x + legend_width(legend) + 12;
  const double height =
      std::max(f.bottom() + 60, f.top + static_cast<double>(legend.entries.size()) * kLegendRow + 28);

  Canvas canvas(width, height, chart.title);
  draw_title(canvas, f.left, chart.title);
  draw_y_axis(canvas, f, chart.percent, chart.y_label);
  draw_x_axis(canvas, f, chart.x_label);
  if (ys.empty())
    canvas.text(f.left + f.width / 2, f.top + f.height / 2, "no values recorded",
                fmt::format("text-anchor=\"middle\" fill=\"{}\"", kMuted));
  for (const auto& s : chart.series) draw_series(canvas, f, chart, s);
  draw_legend(canvas, legend_x, f.top + 8, legend);
  return std::move(canvas).finish();
}

std::string heat_map(const HeatMap& map) {
  const std::size_t C = map.labels.size();
  LYRE_CHECK(C > 0 && map.counts.size() == C * C, "heat map of {} labels with {} counts", C,
             map.counts.size());
  const double cell = std::clamp(520.0 / static_cast<double>(C), 26.0, 60.0);
  const double count_font = std::clamp(cell * 0.28, 9.0, 14.0);
  double widest = 0;
  for (const auto& l : map.labels) widest = std::max(widest, text_width(l, kTickFont));
  const double left = 46 + widest;
  const double top = 62;
  const double grid = cell * static_cast<double>(C);
  const double totals_x = left + grid + 10;
  const double scale_x = totals_x + 70;
  const double labels_bottom = top + grid + 8 + widest * 0.71;
  const double width = std::max(scale_x + std::max(60.0, text_width(kScaleCaption, 11) + 8),
                                16 + text_width(map.title, kTitleFont) + 16);
  const double height = labels_bottom + 32;

  Canvas canvas(width, height, map.title);
  canvas.text(16, 28, map.title, fmt::format("font-size=\"{}\" font-weight=\"600\"", kTitleFont));
  canvas.text(totals_x, top - 10, "songs", fmt::format("fill=\"{}\" font-size=\"11\"", kMuted));
  for (std::size_t r = 0; r < C; ++r) {
    const double y = top + static_cast<double>(r) * cell;
    std::uint64_t total = 0;
    for (std::size_t c = 0; c < C; ++c) total += map.counts[r * C + c];
    canvas.text(left - 8, y + cell / 2 + 4, map.labels[r], "text-anchor=\"end\"");
    canvas.text(totals_x, y + cell / 2 + 4, fmt::format("{}", total),
                fmt::format("fill=\"{}\" font-size=\"11\"", kMuted));
    for (std::size_t c = 0; c < C; ++c) {
      const double x = left + static_cast<double>(c) * cell;
      const auto count = map.counts[r * C + c];
      const double share = total > 0 ? static_cast<double>(count) / static_cast<double>(total) : 0.0;
      canvas.rect(x, y, cell, cell,
                  fmt::format("class=\"cell\" data-row=\"{}\" data-column=\"{}\" data-count=\"{}\" "
                              "fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1\"",
                              r, c, count, blue_for(share)),
                  fmt::format("{} {} → {} {}: {} songs ({:.1f}% of the row)", map.row_axis,
                              map.labels[r], map.column_axis, map.labels[c], count, 100.0 * share));
      const auto ink = share > kDarkCell ? "#ffffff" : kInk;
      const bool roomy = cell >= 44;
      canvas.text(x + cell / 2, y + cell / 2 + (roomy ? -1 : count_font * 0.35), fmt::format("{}", count),
                  fmt::format("text-anchor=\"middle\" fill=\"{}\" font-size=\"{}\" {}", ink,
                              num(count_font), r == c ? "font-weight=\"700\"" : ""));
      if (roomy)
        canvas.text(x + cell / 2, y + cell / 2 + 14, fmt::format("{:.0f}%", 100.0 * share),
                    fmt::format("text-anchor=\"middle\" fill=\"{}\" font-size=\"10\" "
                                "fill-opacity=\"0.8\"",
                                ink));
    }
  }
  for (std::size_t c = 0; c < C; ++c) {
    const double x = left + (static_cast<double>(c) + 0.5) * cell;
    canvas.rotated_text(x + 4, top + grid + 12, -45, map.labels[c], "text-anchor=\"end\"");
  }
  canvas.rotated_text(18, top + grid / 2, -90, map.row_axis,
                      fmt::format("text-anchor=\"middle\" font-size=\"{}\"", kLabelFont));
  canvas.text(left + grid / 2, labels_bottom + 16, map.column_axis,
              fmt::format("text-anchor=\"middle\" font-size=\"{}\"", kLabelFont));
  draw_color_scale(canvas, scale_x, top, std::min(grid, 200.0));
  return std::move(canvas).finish();
}

std::string bar_chart(const BarChart& chart) {
  LYRE_CHECK(!chart.bars.empty(), "bar chart '{}' without bars", chart.title);
  Extent ys;
  ys.add(0);
  double widest = 0;
  for (const auto& b : chart.bars) {
    if (std::isfinite(b.value)) {
      ys.add(bar_top(b));
      ys.add(bar_bottom(b));
    }
    widest = std::max(widest, text_width(b.label, kTickFont));
  }
  const double n = static_cast<double>(chart.bars.size());
  const double slot = std::clamp(520.0 / n, 64.0, 140.0);
  const bool slanted = widest > slot - 10;
  // A slanted label reaches left of its bar; none may leave the page.
  double left = 76;
  for (std::size_t i = 0; slanted && i < chart.bars.size(); ++i)
    left = std::max(left, 0.87 * text_width(chart.bars[i].label, kTickFont) -
                              (static_cast<double>(i) + 0.5) * slot + 16);
  Frame f{left, 52, slot * n, 260, {}, {}};
  f.y = value_axis(ys.lo, ys.hi * 1.08);  // head room for the value labels
  const double labels_bottom = f.bottom() + (slanted ? 14 + widest * 0.5 : 24);
  const double width = f.left + f.width + 24;
  const double height = labels_bottom + 20;

  Canvas canvas(width, height, chart.title);
  draw_title(canvas, f.left, chart.title);
  draw_y_axis(canvas, f, chart.percent, chart.y_label);
  canvas.line(f.left, f.py(0), f.left + f.width, f.py(0), fmt::format("stroke=\"{}\"", kAxis));
  for (std::size_t i = 0; i < chart.bars.size(); ++i) {
    draw_bar(canvas, f, chart, i, slot);
    const double center = f.left + (static_cast<double>(i) + 0.5) * slot;
    if (slanted) {
      canvas.rotated_text(center + 4, f.bottom() + 16, -30, chart.bars[i].label, "text-anchor=\"end\"");
    } else {
      canvas.text(center, f.bottom() + 18, chart.bars[i].label, "text-anchor=\"middle\"");
    }
  }
  return std::move(canvas).finish();
}

}  // namespace lyre::svg
