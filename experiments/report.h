// report.html: a self-contained page (inline SVG plots, PNG grids embedded as base64) built
// section by section and written atomically.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <map>
#include <vector>

#include "experiments/run_folder.h"

namespace difflab::experiments {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

// One series per metric name (x = step), from metrics.csv rows.
std::map<std::string, Series> metric_series(const std::vector<MetricRow>& rows);

struct PlotOptions {
  std::string title, xlabel, ylabel;
  bool logx = false, logy = false;
  int width = 640, height = 320;
};

// An SVG line plot (axes with ticks, one polyline per series, a legend).
std::string svg_line_plot(const std::vector<Series>& series, const PlotOptions& opt);
std::string base64_encode(const std::string& bytes);
std::string html_escape(const std::string& s);
// Shortest round-trip-ish text for a number in names and tables ("1", "0.5", "3e-05").
std::string format_number(double v);

class Report {
 public:
  explicit Report(std::string title);
  void heading(const std::string& text);
  void paragraph(const std::string& text);
  // A paragraph holding one link (e.g. to another run's report.html).
  void link(const std::string& text, const std::string& href);
  void table(const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows);
  void plot(const std::vector<Series>& series, const PlotOptions& opt);
  void image(const std::string& caption, const std::string& png_bytes);
  void config(const nlohmann::json& cfg);
  std::string html() const;
  void write(const std::string& path) const;

 private:
  std::string title_;
  std::string body_;
};

}  // namespace difflab::experiments
